"""Element-wise functions on expressions (``te.exp``, ``te.maximum``, ...)."""
from __future__ import annotations

from ..tir import op as _op


def exp(x): return _op.call_intrin("exp", x)
def log(x): return _op.call_intrin("log", x)
def sqrt(x): return _op.call_intrin("sqrt", x)
def rsqrt(x): return _op.call_intrin("rsqrt", x)
def tanh(x): return _op.call_intrin("tanh", x)
def sigmoid(x): return _op.call_intrin("sigmoid", x)
def erf(x): return _op.call_intrin("erf", x)
def fabs(x): return _op.call_intrin("fabs", x)
def floor(x): return _op.call_intrin("floor", x)
def ceil(x): return _op.call_intrin("ceil", x)
def round(x): return _op.call_intrin("round", x)  # noqa: A001
def power(x, y): return _op.call_intrin("pow", x, y)
def abs(x): return _op.abs(x)  # noqa: A001
def exp2(x): return _op.call_intrin("exp2", x)
def log2(x): return _op.call_intrin("log2", x)
def log10(x): return _op.call_intrin("log10", x)
def sin(x): return _op.call_intrin("sin", x)
def cos(x): return _op.call_intrin("cos", x)
def trunc(x): return _op.call_intrin("trunc", x)


def floordiv(a, b):
    """Integer division rounding towards minus infinity (same as ``a // b``)."""
    return _op.floordiv(a, b)


def floormod(a, b):
    """Integer remainder with the sign of the divisor (same as ``a % b``)."""
    return _op.floormod(a, b)


def min_value(dtype):
    """The smallest finite value of ``dtype`` as a constant (identity of a max reducer)."""
    from ..tir import datatype as dt
    t = dt.dtype(dtype)
    return _op.const(t.min_value(), t)


def max_value(dtype):
    """The largest finite value of ``dtype`` as a constant (identity of a min reducer)."""
    from ..tir import datatype as dt
    t = dt.dtype(dtype)
    return _op.const(t.max_value(), t)


def maximum(a, b):
    """Element-wise maximum."""
    return _op.maximum(a, b)


def minimum(a, b):
    """Element-wise minimum."""
    return _op.minimum(a, b)


def if_then_else(cond, a, b):
    """``a`` where ``cond`` holds, else ``b``; the other branch is not evaluated, so it may
    read out of bounds (padding)."""
    return _op.select(cond, a, b)


select = if_then_else


def all(*conds):  # noqa: A001
    """Logical and of conditions."""
    return _op.all_of(*conds)


def likely(cond):
    """``cond``, marked as holding almost everywhere (padding, tails): lowering peels the
    loop iterations where it may fail and drops the test from the others."""
    return _op.likely(cond)


def any(*conds):  # noqa: A001
    """Logical or of conditions."""
    return _op.any_of(*conds)


def const(value, dtype=None):
    """A typed constant."""
    return _op.const(value, dtype)
