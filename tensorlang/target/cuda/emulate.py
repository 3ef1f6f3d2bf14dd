"""Run GPU kernels on the CPU, honouring blocks, threads, shared memory and barriers.

Each kernel body is translated to Python by the loop-IR interpreter's translator (so
values, rounding, integer wrapping and bounds checks are exactly the interpreter's), with
these changes: the function runs once per *thread*, a loop bound to ``threadIdx.x`` /
``blockIdx.x`` becomes an assignment from the thread's coordinates, ``local`` buffers are
allocated per thread, ``shared`` buffers once per block, and ``__syncthreads()`` becomes a
``yield``.  A block is then run as phases: every thread is advanced to its next barrier,
then all of them are released together, so the code honours barriers wherever they sit.

Shared memory checks its use: an element written by one thread and read (or overwritten)
by another within one phase, or read by one and then written by another, is a data race
and raises :class:`EmulationError`, as do barriers that not every thread of a block
reaches.  Uninitialised shared floats read as NaN.

>>> emulate(func, a, b, c)       # outputs written in place, like the GPU would
"""
from __future__ import annotations

import inspect
import itertools
import math

import numpy as np

from ...errors import TensorLangError
from ...tir import expr as E
from ...tir import stmt as S
from ...tir.buffer import Buffer
from ...tir.functor import Visitor
from ...tir.interpreter import runtime
from ...tir.interpreter.codegen import Translator, GeneratedFunction
from ...tir.interpreter.expressions import ATOM, Fragment, full_range
from ...tir.transform.launch_arguments import bind_arguments
from ...tir.transform.split_kernels import (BLOCK_TAGS, THREAD_TAGS, DeviceProgram, Kernel, Limits,
                      allocation_bytes, evaluate_int, is_hardware_thread_loop,
                      launch_dimensions, split_kernels)
from ...tir.transform.inject_syncthreads import SYNC_OP

#: the generated function's parameters holding the thread's coordinates, by tag
_COORDINATES = {"blockIdx.x": "_bx", "blockIdx.y": "_by", "blockIdx.z": "_bz",
                "threadIdx.x": "_tx", "threadIdx.y": "_ty", "threadIdx.z": "_tz"}


class EmulationError(TensorLangError, RuntimeError):
    """A kernel did something undefined on a GPU: a shared-memory data race, or a barrier
    that not every thread of its block reaches."""


# ---------------------------------------------------------------------------------------
# shared memory


class _BlockState:
    """The block being run: which thread runs now, and the current phase (barriers
    passed)."""
    __slots__ = ("index", "dims", "thread", "phase")

    def __init__(self, index: tuple, dims: tuple):
        self.index, self.dims = index, dims
        self.thread, self.phase = 0, 0

    def coordinates(self, thread: int) -> tuple[int, int, int]:
        x, rest = thread % self.dims[0], thread // self.dims[0]
        return x, rest % self.dims[1], rest // self.dims[1]


