"""Split a lowered PrimFunc into GPU kernels and check that each one can launch.

The host part of a function is what lies outside every loop bound to ``blockIdx`` /
``threadIdx``: sequences, ``stage`` attributes, global allocations (intermediate tensors
the host allocates), lets and conditions (pushed into the kernels that need them).  Each
outermost thread-bound loop starts one kernel; a loop-free host statement (the
initialisation of a scalar, say) becomes a kernel of one thread.  A loop left unbound on
the host is a user mistake: :class:`~tensorlang.errors.BuildError` names its stage and
says to bind it.

Inside a kernel, every loop bound to the same thread tag must have the same extent (it is
the same hardware index), the block may hold at most ``max_threads_per_block`` threads,
and the shared allocations at most ``max_shared_memory`` bytes.

The loop of a scan over its steps (a loop annotated ``"scan"``) stays on the host: it is
a :class:`HostLoop` that launches the kernels of one step per iteration, in order (the
end of a launch is the barrier between steps), passing its variable to them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ...errors import BuildError, InternalError
from .. import expr as E
from .. import stmt as S
from ..analysis import free_vars
from ..buffer import Buffer
from ..functor import Visitor
from ..structural import structural_equal

#: the hardware thread indices, in the order of the launch triple
BLOCK_TAGS = ("blockIdx.x", "blockIdx.y", "blockIdx.z")
THREAD_TAGS = ("threadIdx.x", "threadIdx.y", "threadIdx.z")
#: CUDA's per-dimension limits of the launch configuration
_GRID_LIMITS = (2**31 - 1, 65535, 65535)
_BLOCK_LIMITS = (1024, 1024, 64)

DEFAULT_MAX_THREADS = 1024
DEFAULT_MAX_SHARED_BYTES = 48 * 1024


def is_virtual_thread(tag: str) -> bool:
    """``vthread`` loops are serial loops (each thread computes several virtual ones)."""
    return tag.startswith("vthread")


def is_hardware_thread_loop(node) -> bool:
    return isinstance(node, S.For) and node.kind == S.ForKind.THREAD_BINDING \
        and not is_virtual_thread(node.thread_tag)


@dataclass(frozen=True)
class Limits:
    """Device limits a kernel is checked against."""
    max_threads_per_block: int = DEFAULT_MAX_THREADS
    max_shared_memory: int = DEFAULT_MAX_SHARED_BYTES


@dataclass
class Kernel:
    """One ``__global__`` function: its body and how to launch it."""
    name: str
    stage: str
    body: S.Stmt
    #: thread tag -> extent (an expression of the function's size variables)
    extents: dict[str, E.PrimExpr]
    #: thread tag -> the first loop bound to it (for messages)
    loops: dict[str, S.For]
    #: global buffers the kernel reads or writes, in function-parameter order
    buffers: list[Buffer]
    #: size variables and scalar parameters the body uses
    scalars: list[E.Var]
    #: shared allocations (one per block), in order of appearance
    shared: list[Buffer]
    shared_bytes: int
    #: global buffers the kernel stores to
    written: set = field(default_factory=set)
    #: variables of the host loops around the kernel (among ``scalars``): a new value
    #: every launch, so they are not constants of the kernel's code
    host_vars: tuple = ()

    def grid(self) -> tuple[E.PrimExpr | int, ...]:
        return tuple(self.extents.get(tag, 1) for tag in BLOCK_TAGS)

    def block(self) -> tuple[E.PrimExpr | int, ...]:
        return tuple(self.extents.get(tag, 1) for tag in THREAD_TAGS)


@dataclass
class HostLoop:
    """A serial loop the host runs around kernel launches (the steps of a scan): ``body``
    holds kernels and inner host loops in launch order."""
    loop_var: E.Var
    min: E.PrimExpr
    extent: E.PrimExpr
    stage: str
    body: list = field(default_factory=list)


@dataclass
class DeviceProgram:
    """A function split into kernels launched in order, with host-allocated buffers."""
    func: S.PrimFunc
    kernels: list[Kernel]
    temporaries: list[Buffer]
    #: scalar parameters and symbolic dimensions of the parameters' shapes
    size_vars: list[E.Var]
    #: the launches in order: kernels and host loops around kernels (None: ``kernels``)
    plan: list | None = None

    @property
    def written(self) -> set:
        return set().union(*(k.written for k in self.kernels)) if self.kernels else set()

    def launches(self, env: dict):
        """``(kernel, env)`` for each launch of a call, in order, where ``env`` holds the
        size variables; a host loop's variable is bound in the ``env`` of its launches."""
        yield from _launches(self.kernels if self.plan is None else self.plan, env)


