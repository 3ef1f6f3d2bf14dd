"""Building expressions: the builders of :mod:`tensorlang.tir.operators` (conversion of
Python values, type checks and promotion, constant folding of the Python operators,
intrinsics) and of :mod:`tensorlang.tir.bitwise`, and the rest: min/max, truncated
division, conjunctions, buffer loads, ramps, broadcasts and variables.
"""
from __future__ import annotations

from ..errors import TensorLangTypeError
from . import datatype as dt
from .bitwise import (bitwise_and, bitwise_not, bitwise_or,  # noqa: F401  (part of this API)
                      bitwise_xor, shift_left, shift_right)
from .expr import BufferLoad, Ramp, Var
from .operators import (  # noqa: F401  (the operators' builders are part of this API)
    INTRINSICS, Broadcast, Call, CmpOp, IntImm, Max, Min, PrimExpr, abs, add, as_condition,
    call_intrin, cast, check_numeric, const, convert, div, eq, floordiv, floormod,
    fold_binary, ge, gt, integer_operands, le, logical_and, logical_not, logical_or, lt,
    match_operands, mul, ne, neg, power, select, sub)


def truncdiv(a, b) -> PrimExpr:
    """C-style division rounding towards zero, for non-negative operands equal to ``//``."""
    a, b, t = integer_operands(a, b, "truncdiv")
    sign_differs = logical_xor(lt(a, 0), lt(b, 0))
    q = floordiv(a, b)
    exact = eq(floormod(a, b), 0)
    return select(logical_and(sign_differs, logical_not(exact)), add(q, 1), q)


def minimum(a, b) -> PrimExpr:
    """Element-wise minimum; a NaN operand gives NaN, as numpy's ``minimum``."""
    a, b, t = match_operands(a, b, "min")
    check_numeric(a, "min")
    return fold_binary(Min, a, b, t, _nan_min if t.is_float else min)


def maximum(a, b) -> PrimExpr:
    """Element-wise maximum; a NaN operand gives NaN, as numpy's ``maximum``."""
    a, b, t = match_operands(a, b, "max")
    check_numeric(a, "max")
    return fold_binary(Max, a, b, t, _nan_max if t.is_float else max)


def _nan_min(x: float, y: float) -> float:
    # Python's min keeps its first argument when a comparison with NaN is false
    return x if x < y or x != x else y


def _nan_max(x: float, y: float) -> float:
    return x if x > y or x != x else y


def logical_xor(a, b) -> PrimExpr:
    return ne(cast(as_condition(a, "^"), "int8"), cast(as_condition(b, "^"), "int8"))


def all_of(*conds) -> PrimExpr:
    """Conjunction of conditions (``te.all``)."""
    if len(conds) == 1 and isinstance(conds[0], (list, tuple)):
        conds = tuple(conds[0])
    result = const(True)
    for c in conds:
        result = logical_and(result, c)
    return result


def likely(cond) -> PrimExpr:
    """``cond``, marked as true almost everywhere: loop partitioning peels off the
    iterations where it may fail and drops it from the rest (padding uses it, so that a
    padded stage inlined into its consumer reads ``data`` unconditionally inside)."""
    cond = as_condition(cond, "likely")
    if isinstance(cond, IntImm):
        return cond
    return Call(cond.dtype, "tl.likely", (cond,))


def any_of(*conds) -> PrimExpr:
    """Disjunction of conditions (``te.any``)."""
    if len(conds) == 1 and isinstance(conds[0], (list, tuple)):
        conds = tuple(conds[0])
    result = const(False)
    for c in conds:
        result = logical_or(result, c)
    return result


def call_builtin(name: str, dtype, *args) -> PrimExpr:
    """A call of a non-math builtin (``tl.syncthreads``, ``tl.assume``, ...)."""
    return Call(dt.dtype(dtype), name, tuple(convert(a) for a in args))


# ---------------------------------------------------------------------------------------
# memory

def buffer_load(buffer, indices) -> PrimExpr:
    """``buffer[indices]`` with index count and type checks."""
    indices = tuple(convert(i) for i in indices)
    if len(indices) != len(buffer.shape):
        raise TensorLangTypeError(
            f"buffer '{buffer.name}' has {len(buffer.shape)} dimension(s) but is indexed "
            f"with {len(indices)} index(es)")
    lanes = 1
    for i in indices:
        if not i.dtype.is_integer:
            raise TensorLangTypeError(
                f"buffer '{buffer.name}' indexed with '{i}' of type {i.dtype}; indices must "
                f"be integers")
        lanes = max(lanes, i.dtype.lanes)
    return BufferLoad(buffer, indices, buffer.dtype.with_lanes(lanes))


def ramp(base, stride, lanes: int) -> PrimExpr:
    base, stride = convert(base), convert(stride)
    return Ramp(base, stride, lanes, base.dtype.with_lanes(lanes))


def broadcast(value, lanes: int) -> PrimExpr:
    value = convert(value)
    if lanes == 1:
        return value
    return Broadcast(value, lanes, value.dtype.with_lanes(lanes))


def var(name: str = "v", dtype="int32") -> Var:
    """A fresh scalar variable."""
    return Var(name, dt.dtype(dtype))


def is_const_int(x, value: int | None = None) -> bool:
    """Whether ``x`` is an integer constant (equal to ``value`` when given)."""
    return isinstance(x, IntImm) and (value is None or x.value == value)


def as_const_int(x) -> int | None:
    """The Python int of a constant integer expression, else None."""
    if isinstance(x, int) and not isinstance(x, bool):
        return x
    return x.value if isinstance(x, IntImm) and not x.dtype.is_bool else None


__all__ = ["const", "convert", "cast", "add", "sub", "mul", "neg", "div", "floordiv",
           "floormod", "truncdiv", "minimum", "maximum", "lt", "le", "gt", "ge", "eq",
           "ne", "logical_and", "logical_or", "logical_not", "all_of", "any_of", "select",
           "abs", "power", "call_intrin", "call_builtin", "likely", "buffer_load", "ramp",
           "broadcast", "var", "is_const_int", "as_const_int", "INTRINSICS", "CmpOp",
           "shift_right", "shift_left", "bitwise_and", "bitwise_or", "bitwise_xor",
           "bitwise_not"]