class SharedMemory:
    """A shared buffer of one block that detects data races between its threads."""

    def __init__(self, buffer: Buffer, size: int, block: _BlockState):
        self.name = buffer.name
        self.block = block
        dtype = buffer.dtype
        self.bfloat = dtype.kind == "bfloat"
        self.python_scalars = dtype.is_integer or dtype.is_bool
        self.data = np.zeros(size, dtype.numpy_dtype)
        if self.bfloat:
            self.data[:] = 0x7FC0  # NaN: reading what nobody wrote shows
        elif dtype.is_float:
            self.data[:] = np.nan
        self.writer = [-1] * size
        self.write_phase = [-1] * size
        self.reader = [-1] * size
        self.read_phase = [-1] * size

    def _race(self, index: int, what: str, other: int) -> None:
        block = self.block
        me = block.coordinates(block.thread)
        them = "several other threads" if other < 0 else \
            f"thread {block.coordinates(other)}"
        raise EmulationError(
            f"data race on shared buffer '{self.name}' element {index} in block "
            f"{block.index}: thread {me} {what} {them} with no __syncthreads() in between; "
            f"insert barriers (tensorlang.target.cuda.inject_syncthreads) or give each "
            f"thread its own elements")

    def _check_read(self, index: int) -> None:
        block = self.block
        phase, thread = block.phase, block.thread
        if self.write_phase[index] == phase and self.writer[index] != thread:
            self._race(index, "reads a value written by", self.writer[index])
        if self.read_phase[index] != phase:
            self.read_phase[index] = phase
            self.reader[index] = thread
        elif self.reader[index] != thread:
            self.reader[index] = -2

    def _check_write(self, index: int, value) -> None:
        block = self.block
        phase, thread = block.phase, block.thread
        if self.read_phase[index] == phase and self.reader[index] != thread:
            self._race(index, "overwrites a value read by", self.reader[index])
        if self.write_phase[index] == phase and self.writer[index] != thread \
                and self.data[index] != value:
            self._race(index, "writes a different value than", self.writer[index])
        self.write_phase[index] = phase
        self.writer[index] = thread

    def load(self, index: int):
        self._check_read(index)
        if self.bfloat:
            return runtime.bf16_list()[self.data.item(index)]
        if self.python_scalars:
            return self.data.item(index)
        return self.data[index]

    def store(self, index: int, value) -> None:
        if self.bfloat:
            value = runtime.bf16_bits(value)
        self._check_write(index, value)
        self.data[index] = value

    def load_vector(self, indices: np.ndarray) -> np.ndarray:
        for index in indices.tolist():
            self._check_read(index)
        values = self.data[indices]
        return runtime.bf16_table()[values] if self.bfloat else values

    def store_vector(self, indices: np.ndarray, values) -> None:
        values = np.broadcast_to(runtime.bf16_bits_array(values) if self.bfloat
                                 else np.asarray(values, self.data.dtype), indices.shape)
        for index, value in zip(indices.tolist(), values.tolist()):
            self._check_write(index, value)
        self.data[indices] = values


# ---------------------------------------------------------------------------------------
# translation


