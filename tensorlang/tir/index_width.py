"""Index widths: 32-bit index arithmetic where every value provably fits, 64-bit where an
extent may reach 2**31.

Small kernels keep ``int32`` loop variables and offsets (cheaper vector lanes and
registers); a loop or a flattened buffer offset that may count past ``2**31 - 1`` uses
``int64``.  A symbolic dimension counts as large as its type allows: the call checks that
the value bound to it fits (see ``target/llvm/signature.py``).
"""
from __future__ import annotations

import math

from . import expr as E
from .datatype import DataType, int32, int64


def extent_bound(expr) -> int | None:
    """The largest value the non-negative extent ``expr`` may take, or None when unknown
    (a symbolic dimension may be as large as its type allows)."""
    if isinstance(expr, E.IntImm):
        return expr.value
    if isinstance(expr, E.Var):
        return expr.dtype.max_value() if expr.dtype.is_integer else None
    if isinstance(expr, (E.Add, E.Mul, E.Max)):
        a, b = extent_bound(expr.a), extent_bound(expr.b)
        if a is None or b is None:
            return None
        return a + b if isinstance(expr, E.Add) else a * b if isinstance(expr, E.Mul) \
            else max(a, b)
    if isinstance(expr, E.Min):
        bounds = [b for b in (extent_bound(expr.a), extent_bound(expr.b)) if b is not None]
        return min(bounds) if bounds else None
    if isinstance(expr, (E.FloorDiv, E.Div)) and isinstance(expr.b, E.IntImm) \
            and expr.b.value > 0:
        a = extent_bound(expr.a)
        return None if a is None else -(-a // expr.b.value)
    if isinstance(expr, E.Cast) and expr.dtype.is_integer:
        return extent_bound(expr.value)
    return None


def fits(bound: int | None, dtype: DataType) -> bool:
    """Whether every count in ``[0, bound]`` is representable in ``dtype``."""
    return bound is not None and dtype.is_integer and bound <= dtype.max_value()


def index_type_for(bound: int | None, narrow: DataType = int32) -> DataType:
    """``narrow`` when ``[0, bound]`` fits in it, else ``int64``."""
    return narrow if fits(bound, narrow) else int64


def flat_size_bound(shape, strides=()) -> int | None:
    """The largest number of elements a buffer of ``shape`` (and ``strides``) spans."""
    extents = [extent_bound(d) for d in shape]
    if None in extents:
        return None
    if not strides:
        return math.prod(extents)
    steps = [extent_bound(s) for s in strides]
    if None in steps:
        return None
    return 1 + sum((n - 1) * s for n, s in zip(extents, steps))


def flat_index_type(buffer) -> DataType:
    """The type in which offsets into ``buffer`` are computed: ``int32`` unless its flat
    size may exceed ``2**31 - 1`` (or any of its dimensions is already 64-bit)."""
    if any(d.dtype.bits > 32 for d in tuple(buffer.shape) + tuple(buffer.strides)):
        return int64
    return index_type_for(flat_size_bound(buffer.shape, buffer.strides))


def dimension_overflow(tensor: str, axis: int, size: int, var, dtype=None) -> str:
    """The message refusing an array dimension too large for the variable it binds."""
    name = var if isinstance(var, str) else var.name
    dtype = dtype if dtype is not None else str(var.dtype)
    return (f"argument '{tensor}' has {size} elements along axis {axis}, which binds the "
            f"{dtype} dimension variable '{name}' beyond its range; declare it wider, e.g. "
            f"te.var(\"{name}\", dtype=\"int64\")")