def _launches(steps, env: dict):
    for step in steps:
        if isinstance(step, Kernel):
            yield step, env
            continue
        first = evaluate_int(step.min, env)
        for value in range(first, first + evaluate_int(step.extent, env)):
            yield from _launches(step.body, {**env, step.loop_var: value})


# ---------------------------------------------------------------------------------------
# host part


@dataclass
class _Host:
    func: S.PrimFunc
    limits: Limits
    kernels: list = field(default_factory=list)
    temporaries: list = field(default_factory=list)
    #: kernel-scope allocations made on the host: buffer -> number of kernels using it
    hoisted_uses: dict = field(default_factory=dict)
    #: where launches go: the program's plan, or the body of the host loop being split
    plan: list = field(default_factory=list)
    #: variables of the host loops being split, outermost first
    host_vars: list = field(default_factory=list)


def split_kernels(func: S.PrimFunc, limits: Limits | None = None) -> DeviceProgram:
    """The kernels of ``func`` after validation (raises BuildError for unbound loops,
    too many threads, too much shared memory, conflicting thread extents)."""
    host = _Host(func, limits or Limits())
    _split(host, func.body, stage="", wrappers=())
    for buffer, count in host.hoisted_uses.items():
        if count > 1:
            raise BuildError(
                f"{buffer.scope} buffer '{buffer.name}' is allocated outside the GPU kernels "
                f"and used by {count} of them; {buffer.scope} memory lives inside one kernel: "
                f"compute_at the stage of '{buffer.name}' inside the loops bound to "
                f"blockIdx/threadIdx")
    return DeviceProgram(func, host.kernels, host.temporaries, size_variables(func),
                         host.plan)


def size_variables(func: S.PrimFunc) -> list[E.Var]:
    """Scalar parameters, then the symbolic dimensions of parameter buffers."""
    found = [p for p in func.params if isinstance(p, E.Var)]
    seen = set(found)
    for buffer in func.buffers:
        for dim in buffer.shape + buffer.strides:
            for var in free_vars(dim):
                if var not in seen:
                    seen.add(var)
                    found.append(var)
    return found


def _split(host: _Host, stmt: S.Stmt, stage: str, wrappers: tuple) -> None:
    t = type(stmt)
    if t is S.SeqStmt:
        for child in stmt.seq:
            _split(host, child, stage, wrappers)
    elif t is S.AttrStmt:
        if stmt.key == "stage":
            _split(host, stmt.body, _stage_name(stmt.node), wrappers)
        else:
            _split(host, stmt.body, stage, wrappers + (stmt.replace(body=S.NO_OP),))
    elif t is S.Allocate:
        if stmt.buffer.scope == "global":
            host.temporaries.append(stmt.buffer)
            _split(host, stmt.body, stage, wrappers)
        else:
            host.hoisted_uses.setdefault(stmt.buffer, 0)
            _split(host, stmt.body, stage, wrappers + (stmt.replace(body=S.NO_OP),))
    elif t is S.LetStmt:
        _split(host, stmt.body, stage, wrappers + (stmt.replace(body=S.NO_OP),))
    elif t is S.IfThenElse and _contains_loop(stmt):
        _split(host, stmt.then_case, stage,
               wrappers + (S.IfThenElse(stmt.condition, S.NO_OP),))
        if stmt.else_case is not None:
            negated = E.Not(stmt.condition, stmt.condition.dtype)
            _split(host, stmt.else_case, stage, wrappers + (S.IfThenElse(negated, S.NO_OP),))
    elif t is S.For and is_host_loop(stmt):
        loop = HostLoop(stmt.loop_var, stmt.min, stmt.extent, stage)
        host.plan.append(loop)
        outer_plan, host.plan = host.plan, loop.body
        host.host_vars.append(stmt.loop_var)
        _split(host, stmt.body, stage, wrappers)
        host.host_vars.pop()
        host.plan = outer_plan
    elif t is S.For:
        if not is_hardware_thread_loop(stmt):
            what = f"bound to '{stmt.thread_tag}' (a virtual thread)" if stmt.thread_tag \
                else f"a {stmt.kind} loop"
            raise BuildError(
                f"stage '{stage or host.func.name}': loop '{stmt.loop_var.name}' ({what}) "
                f"runs on the host, outside any GPU kernel; bind it to blockIdx/threadIdx, "
                f"e.g. s[{stage or 'C'}].bind({stmt.loop_var.name}, "
                f"te.thread_axis(\"blockIdx.x\")), or fuse it into a bound axis")
        _add_kernel(host, stmt, stage, wrappers)
    elif S.is_no_op(stmt):
        return
    else:
        _add_kernel(host, stmt, stage, wrappers)