class _KernelTranslator(Translator):
    """Python source of one kernel, run once per thread."""

    def __init__(self, program: DeviceProgram, kernel: Kernel, env: dict):
        super().__init__(program.func)
        self.kernel = kernel
        self.env = env
        self.barrier_count = 0
        self.thread_extents = {tag: evaluate_int(e, env) for tag, e in kernel.extents.items()}

    def translate_kernel(self) -> str:
        kernel = self.kernel
        params, names = [], []
        for buffer in kernel.buffers:
            names.append(self.unique("b_" + _safe(buffer.name)))
        for var in kernel.scalars:
            # size variables are constants of one translation; host loop variables change
            # from launch to launch
            if var.dtype.is_integer and var.dtype.lanes == 1 and var not in kernel.host_vars:
                value = int(self.env[var])
                self.var_ranges[var] = (value, value)
        shared_names = [self.unique("s_" + _safe(b.name)) for b in kernel.shared]
        params = names + [self.name_of_var(v) for v in kernel.scalars] + shared_names + \
            [_COORDINATES[t] for t in BLOCK_TAGS + THREAD_TAGS]
        self.current = GeneratedFunction("_kernel", params)
        self.functions.append(self.current)
        self.live.extend(params)
        for buffer, name in zip(kernel.buffers, names):
            extents = self.extent_entries(buffer, name)
            strides = self.stride_codes(buffer, name)
            if strides is not None:
                self.emit(f"{name} = {name}.reshape(-1)")
            self.declare_buffer(buffer, name, extents, strides)
        for buffer, name in zip(kernel.shared, shared_names):
            extents = self.extent_entries(buffer, name)
            strides = self.stride_codes(buffer, name) or _row_major_strides(buffer)
            self.declare_buffer(buffer, name, extents, strides)
        before = len(self.current.lines)
        self.stmt(kernel.body)
        if len(self.current.lines) == before:
            self.emit("pass")
        return self.source()

    # -- shared memory ---------------------------------------------------------------
    def buffer_access(self, buffer: Buffer, indices, nodes, lanes: int,
                      lane: int | None = None) -> Fragment:
        if buffer.scope != "shared":
            return super().buffer_access(buffer, indices, nodes, lanes, lane)
        key, _ = self.subscript(buffer, indices, nodes, lanes, lane)
        name = self.buffers[buffer].name
        if lanes > 1:
            return Fragment(f"{name}.load_vector({key})")
        if buffer.dtype.is_integer or buffer.dtype.is_bool:
            return Fragment(f"{name}.load({key})", ATOM, *full_range(buffer.dtype))
        return Fragment(f"{name}.load({key})")

    def visit_BufferStore(self, s: S.BufferStore) -> None:
        if s.buffer.scope != "shared":
            super().visit_BufferStore(s)
            return
        value = self.expr(s.value)
        indices = [self.expr(i) for i in s.indices]
        lanes = max([s.value.dtype.lanes] + [i.dtype.lanes for i in s.indices])
        key, _ = self.subscript(s.buffer, indices, list(s.indices), lanes)
        name = self.buffers[s.buffer].name
        method = "store_vector" if lanes > 1 else "store"
        self.emit(f"{name}.{method}({key}, {value.code})")

    def visit_Allocate(self, s: S.Allocate) -> None:
        if s.buffer.scope == "shared":
            self.stmt(s.body)  # one array per block, made before the threads start
        else:
            super().visit_Allocate(s)

    # -- threads and barriers --------------------------------------------------------
    def visit_For(self, s: S.For) -> None:
        if not is_hardware_thread_loop(s):
            super().visit_For(s)
            return
        low = self.expr(s.min)
        name = self.name_of_var(s.loop_var)
        coordinate = _COORDINATES[s.thread_tag]
        self.emit(f"{name} = {coordinate}" if op_is_zero(s.min)
                  else f"{name} = {low.code} + {coordinate}")
        self.live.append(name)
        extent = self.thread_extents[s.thread_tag]
        self.var_ranges[s.loop_var] = (low.lo, low.hi + max(extent, 1) - 1) \
            if low.lo is not None else full_range(s.loop_var.dtype)
        self.loop_bounds[s.loop_var] = (s.min, s.extent)
        self.stmt(s.body)
        del self.loop_bounds[s.loop_var]
        self.var_ranges.pop(s.loop_var, None)
        self.live.remove(name)

    def visit_Evaluate(self, s: S.Evaluate) -> None:
        if isinstance(s.value, E.Call) and s.value.op == SYNC_OP:
            self.barrier_count += 1
            self.emit(f"yield {self.barrier_count}")
            return
        super().visit_Evaluate(s)

    def split_function(self, s: S.For) -> None:
        """Continue a deep loop nest in a new function (a generator where the nest holds
        barriers, delegated to with ``yield from``)."""
        params = list(dict.fromkeys(self.live))
        function = GeneratedFunction(f"_nest{len(self.functions)}", params)
        self.functions.append(function)
        caller = self.current
        self.current = function
        super().visit_For(s)
        self.current = caller
        call = f"{function.name}({', '.join(params)})"
        self.emit(f"yield from {call}" if _contains_sync(s) else call)


def op_is_zero(e) -> bool:
    return isinstance(e, E.IntImm) and e.value == 0


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def _row_major_strides(buffer: Buffer) -> list[str]:
    strides, running = [], 1
    for dim in reversed(buffer.shape):
        strides.append(str(running))
        running *= dim.value
    return list(reversed(strides))


def _contains_sync(stmt) -> bool:
    found = []

    class _Find(Visitor):
        def visit_Call(self, node):
            if node.op == SYNC_OP:
                found.append(node)

    _Find().visit(stmt)
    return bool(found)


# ---------------------------------------------------------------------------------------
# execution


