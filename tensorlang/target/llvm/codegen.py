"""LLVM code generation of a lowered PrimFunc: the entry function, statements, loops and
allocations.  Expressions, buffer accesses and parallel loops live in the mixins this
class combines.

The generated entry point has a fixed C signature, whatever the PrimFunc's parameters::

    int32 name(T0* noalias A, T1* noalias B, ..., int64* scalars, int64* context)

``scalars`` holds the scalar parameters and symbolic shape dimensions (the slots of the
:class:`~tensorlang.target.llvm.signature.Signature`), ``context`` the thread count in and
the status and error details out; the return value is the status (0: success).
"""
from __future__ import annotations

import llvmlite.ir as ir

from ...errors import BuildError, InternalError
from ...tir import stmt as S
from ...tir.analysis import uses_var
from ...tir.arith import Analyzer
from ...tir.datatype import DataType
from ...tir.expr import IntImm, Range, Var
from ...tir.functor import Visitor
from ...tir.naming import NameSupply
from ...tir.packed import packed_call
from .codegen_expr import ExprCodeGen
from .buffers import (ALLOCATION_ALIGNMENT, CTX_STATUS, STACK_ALLOCATION_LIMIT,
                      STATUS_NO_MEMORY, BufferBinding, constant_bytes, known_multiple, on_heap)
from .codegen_memory import MemoryCodeGen, streaming_buffers
from .codegen_packed import PackedCallCodeGen
from .parallel import ParallelCodeGen
from .signature import Signature, make_signature
from .types import F64, I1, I32, I64, PTR, const_of, storage_type, value_type