def is_host_loop(node) -> bool:
    """A scan's loop over its steps: serial, run by the host around the kernels."""
    return isinstance(node, S.For) and node.kind in (S.ForKind.SERIAL, S.ForKind.UNROLLED) \
        and any(key == "scan" for key, _ in node.annotations)


def _stage_name(node) -> str:
    return node if isinstance(node, str) else getattr(node, "name", str(node))


def _contains_loop(stmt) -> bool:
    found = []

    class _Find(Visitor):
        def visit_For(self, node):
            found.append(node)

    _Find().visit(stmt)
    return bool(found)


def _wrap(wrappers: tuple, body: S.Stmt) -> S.Stmt:
    for wrapper in reversed(wrappers):
        if isinstance(wrapper, S.IfThenElse):
            body = wrapper.replace(then_case=body)
        else:
            body = wrapper.replace(body=body)
    return body


def _add_kernel(host: _Host, root: S.Stmt, stage: str, wrappers: tuple) -> None:
    body = _wrap(wrappers, root)
    name = f"{host.func.name}_kernel{len(host.kernels)}"
    analysis = _KernelAnalysis(stage or host.func.name)
    analysis.visit(body)
    for buffer in analysis.allocated:
        if buffer in host.hoisted_uses:
            host.hoisted_uses[buffer] += 1
    kernel = Kernel(name, stage or host.func.name, body, analysis.extents, analysis.loops,
                    [], [], analysis.shared, 0, analysis.written)
    _check_kernel(host, kernel, analysis)
    host.kernels.append(kernel)
    host.plan.append(kernel)


# ---------------------------------------------------------------------------------------
# kernel part


class _KernelAnalysis(Visitor):
    """Thread extents, allocations, used buffers and variables of one kernel body."""

    def __init__(self, stage: str):
        self.stage = stage
        self.extents: dict[str, E.PrimExpr] = {}
        self.loops: dict[str, S.For] = {}
        self.stages: dict[str, str] = {}
        self.shared: list[Buffer] = []
        self.allocated: list[Buffer] = []
        self.used_buffers: set = set()
        self.written: set = set()
        self.defined: set = set()
        self.used_vars: dict = {}
        self.loop_stack: list[S.For] = []
        #: shared buffer -> (stage, name of the innermost loop around its allocation)
        self.shared_sites: dict = {}

    def visit_AttrStmt(self, node):
        if node.key == "stage":
            saved, self.stage = self.stage, _stage_name(node.node)
            self.visit(node.body)
            self.stage = saved
        else:
            self.generic_visit(node)

    def visit_For(self, node):
        self.defined.add(node.loop_var)
        self.visit(node.min)
        self.visit(node.extent)
        tag = node.thread_tag
        if not is_hardware_thread_loop(node):
            self.loop_stack.append(node)
            self.visit(node.body)
            self.loop_stack.pop()
            return
        if tag not in BLOCK_TAGS + THREAD_TAGS:
            raise BuildError(f"stage '{self.stage}': loop '{node.loop_var.name}' is bound to "
                             f"the unknown thread tag '{tag}'; use blockIdx.x/y/z or "
                             f"threadIdx.x/y/z")
        known = self.extents.get(tag)
        if known is None:
            self.extents[tag] = node.extent
            self.loops[tag] = node
            self.stages[tag] = self.stage
        elif not structural_equal(known, node.extent):
            first = self.loops[tag]
            raise BuildError(
                f"stage '{self.stage}': loop '{node.loop_var.name}' is bound to '{tag}' with "
                f"extent {node.extent}, but loop '{first.loop_var.name}' of stage "
                f"'{self.stages[tag]}' binds '{tag}' with extent {known} in the same kernel; "
                f"split both axes with the same factor so they bind the same extent")
        # a loop bound again to a tag of an enclosing loop (cooperative fetching inside
        # the thread nest) is the same hardware index: every thread takes its own part
        self.loop_stack.append(node)
        self.visit(node.body)
        self.loop_stack.pop()

    def visit_LetStmt(self, node):
        self.defined.add(node.var)
        self.generic_visit(node)

    def visit_Let(self, node):
        self.defined.add(node.var)
        self.generic_visit(node)

    def visit_Allocate(self, node):
        buffer = node.buffer
        self.allocated.append(buffer)
        if buffer.scope == "global":
            raise BuildError(f"stage '{self.stage}': buffer '{buffer.name}' is allocated in "
                             f"global memory inside a GPU kernel; use scope \"shared\" or "
                             f"\"local\", or compute the stage at the root")
        for dim in buffer.shape + buffer.strides:
            if not isinstance(dim, E.IntImm):
                raise BuildError(
                    f"stage '{self.stage}': {buffer.scope} buffer '{buffer.name}' has the "
                    f"non-constant size {dim}; GPU {buffer.scope} memory needs constant "
                    f"sizes: split the axes it is computed at with constant factors")
        if buffer.scope == "shared" and not any(b is buffer for b in self.shared):
            # a peeled loop tail allocates the same buffer again: one array serves both
            self.shared.append(buffer)
            loop = self.loop_stack[-1].loop_var.name if self.loop_stack else None
            self.shared_sites[buffer] = (self.stage, loop)
        self.visit(node.body)

    def visit_BufferLoad(self, node):
        self.used_buffers.add(node.buffer)
        self.generic_visit(node)

    def visit_BufferStore(self, node):
        self.used_buffers.add(node.buffer)
        if node.buffer.scope == "global":
            self.written.add(node.buffer)
        self.generic_visit(node)

    def visit_Var(self, node):
        self.used_vars.setdefault(node, None)