class _CompiledKernel:
    def __init__(self, program: DeviceProgram, kernel: Kernel, env: dict):
        translator = _KernelTranslator(program, kernel, env)
        self.source = translator.translate_kernel()
        namespace = dict(runtime.NAMESPACE)
        namespace.update(translator.constant_values)
        namespace.update(translator.helpers)
        namespace["_bf16l"] = runtime.bf16_list() if "_bf16l" in self.source else None
        namespace["_bf16t"] = runtime.bf16_table() if "_bf16t" in self.source else None
        code = compile(self.source, f"<tensorlang cuda emulation: {kernel.name}>", "exec")
        exec(code, namespace)  # noqa: S102 - our own generated code
        self.function = namespace["_kernel"]
        self.is_generator = inspect.isgeneratorfunction(self.function)
        self.shared_sizes = [(b, allocation_bytes(b) // b.dtype.bytes) for b in kernel.shared]


class Emulator:
    """Runs a DeviceProgram on the CPU; translated kernels are cached per binding of the
    size variables."""

    def __init__(self, program: DeviceProgram, limits: Limits | None = None):
        self.program = program
        self.limits = limits or Limits()
        self._cache: dict = {}

    def __call__(self, *args) -> None:
        program = self.program
        func = program.func
        env = bind_arguments(func, args)
        values: dict = {}
        copies = []
        for param, arg in zip(func.params, args):
            if isinstance(param, Buffer):
                work = np.ascontiguousarray(arg)
                if work is not arg:
                    copies.append((arg, work))
                values[param] = work
        for buffer in program.temporaries:
            shape = tuple(evaluate_int(d, env) for d in buffer.shape)
            values[buffer] = np.zeros(shape, buffer.dtype.numpy_dtype)
        with np.errstate(all="ignore"):
            for kernel, launch_env in program.launches(env):
                self.run(kernel, launch_env, values)
        for original, work in copies:
            original[...] = work

    def compiled(self, kernel: Kernel, env: dict) -> _CompiledKernel:
        constants = (v for v in kernel.scalars if v not in kernel.host_vars)
        key = (kernel.name, tuple(env.get(v) for v in constants),
               tuple(evaluate_int(e, env) for e in kernel.extents.values()))
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = _CompiledKernel(self.program, kernel, env)
        return found

    def run(self, kernel: Kernel, env: dict, values: dict) -> None:
        compiled = self.compiled(kernel, env)
        grid, block = launch_dimensions(kernel, env, self.limits)
        args = [values[b] for b in kernel.buffers]
        for var in kernel.scalars:
            value = env[var]
            args.append(var.dtype.numpy_dtype.type(value) if var.dtype.is_float else value)
        threads = [(x, y, z) for z in range(block[2]) for y in range(block[1])
                   for x in range(block[0])]
        for bz, by, bx in itertools.product(range(grid[2]), range(grid[1]), range(grid[0])):
            state = _BlockState((bx, by, bz), block)
            shared = [SharedMemory(b, size, state) for b, size in compiled.shared_sizes]
            block_args = args + shared + [bx, by, bz]
            if compiled.is_generator:
                self._run_phases(kernel, compiled, state, block_args, threads)
            else:
                function = compiled.function
                for thread, (x, y, z) in enumerate(threads):
                    state.thread = thread
                    function(*block_args, x, y, z)

    @staticmethod
    def _run_phases(kernel: Kernel, compiled: _CompiledKernel, state: _BlockState,
                    block_args: list, threads: list) -> None:
        waiting = []
        for thread, (x, y, z) in enumerate(threads):
            state.thread = thread
            waiting.append((thread, compiled.function(*block_args, x, y, z)))
        while waiting:
            arrived: dict = {}
            finished = []
            still = []
            for thread, generator in waiting:
                state.thread = thread
                try:
                    barrier = next(generator)
                except StopIteration:
                    finished.append(thread)
                    continue
                arrived.setdefault(barrier, []).append(thread)
                still.append((thread, generator))
            if still and (finished or len(arrived) > 1):
                groups = [f"{len(ts)} at barrier #{b}" for b, ts in sorted(arrived.items())]
                if finished:
                    groups.append(f"{len(finished)} finished")
                raise EmulationError(
                    f"kernel '{kernel.name}' (stage '{kernel.stage}'), block {state.index}: "
                    f"the threads do not all reach the same __syncthreads() ({', '.join(groups)}"
                    f"); a barrier under a thread-dependent condition deadlocks on a GPU")
            state.phase += 1
            waiting = still


def emulate(func, *args, limits: Limits | None = None) -> None:
    """Run ``func`` (a lowered, thread-bound PrimFunc, or a DeviceProgram) on the CPU as a
    GPU would; outputs are written in place into the numpy arrays ``args``."""
    program = func if isinstance(func, DeviceProgram) else split_kernels(func, limits)
    Emulator(program, limits)(*args)


def total_threads(kernel: Kernel, env: dict) -> int:
    """Threads a launch of ``kernel`` runs (for progress and cost estimates)."""
    grid, block = launch_dimensions(kernel, env)
    return math.prod(grid) * math.prod(block)
