"""Parallel loops on the CPU through libgomp.

A ``parallel`` loop is outlined: its body becomes a *chunk* function running iterations
``[lo, hi)``, called from a *launch* function that libgomp runs on every worker thread
(``GOMP_parallel``).  The launch function reads the captured values from a closure struct
on the caller's stack and claims chunks of the iterations (a few per thread, sized from
``omp_get_num_threads``) from an atomic counter there until none are left.  Buffer pointers reach the chunk function
as ``noalias`` arguments, so its code is optimised as well as the caller's.

Parallel loops nested inside a parallel region run serially in their thread; sibling
parallel loops each get their own region.

Heap buffers allocated in the loop's body (constant sizes above the stack limit) are
allocated once per thread by the launch function and reused by every iteration the thread
runs, instead of one ``aligned_alloc``/``free`` per iteration: large blocks come from
``mmap``, and a fresh mapping per iteration costs page faults on every first touch.
"""
from __future__ import annotations

import llvmlite.ir as ir

from ...tir import stmt as S
from ...tir.functor import Visitor
from .buffers import ALLOCATION_ALIGNMENT, CTX_THREADS, BufferBinding, constant_bytes, on_heap
from .types import I32, I64, PTR, VOID

#: chunks of a parallel loop's iterations per thread, claimed dynamically
CHUNKS_PER_THREAD = 4


class _Uses(Visitor):
    """Variables and buffers a statement refers to, in order of first use."""

    def __init__(self):
        self.vars: dict = {}
        self.buffers: dict = {}

    def visit_Var(self, node):
        self.vars[node] = None

    def visit_BufferLoad(self, node):
        self.buffers[node.buffer] = None
        self.generic_visit(node)

    def visit_BufferStore(self, node):
        self.buffers[node.buffer] = None
        self.generic_visit(node)

    def visit_Allocate(self, node):
        for extent in node.buffer.shape + node.buffer.strides:
            self.visit(extent)
        self.generic_visit(node)


class _HeapAllocations(Visitor):
    """``(buffer, bytes)`` of each allocation of constant size too large for the stack."""

    def __init__(self):
        self.found: list = []

    def visit_Allocate(self, node):
        size = constant_bytes(node.buffer)
        if size is not None and on_heap(node.buffer):
            self.found.append((node.buffer, size))
        self.generic_visit(node)