def allocation_bytes(buffer: Buffer) -> int:
    """Bytes of a constant-size allocation (explicit strides included)."""
    if buffer.strides:
        extent = 1 + sum((dim.value - 1) * stride.value
                         for dim, stride in zip(buffer.shape, buffer.strides))
    else:
        extent = math.prod(dim.value for dim in buffer.shape)
    return extent * buffer.dtype.bytes


def _check_kernel(host: _Host, kernel: Kernel, analysis: _KernelAnalysis) -> None:
    func_vars = size_variables(host.func) + list(host.host_vars)
    allowed = set(func_vars)
    for tag, extent in kernel.extents.items():
        for var in free_vars(extent):
            if var not in allowed:
                loop = kernel.loops[tag]
                raise BuildError(
                    f"stage '{analysis.stages[tag]}': loop '{loop.loop_var.name}' bound to "
                    f"'{tag}' has extent {extent}, which depends on '{var.name}' computed "
                    f"inside the kernel; a launch dimension must depend only on the shapes "
                    f"and scalar arguments")
    # the threads of a block
    constant = {tag: e.value for tag, e in kernel.extents.items() if isinstance(e, E.IntImm)}
    for dim, tag in enumerate(THREAD_TAGS):
        if tag in constant and constant[tag] > _BLOCK_LIMITS[dim]:
            raise BuildError(
                f"stage '{analysis.stages[tag]}': loop '{kernel.loops[tag].loop_var.name}' "
                f"binds {constant[tag]} threads to '{tag}', more than the {_BLOCK_LIMITS[dim]} "
                f"CUDA allows in that dimension; split the axis with a smaller factor")
    if all(tag in constant for tag in THREAD_TAGS if tag in kernel.extents):
        threads = math.prod(constant.get(tag, 1) for tag in THREAD_TAGS)
        if threads > host.limits.max_threads_per_block:
            check_threads_per_block(kernel, threads, host.limits.max_threads_per_block,
                                    analysis.stages)
    # shared memory
    total = sum(_aligned(allocation_bytes(b)) for b in kernel.shared)
    kernel.shared_bytes = total
    if total > host.limits.max_shared_memory:
        parts = ", ".join(f"'{b.name}' ({allocation_bytes(b)} bytes{_site(analysis, b)})"
                          for b in kernel.shared)
        raise BuildError(
            f"stage '{kernel.stage}': kernel '{kernel.name}' needs {total} bytes of shared "
            f"memory ({parts}), more than the {host.limits.max_shared_memory} bytes a block "
            f"may use; make the shared tiles smaller (smaller split factors of the axes "
            f"the cache_read stages are computed at)")
    # arguments
    kernel.buffers = [b for b in host.func.buffers if b in analysis.used_buffers] + \
        [b for b in host.temporaries if b in analysis.used_buffers]
    needed = dict(analysis.used_vars)
    for buffer in kernel.buffers:
        for dim in buffer.shape + buffer.strides:
            for var in free_vars(dim):
                needed.setdefault(var, None)
    for var in needed:
        if var not in analysis.defined and var not in allowed:
            raise InternalError(f"kernel '{kernel.name}' uses the variable '{var.name}', "
                                f"which is neither defined in it nor a function argument")
    kernel.scalars = [v for v in func_vars if v in needed]
    kernel.host_vars = tuple(v for v in host.host_vars if v in needed)


