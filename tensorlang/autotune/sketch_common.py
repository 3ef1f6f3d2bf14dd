"""What the CPU and GPU sketch rules share: questions about a compute definition (the
tensors it reads, the inputs it reuses, the extents of its axes) and the few schedule
moves both make.

The rules of :mod:`.sketch_rules` (CPU) and :mod:`.sketch_gpu_rules` (CUDA) choose a
schedule for a stage from what its definition reads and how often; asking those
questions one way keeps the two spaces agreeing on what, say, "a reduction with data
reuse" is.
"""
from __future__ import annotations

import math

from ..tir import expr as E
from ..tir.analysis import free_vars
from ..tir.functor import Visitor, post_order_visit

#: values of the ``auto_unroll_max_step`` pragma a stage may get (0: none)
UNROLL_STEPS = (0, 16, 64, 512)
#: intrinsics that cost tens of cycles a value even vectorized: a stage that calls one
#: and has several readers is better computed once into memory than inlined into each
EXPENSIVE_INTRINSICS = frozenset({"exp", "exp2", "log", "log2", "log10", "tanh", "sigmoid",
                                  "erf", "pow", "sin", "cos"})


def divisors(n: int) -> list[int]:
    """The positive divisors of ``n`` in increasing order."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


# -- the compute definition -------------------------------------------------------------
class _ProducerLoads(Visitor):
    def __init__(self):
        self.loads: list = []

    def visit_ProducerLoad(self, node):
        self.loads.append(node)
        self.generic_visit(node)


def producer_loads(op) -> list:
    """The tensor reads in the body of ``op``, in order."""
    collector = _ProducerLoads()
    for body in op.body:
        collector.visit(body)
    return collector.loads


def distinct_producers(op) -> list:
    """The tensors ``op`` reads, each once, in order of first read."""
    found: list = []
    for load in producer_loads(op):
        if not any(t is load.producer for t in found):
            found.append(load.producer)
    return found


def reused_inputs(op) -> list:
    """Input tensors of ``op`` whose reads leave out some spatial axis (each element is
    read by several output points): the operands worth tiling for and packing."""
    axis_vars = {iv.var for iv in op.axis}
    result = []
    for load in producer_loads(op):
        used = set(free_vars(tuple(load.indices)))
        if axis_vars - used and not any(t is load.producer for t in result):
            result.append(load.producer)
    return result


def reads_per_input_element(op, shape_vars=None) -> float | None:
    """How often ``op`` reads each element of its inputs on average: its iterations
    (output points times reduction points) over the elements of the tensors it reads,
    each counted once; None where an extent is not known.  A matrix product of side n
    reads each element n / 2 times, a matrix-vector product about once: there is nothing
    for tiling to keep in cache, and the time goes to streaming the matrix."""
    iterations = 1
    for iv in list(op.axis) + list(op.own_reduce_axis):
        extent = known_extent(iv, shape_vars)
        if extent is None:
            return None
        iterations *= extent
    elements = 0
    for tensor in distinct_producers(op):
        size = 1
        for dim in tensor.shape:
            value = _known_dim(dim, shape_vars)
            if value is None:
                return None
            size *= value
        elements += size
    return iterations / max(elements, 1)


def _known_dim(dim, shape_vars) -> int | None:
    if isinstance(dim, int):
        return dim
    if isinstance(dim, E.IntImm):
        return int(dim.value)
    if isinstance(dim, E.Var):
        for key, value in (shape_vars or {}).items():
            if key is dim or key == dim.name:
                return int(value)
    return None


def calls_expensive_intrinsic(op) -> bool:
    """Whether the body of ``op`` calls one of :data:`EXPENSIVE_INTRINSICS`."""
    names: set = set()
    for body in op.body:
        post_order_visit(body, lambda n: names.add(n.op) if isinstance(n, E.Call) else None)
    return bool(names & EXPENSIVE_INTRINSICS)


#: intrinsics of several cycles a value besides :data:`EXPENSIVE_INTRINSICS`
COSTLY_INTRINSICS = EXPENSIVE_INTRINSICS | {"sqrt", "rsqrt"}


def divides_or_calls(op) -> bool:
    """Whether the body of ``op`` divides floats or calls a costly intrinsic
    (:data:`COSTLY_INTRINSICS`): work of several cycles a value, beyond the loads,
    selects and multiply-adds of padding or scaling."""
    found = []

    def visit(node):
        if isinstance(node, E.Div) and node.dtype.is_float or \
                isinstance(node, E.Call) and node.op in COSTLY_INTRINSICS:
            found.append(node)
    for body in op.body:
        post_order_visit(body, visit)
    return bool(found)


def known_extent(iv, shape_vars) -> int | None:
    """The extent of ``iv`` as an int, symbolic dimensions looked up in ``shape_vars``
    (by variable or by name); None where it is not known."""
    return _known_dim(iv.dom.extent, shape_vars)


# -- schedule moves ---------------------------------------------------------------------
def fuse_all(stage, loops: list):
    """``loops`` (adjacent leaves of ``stage``) fused into one; a single loop as it is."""
    return stage.fuse(*loops) if len(loops) > 1 else loops[0]


def unroll_pragma(stage, axis, step: int) -> None:
    """Mark ``axis`` of ``stage`` for unrolling up to ``step`` steps (nothing for 0 or no
    axis)."""
    if step and axis is not None:
        stage.pragma(axis, "auto_unroll_max_step", int(step))