class ParallelCodeGen:
    """Outlining of parallel loops (mixed into :class:`CodeGenLLVM`)."""

    def _runtime_function(self, name: str, ret, args) -> ir.Function:
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(ret, args), name)
        return fn

    def emit_parallel(self, node: S.For) -> None:
        b_ = self.builder
        loop_type = self.loop_type(node.loop_var)
        begin = self.convert_index(self.visit(node.min), node.min.dtype, loop_type)
        extent = self.convert_index(self.visit(node.extent), node.extent.dtype, loop_type)

        uses = _Uses()
        uses.visit(node.body)
        captured_vars = [v for v in uses.vars if v in self.var_values]
        captured_buffers = [buf for buf in uses.buffers if buf in self.buffers]
        # every non-constant register the body needs travels through the closure
        registers: dict[int, ir.Value] = {}

        def need(value):
            if not isinstance(value, ir.Constant):
                registers.setdefault(id(value), value)
        need(self.ctx_pointer)
        for v in captured_vars:
            need(self.var_values[v])
        for buf in captured_buffers:
            binding = self.buffers[buf]
            for value in [binding.pointer, *binding.shape, *binding.strides]:
                need(value)
        captured = list(registers.values())
        pointer_attrs = {id(self.buffers[buf].pointer): self.buffers[buf]
                         for buf in captured_buffers}

        heap = _HeapAllocations()
        heap.visit(node.body)
        chunk = self._emit_chunk_function(node, loop_type, captured, pointer_attrs,
                                          captured_vars, captured_buffers,
                                          [buf for buf, _ in heap.found])
        launch = self._emit_launch_function(chunk, loop_type, captured, heap.found,
                                            captured.index(self.ctx_pointer))

        closure_type = ir.LiteralStructType([loop_type, loop_type, I64] +
                                            [v.type for v in captured])
        closure = self.entry_alloca(closure_type, 8)
        for slot, value in enumerate([begin, extent, ir.Constant(I64, 0)] + captured):
            b_.store(value, b_.gep(closure, [ir.Constant(I32, 0), ir.Constant(I32, slot)],
                                   source_etype=closure_type))
        threads = b_.load(b_.gep(self.ctx_pointer, [ir.Constant(I64, CTX_THREADS)],
                                 source_etype=I64), typ=I64)
        wide_extent = extent if loop_type == I64 else b_.sext(extent, I64)
        threads = b_.select(b_.icmp_signed("<", wide_extent, threads), wide_extent, threads)
        many = b_.icmp_signed(">", threads, ir.Constant(I64, 1))
        with b_.if_else(many) as (in_parallel, serial):
            with in_parallel:
                gomp = self._runtime_function("GOMP_parallel", VOID, [PTR, PTR, I32, I32])
                b_.call(gomp, [launch, closure, b_.trunc(threads, I32), ir.Constant(I32, 0)])
            with serial:
                b_.call(launch, [closure])

    def _emit_launch_function(self, chunk: ir.Function, loop_type, captured, heap: list,
                              ctx_slot: int) -> ir.Function:
        """The function every thread of the team runs: it allocates the thread's copy of
        each heap buffer of the body (``heap``: ``(buffer, bytes)``), then claims chunks of
        the iterations from a shared counter in the closure until none are left.

        Claiming (rather than a fixed share per thread) keeps a loaded machine from
        stalling the loop: a thread the OS runs late finds the work already done by the
        others instead of starting its share only then."""
        fn = ir.Function(self.module, ir.FunctionType(VOID, [PTR]),
                         self.unique_name(f"{self.func_name}_parallel_launch"))
        fn.linkage = "internal"
        self.mark_function(fn)
        b_ = ir.IRBuilder(fn.append_basic_block("entry"))
        closure = fn.args[0]
        closure_type = ir.LiteralStructType([loop_type, loop_type, I64] +
                                            [v.type for v in captured])
        fields = [b_.load(b_.gep(closure, [ir.Constant(I32, 0), ir.Constant(I32, slot)],
                                 source_etype=closure_type), typ=ty)
                  for slot, ty in enumerate(closure_type.elements) if slot != 2]
        counter = b_.gep(closure, [ir.Constant(I32, 0), ir.Constant(I32, 2)],
                         source_etype=closure_type)
        begin, extent = fields[0], fields[1]
        pointers = [self.emit_heap_allocation(b_, ir.Constant(I64, size))
                    for _, size in heap]
        done = fn.append_basic_block("done")
        if heap:
            start = fn.append_basic_block("start")
            out_of_memory = fn.append_basic_block("out_of_memory")
            failed = ir.Constant(ir.IntType(1), 0)
            for pointer in pointers:
                failed = b_.or_(failed, b_.icmp_unsigned("==", b_.ptrtoint(pointer, I64),
                                                         ir.Constant(I64, 0)))
            b_.cbranch(failed, out_of_memory, start)
            b_.position_at_end(out_of_memory)
            for (buf, size), pointer in zip(heap, pointers):
                missing = b_.icmp_unsigned("==", b_.ptrtoint(pointer, I64),
                                           ir.Constant(I64, 0))
                with b_.if_then(missing):
                    self.emit_no_memory_error(b_, fields[2 + ctx_slot],
                                              self.signature.add_internal_buffer(buf.name),
                                              ir.Constant(I64, size))
            b_.branch(done)
            b_.position_at_end(start)
        count = b_.call(self._runtime_function("omp_get_num_threads", I32, []), [])
        if loop_type != I32:
            count = b_.sext(count, loop_type)
        one = ir.Constant(loop_type, 1)
        # a few chunks per thread: small enough to even out late threads, large enough
        # that claiming one (an atomic add) costs nothing next to running it
        pieces = b_.mul(count, ir.Constant(loop_type, CHUNKS_PER_THREAD))
        pieces = b_.select(b_.icmp_signed(">", count, one), pieces, one)
        chunk_size = b_.sdiv(b_.sub(b_.add(extent, pieces), one), pieces)
        claim = fn.append_basic_block("claim")
        run = fn.append_basic_block("run")
        b_.branch(claim)
        b_.position_at_end(claim)
        claimed = b_.atomic_rmw("add", counter, ir.Constant(I64, 1), "monotonic")
        # in 64 bits: late claims run past the extent of a 32-bit loop
        wide = (lambda v: v) if loop_type == I64 else (lambda v: b_.sext(v, I64))
        lo = b_.mul(claimed, wide(chunk_size))
        b_.cbranch(b_.icmp_signed("<", lo, wide(extent)), run, done)
        b_.position_at_end(run)
        narrow = (lambda v: v) if loop_type == I64 else (lambda v: b_.trunc(v, loop_type))
        lo = narrow(lo)
        hi = b_.add(lo, chunk_size)
        hi = b_.select(b_.icmp_signed("<", hi, extent), hi, extent)
        b_.call(chunk, [b_.add(begin, lo), b_.add(begin, hi)] + fields[2:] + pointers)
        b_.branch(claim)
        b_.position_at_end(done)
        for pointer in pointers:   # free(NULL) does nothing
            self.emit_heap_free(b_, pointer)
        b_.ret_void()
        return fn

    def _emit_chunk_function(self, node: S.For, loop_type, captured, pointer_attrs,
                             captured_vars, captured_buffers, heap_buffers) -> ir.Function:
        fn_type = ir.FunctionType(VOID, [loop_type, loop_type] + [v.type for v in captured] +
                                  [PTR] * len(heap_buffers))
        fn = ir.Function(self.module, fn_type,
                         self.unique_name(f"{self.func_name}_parallel_body"))
        fn.linkage = "internal"
        self.mark_function(fn)
        remap = {}
        heap_args = fn.args[2 + len(captured):]
        for arg in heap_args:
            arg.add_attribute("noalias")
            arg.attributes.align = ALLOCATION_ALIGNMENT
        for value, arg in zip(captured, fn.args[2:]):
            remap[id(value)] = arg
            binding = pointer_attrs.get(id(value))
            if binding is not None:
                arg.add_attribute("noalias")
                arg.attributes.align = binding.alignment

        def moved(value):
            return value if isinstance(value, ir.Constant) else remap[id(value)]

        saved = self.save_function_state()
        try:
            self.begin_function(fn)
            self.in_parallel = True
            self.hoisted_buffers = dict(zip(heap_buffers, heap_args))
            self.ctx_pointer = moved(saved["ctx_pointer"])
            self.var_values = {v: moved(saved["var_values"][v]) for v in captured_vars}
            self.buffers = {}
            for buf in captured_buffers:
                old: BufferBinding = saved["buffers"][buf]
                self.buffers[buf] = BufferBinding(
                    old.buffer, moved(old.pointer), [moved(x) for x in old.shape],
                    [moved(x) for x in old.strides], old.const_strides, old.alignment,
                    old.buffer_id)
            lo, hi = fn.args[0], fn.args[1]
            self.emit_loop(node, lo, hi)
            if any(buf in self.streaming_buffers for buf in captured_buffers):
                # before the thread reports its chunk done
                self.emit_streaming_fence()
            self.builder.ret_void()
        finally:
            self.restore_function_state(saved)
        return fn