class CodeGenLLVM(ExprCodeGen, MemoryCodeGen, ParallelCodeGen, PackedCallCodeGen):
    """Translate one PrimFunc into an ``llvmlite.ir.Module``.

    >>> module, signature = CodeGenLLVM(target, bounds_check=False).generate(func)
    """

    def __init__(self, target, bounds_check: bool = False):
        self.target = target
        self.bounds_check = bounds_check
        self.module: ir.Module | None = None
        self.names = NameSupply()
        self.in_parallel = False
        #: heap buffers of a parallel loop's body, allocated once per thread by the
        #: loop's launch function (buffer -> pointer argument of the chunk function)
        self.hoisted_buffers: dict = {}
        self.mask = None
        self.var_multiples: dict = {}
        #: Var -> Range of each loop around the code being generated (proves that the
        #: covering loads of strided vector accesses stay inside their buffer)
        self.loop_ranges: dict = {}
        self.range_analyzer = Analyzer()
        self.streaming_buffers: set = set()

    # -- entry -----------------------------------------------------------------------
    def generate(self, func: S.PrimFunc) -> tuple[ir.Module, Signature]:
        signature, slots = make_signature(func)
        self.signature = signature
        self.func_name = signature.symbol
        self.module = ir.Module(name=func.name)
        self.module.triple = self.target.triple
        buffers = func.buffers
        arg_types = [PTR] * len(buffers) + [PTR, PTR]
        fn = ir.Function(self.module, ir.FunctionType(I32, arg_types), signature.symbol)
        self.mark_function(fn)
        self.names.reserve(signature.symbol)
        for buf, arg in zip(buffers, fn.args):
            arg.name = buf.name
            arg.add_attribute("noalias")
            # numpy guarantees only the element's own alignment for arrays it allocates
            arg.attributes.align = buf.dtype.bytes
        scalars, ctx = fn.args[len(buffers)], fn.args[len(buffers) + 1]
        scalars.name, ctx.name = "scalars", "context"

        self.begin_function(fn)
        self.ctx_pointer = ctx
        self.var_values = {}
        self.buffers = {}
        for var, slot in slots.items():
            self.var_values[var] = self._load_scalar(scalars, slot, var.dtype)
        for buffer_id, (buf, arg) in enumerate(zip(buffers, fn.args)):
            self.buffers[buf] = self._bind_buffer(buf, arg, buf.dtype.bytes, buffer_id)
        self.streaming_buffers = streaming_buffers(buffers, func.body)
        self.visit(func.body)
        if self.streaming_buffers:
            self.emit_streaming_fence()
        status = self.builder.load(self.builder.gep(ctx, [ir.Constant(I64, CTX_STATUS)],
                                                    source_etype=I64), typ=I64)
        self.builder.ret(self.builder.trunc(status, I32))
        return self.module, signature

    def _load_scalar(self, scalars, slot: int, dtype: DataType):
        b_ = self.builder
        raw = b_.load(b_.gep(scalars, [ir.Constant(I64, slot)], source_etype=I64), typ=I64)
        if dtype.is_float:
            # float scalars travel as the bits of a double
            return self.convert(b_.bitcast(raw, F64), DataType("float", 64), dtype)
        if dtype.is_bool:
            return b_.icmp_unsigned("!=", raw, ir.Constant(I64, 0))
        return raw if dtype.bits == 64 else b_.trunc(raw, value_type(dtype))

    def _bind_buffer(self, buf, pointer, alignment: int, buffer_id: int) -> BufferBinding:
        shape = [self.convert_index(self.visit(s), s.dtype, I64) for s in buf.shape]
        if buf.strides:
            strides = [self.convert_index(self.visit(s), s.dtype, I64) for s in buf.strides]
            const_strides = [s.value if isinstance(s, IntImm) else None for s in buf.strides]
        else:
            strides, const_strides = [], []
            running, const_running = ir.Constant(I64, 1), 1
            for extent, dim in zip(reversed(shape), reversed(buf.shape)):
                strides.append(running)
                const_strides.append(const_running)
                const_running = const_running * dim.value if (
                    const_running is not None and isinstance(dim, IntImm)) else None
                running = ir.Constant(I64, const_running) if const_running is not None else \
                    self.builder.mul(running, extent, flags=("nsw",))
            strides.reverse()
            const_strides.reverse()
        return BufferBinding(buf, pointer, shape, strides, const_strides, alignment, buffer_id)

    # -- function state (saved while a parallel body is outlined) --------------------
    def begin_function(self, fn: ir.Function) -> None:
        self.function = fn
        entry = fn.append_basic_block("entry")
        self.alloca_builder = ir.IRBuilder(entry)
        body = fn.append_basic_block("body")
        self.alloca_builder.branch(body)
        self.alloca_builder.position_at_start(entry)
        self.builder = ir.IRBuilder(body)

    def save_function_state(self) -> dict:
        return {key: getattr(self, key) for key in (
            "function", "builder", "alloca_builder", "ctx_pointer", "var_values", "buffers",
            "in_parallel", "hoisted_buffers", "mask")}

    def restore_function_state(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)

    def entry_alloca(self, ty: ir.Type, alignment: int):
        """Stack memory allocated once per call of the current function."""
        slot = self.alloca_builder.alloca(ty)
        slot.align = alignment
        slot.type = PTR  # opaque pointers: llvmlite would otherwise type-check pointees
        return slot

    def emit_streaming_fence(self) -> None:
        """Order this thread's non-temporal stores (weakly ordered) before what follows."""
        if self.target.triple.startswith(("x86_64", "i686", "i386")):
            self.builder.call(self._runtime_function("llvm.x86.sse.sfence", ir.VoidType(), []),
                              [])
        else:
            self.builder.fence("seq_cst")

    def unique_name(self, base: str) -> str:
        return self.names.fresh(base)

    def mark_function(self, fn: ir.Function) -> None:
        fn.attributes.add("nounwind")

    def loop_type(self, var: Var) -> ir.Type:
        return value_type(var.dtype)

    def convert_index(self, value, dtype: DataType, ty: ir.Type):
        if value.type == ty:
            return value
        if value.type.width > ty.width:
            return self.builder.trunc(value, ty)
        return (self.builder.sext if dtype.is_int else self.builder.zext)(value, ty)

    # -- statements ------------------------------------------------------------------
    def generic_visit(self, node):
        raise InternalError(f"the llvm code generator has no rule for {type(node).__name__}: "
                            f"{node}")

    def visit_SeqStmt(self, node: S.SeqStmt):
        for stmt in node.seq:
            self.visit(stmt)

    def visit_Evaluate(self, node: S.Evaluate):
        if packed_call(node.value) is not None:
            self.emit_packed_call(node.value)
        elif not isinstance(node.value, IntImm):
            self.visit(node.value)

    def visit_AttrStmt(self, node: S.AttrStmt):
        if node.key == "thread_extent":
            raise BuildError(f"the function uses the GPU thread index '{node.node}'; build "
                             f"for target \"cuda\", or remove the bind from the schedule")
        self.visit(node.body)

    def visit_LetStmt(self, node: S.LetStmt):
        self.var_values[node.var] = self.visit(node.value)
        if node.var.dtype.is_integer:
            self.var_multiples[node.var] = known_multiple(node.value, self.var_multiples)
        self.visit(node.body)
        del self.var_values[node.var]

    def visit_IfThenElse(self, node: S.IfThenElse):
        if node.condition.dtype.lanes != 1:
            raise InternalError(f"if-statement with the vector condition '{node.condition}'")
        cond = self.truth(self.visit(node.condition), node.condition.dtype)
        if node.else_case is None:
            with self.builder.if_then(cond):
                self.visit(node.then_case)
            return
        with self.builder.if_else(cond) as (then_case, else_case):
            with then_case:
                self.visit(node.then_case)
            with else_case:
                self.visit(node.else_case)

    def visit_For(self, node: S.For):
        self.loop_ranges[node.loop_var] = Range(node.min, node.extent)
        try:
            self._visit_for(node)
        finally:
            del self.loop_ranges[node.loop_var]

    def _visit_for(self, node: S.For):
        if node.kind == S.ForKind.THREAD_BINDING:
            raise BuildError(
                f"loop '{node.loop_var.name}' is bound to the GPU thread index "
                f"'{node.thread_tag}', which the llvm target cannot run; build for target "
                f"\"cuda\", or remove the bind of '{node.loop_var.name}' from the schedule")
        if node.kind == S.ForKind.PARALLEL and not self.in_parallel:
            self.emit_parallel(node)
            return
        ty = self.loop_type(node.loop_var)
        begin = self.convert_index(self.visit(node.min), node.min.dtype, ty)
        if isinstance(node.extent, IntImm) and node.extent.value == 1:
            self.var_values[node.loop_var] = begin
            self.visit(node.body)
            del self.var_values[node.loop_var]
            return
        extent = self.convert_index(self.visit(node.extent), node.extent.dtype, ty)
        self.emit_loop(node, begin, self.builder.add(begin, extent, flags=("nsw",)),
                       keep_rolled=node.kind == S.ForKind.SERIAL and _walks_rows(node))

    def emit_loop(self, node: S.For, begin, end, keep_rolled: bool = False) -> None:
        """``for loop_var in [begin, end): body`` with the loop metadata of its kind;
        ``keep_rolled`` forbids LLVM to unroll the loop before its vectorizer sees it."""
        b_ = self.builder
        name = node.loop_var.name
        preheader = b_.block
        header = b_.append_basic_block(f"for.{name}")
        body = b_.append_basic_block(f"for.{name}.body")
        exit_block = b_.append_basic_block(f"for.{name}.end")
        b_.branch(header)
        b_.position_at_end(header)
        index = b_.phi(begin.type, name=name)
        index.add_incoming(begin, preheader)
        b_.cbranch(b_.icmp_signed("<", index, end), body, exit_block)
        b_.position_at_end(body)
        self.var_values[node.loop_var] = index
        self.visit(node.body)
        del self.var_values[node.loop_var]
        step = b_.add(index, ir.Constant(begin.type, 1), flags=("nsw",))
        index.add_incoming(step, b_.block)
        latch = b_.branch(header)
        metadata = self._loop_metadata("keep_rolled" if keep_rolled else node.kind)
        if metadata is not None:
            latch.set_metadata("llvm.loop", metadata)
        b_.position_at_end(exit_block)

    def _loop_metadata(self, kind: str):
        """A self-referential loop id asking LLVM to unroll or vectorize the loop."""
        if kind == S.ForKind.UNROLLED:
            properties = [self.module.add_metadata(["llvm.loop.unroll.full"])]
        elif kind == S.ForKind.VECTORIZED:
            properties = [self.module.add_metadata(["llvm.loop.vectorize.enable",
                                                    ir.Constant(I1, 1)])]
        elif kind == "keep_rolled":
            properties = [self.module.add_metadata(["llvm.loop.unroll.disable"])]
        else:
            return None
        loop_id = self.module.add_metadata([f"loop id {len(self.module.metadata)}"])
        loop_id.operands = (loop_id, *properties)
        return loop_id

    def visit_Allocate(self, node: S.Allocate):
        buf = node.buffer
        b_ = self.builder
        storage = storage_type(buf.dtype)
        buffer_id = self.signature.add_internal_buffer(buf.name)
        hoisted = self.hoisted_buffers.get(buf)
        if hoisted is not None:
            # allocated by the parallel loop's launch function, once per thread
            self.buffers[buf] = self._bind_buffer(buf, hoisted, ALLOCATION_ALIGNMENT,
                                                  buffer_id)
            self.visit(node.body)
            del self.buffers[buf]
            return
        if not on_heap(buf):
            count = constant_bytes(buf) // buf.dtype.bytes
            pointer = self.entry_alloca(ir.ArrayType(storage, max(count, 1)),
                                        ALLOCATION_ALIGNMENT)
            self.buffers[buf] = self._bind_buffer(buf, pointer, ALLOCATION_ALIGNMENT,
                                                  buffer_id)
            self.visit(node.body)
            del self.buffers[buf]
            return
        # heap memory, freed when the allocation's scope ends
        binding = self._bind_buffer(buf, None, ALLOCATION_ALIGNMENT, buffer_id)
        count = ir.Constant(I64, 1)
        for extent, stride in zip(binding.shape, binding.strides):
            count = b_.add(count, b_.mul(b_.sub(extent, ir.Constant(I64, 1)), stride))
        size = b_.mul(count, ir.Constant(I64, buf.dtype.bytes))
        pointer = self.emit_heap_allocation(b_, size)
        binding.pointer = pointer
        failed = b_.icmp_unsigned("==", b_.ptrtoint(pointer, I64), ir.Constant(I64, 0))
        with b_.if_else(failed) as (on_failure, on_success):
            with on_failure:
                self.emit_no_memory_error(b_, self.ctx_pointer, buffer_id, size)
            with on_success:
                self.buffers[buf] = binding
                self.visit(node.body)
                del self.buffers[buf]
                self.emit_heap_free(b_, pointer)

    def emit_heap_allocation(self, b_: ir.IRBuilder, size: ir.Value) -> ir.Value:
        """``aligned_alloc`` of ``size`` bytes (rounded up to the alignment, as it asks);
        null where the system has no memory."""
        align = ir.Constant(I64, ALLOCATION_ALIGNMENT)
        size = b_.and_(b_.add(size, ir.Constant(I64, ALLOCATION_ALIGNMENT - 1)),
                       ir.Constant(I64, -ALLOCATION_ALIGNMENT))
        malloc = self._runtime_function("aligned_alloc", PTR, [I64, I64])
        return b_.call(malloc, [align, size])

    def emit_heap_free(self, b_: ir.IRBuilder, pointer: ir.Value) -> None:
        b_.call(self._runtime_function("free", ir.VoidType(), [PTR]), [pointer])

    def emit_no_memory_error(self, b_: ir.IRBuilder, ctx_pointer, buffer_id: int,
                             size: ir.Value) -> None:
        b_.call(self._record_error_function(), [
            ctx_pointer, ir.Constant(I64, STATUS_NO_MEMORY), ir.Constant(I64, buffer_id),
            ir.Constant(I64, 0), size, ir.Constant(I64, 0)])


class _RowWalkFinder(Visitor):
    """Whether a loop body is a leaf (no inner loop) that stores along the last
    dimension of a buffer with the loop variable as its only varying index."""

    def __init__(self, loop_var: Var):
        self.loop_var = loop_var
        self.has_loop = False
        self.walks_row = False

    def visit_For(self, node):
        self.has_loop = True

    def visit_BufferStore(self, node):
        if node.indices and uses_var(node.indices[-1], self.loop_var) and \
                not any(uses_var(index, self.loop_var) for index in node.indices[:-1]):
            self.walks_row = True
        self.generic_visit(node)


def _walks_rows(loop: S.For) -> bool:
    """Whether ``loop`` is innermost and writes consecutive elements of a row.

    LLVM fully unrolls such short loops before its loop vectorizer runs, then vectorizes
    the loop around them instead, with gathers down the columns: a 32x32-blocked matmul
    ran 3-5x slower so.  Kept rolled, the row loop is what the vectorizer vectorizes,
    with contiguous vector loads and stores."""
    finder = _RowWalkFinder(loop.loop_var)
    finder.visit(loop.body)
    return finder.walks_row and not finder.has_loop


__all__ = ["CodeGenLLVM", "STACK_ALLOCATION_LIMIT", "const_of"]