def _site(analysis: _KernelAnalysis, buffer: Buffer) -> str:
    stage, loop = analysis.shared_sites.get(buffer, (None, None))
    return f", allocated in loop '{loop}' of stage '{stage}'" if loop else ""


def check_threads_per_block(kernel: Kernel, threads: int, limit: int,
                            stages: dict | None = None) -> None:
    """Raise the BuildError of a block of ``threads`` threads (over ``limit``)."""
    if threads <= limit:
        return
    loops = ", ".join(f"'{kernel.loops[t].loop_var.name}' -> {t}" for t in THREAD_TAGS
                      if t in kernel.loops)
    stage = kernel.stage
    if stages:
        stage = next((stages[t] for t in THREAD_TAGS if t in stages), stage)
    raise BuildError(
        f"stage '{stage}': kernel '{kernel.name}' has {threads} threads per block "
        f"({loops}), more than the limit of {limit}; split the axes bound to threadIdx with "
        f"smaller factors")


def _aligned(nbytes: int) -> int:
    """Shared arrays are declared 16-byte aligned (for float4 accesses)."""
    return (nbytes + 15) // 16 * 16


# ---------------------------------------------------------------------------------------
# host-side evaluation


def evaluate_int(expr, env: dict) -> int:
    """Value of an integer expression of size variables (launch extents, shapes)."""
    if isinstance(expr, int):
        return expr
    t = type(expr)
    if t is E.IntImm:
        return expr.value
    if t is E.Var:
        if expr not in env:
            raise InternalError(f"no value for the variable '{expr.name}' on the host")
        return int(env[expr])
    if t is E.Cast:
        return evaluate_int(expr.value, env)
    if t is E.Select:
        return evaluate_int(expr.true_value if evaluate_int(expr.condition, env)
                            else expr.false_value, env)
    if t is E.Not:
        return int(not evaluate_int(expr.a, env))
    if isinstance(expr, E.BinaryOp):
        a, b = evaluate_int(expr.a, env), evaluate_int(expr.b, env)
        fn = _HOST_OPS.get(t)
        if fn is not None:
            return int(fn(a, b))
    raise InternalError(f"cannot evaluate '{expr}' on the host")


_HOST_OPS = {E.Add: lambda a, b: a + b, E.Sub: lambda a, b: a - b,
             E.Mul: lambda a, b: a * b, E.FloorDiv: lambda a, b: a // b,
             E.FloorMod: lambda a, b: a % b, E.Min: min, E.Max: max,
             E.Div: lambda a, b: abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1),
             E.EQ: lambda a, b: a == b, E.NE: lambda a, b: a != b,
             E.LT: lambda a, b: a < b, E.LE: lambda a, b: a <= b,
             E.GT: lambda a, b: a > b, E.GE: lambda a, b: a >= b,
             E.And: lambda a, b: a and b, E.Or: lambda a, b: a or b}


def launch_dimensions(kernel: Kernel, env: dict, limits: Limits | None = None
                      ) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Grid and block sizes of ``kernel`` for the given size-variable values."""
    grid = tuple(evaluate_int(e, env) for e in kernel.grid())
    block = tuple(evaluate_int(e, env) for e in kernel.block())
    limits = limits or Limits()
    check_threads_per_block(kernel, math.prod(block), limits.max_threads_per_block)
    for dim, tag in enumerate(THREAD_TAGS):
        if block[dim] > _BLOCK_LIMITS[dim]:
            raise BuildError(f"stage '{kernel.stage}': {block[dim]} threads bound to '{tag}' "
                             f"exceed the CUDA limit of {_BLOCK_LIMITS[dim]}")
    for dim, tag in enumerate(BLOCK_TAGS):
        if grid[dim] > _GRID_LIMITS[dim]:
            raise BuildError(f"stage '{kernel.stage}': {grid[dim]} blocks along '{tag}' "
                             f"exceed the CUDA limit of {_GRID_LIMITS[dim]}")
    return grid, block
