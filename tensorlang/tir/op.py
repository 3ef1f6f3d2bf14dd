"""Building expressions: conversion of Python values, type checks, promotion and
constant folding of the Python operators, intrinsics.

Python ``int``/``float`` literals take the type of the other operand (``A[i] * 2.0`` stays
``float32``).  Two expressions of different types combine only where
:func:`tensorlang.tir.dtype.promote` allows it; otherwise the error names both operands and
suggests ``astype``.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ..errors import TensorLangTypeError
from . import datatype as dt
from .datatype import DataType
from .expr import (Add, And, Broadcast, BufferLoad, Call, Cast, CmpOp, EQ, ExprOp,
                   FloatImm, FloorDiv, FloorMod, GE, GT, IntImm, IterVar, LE, LT, Max,
                   Min, Mul, NE, Not, Or, PrimExpr, Ramp, Select, Sub, Div, Var)

# ---------------------------------------------------------------------------------------
# constants and conversion

#: intrinsic name -> number of arguments; all take and return floats
INTRINSICS = {"exp": 1, "log": 1, "sqrt": 1, "rsqrt": 1, "tanh": 1, "sigmoid": 1,
              "erf": 1, "fabs": 1, "floor": 1, "ceil": 1, "round": 1, "pow": 2,
              "exp2": 1, "log2": 1, "log10": 1, "sin": 1, "cos": 1, "trunc": 1}


def const(value, dtype=None) -> PrimExpr:
    """A typed constant; ``dtype`` defaults to int32 / float32 / bool from the value."""
    if isinstance(value, PrimExpr):
        return value if dtype is None else cast(value, dtype)
    if isinstance(value, (np.generic,)):
        if dtype is None:
            dtype = dt.dtype(value.dtype)
        value = value.item()
    if dtype is None:
        if isinstance(value, bool):
            dtype = dt.bool_
        elif isinstance(value, int):
            dtype = dt.int32 if -2**31 <= value < 2**31 else dt.int64
        elif isinstance(value, float):
            dtype = dt.float32
        else:
            raise TensorLangTypeError(f"cannot make a constant of {value!r} "
                                      f"(type {type(value).__name__})")
    dtype = dt.dtype(dtype)
    if dtype.is_float:
        if not isinstance(value, (int, float)):
            raise TensorLangTypeError(f"cannot make a {dtype} constant of {value!r}")
        return FloatImm(dtype, float(value))
    if dtype.is_bool:
        return IntImm(dtype, 1 if value else 0)
    if isinstance(value, float):
        if not value.is_integer():
            raise TensorLangTypeError(
                f"the float {value!r} cannot be an {dtype} constant; round it or use a "
                f"float dtype")
        value = int(value)
    if not isinstance(value, int):
        raise TensorLangTypeError(f"cannot make a {dtype} constant of {value!r}")
    if dtype.is_integer and not (dtype.min_value() <= value <= dtype.max_value()):
        raise TensorLangTypeError(f"the constant {value} does not fit in {dtype}")
    return IntImm(dtype, int(value))


def convert(value) -> PrimExpr:
    """Turn a Python number, IterVar or expression into a :class:`PrimExpr`."""
    if isinstance(value, PrimExpr):
        return value
    if isinstance(value, IterVar):
        return value.var
    if isinstance(value, (bool, int, float, np.generic)):
        return const(value)
    raise TensorLangTypeError(
        f"expected an expression or a number, got {type(value).__name__} {value!r}")


def _is_literal(value) -> bool:
    return isinstance(value, (bool, int, float, np.generic)) and not isinstance(value, ExprOp)


def _match(a, b, opname: str) -> tuple[PrimExpr, PrimExpr, DataType]:
    """Convert both operands to expressions of one common type."""
    if _is_literal(a) and _is_literal(b):
        a, b = const(a), const(b)
    elif _is_literal(a):
        b = convert(b)
        a = _literal_as(a, b.dtype, opname, b)
    elif _is_literal(b):
        a = convert(a)
        b = _literal_as(b, a.dtype, opname, a)
    else:
        a, b = convert(a), convert(b)
    if a.dtype == b.dtype:
        return a, b, a.dtype
    common = dt.promote(a.dtype, b.dtype)
    if common is None:
        raise TensorLangTypeError(
            f"cannot apply '{opname}' to '{a}' ({a.dtype}) and '{b}' ({b.dtype}): the types "
            f"differ; cast one side explicitly, e.g. ({b}).astype(\"{a.dtype.element_of()}\")")
    return _to(a, common), _to(b, common), common


def _literal_as(value, dtype: DataType, opname: str, other: PrimExpr) -> PrimExpr:
    scalar = dtype.element_of()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not scalar.is_float:
        if value.is_integer() and not scalar.is_bool:
            value = int(value)
        else:
            raise TensorLangTypeError(
                f"cannot apply '{opname}' to '{other}' ({dtype}) and the float {value!r}: "
                f"cast the expression with .astype(\"float32\") or use an integer")
    if scalar.is_bool and not isinstance(value, bool):
        raise TensorLangTypeError(
            f"cannot apply '{opname}' to the boolean '{other}' and {value!r}; cast it first")
    result = const(value, scalar)
    return Broadcast(result, dtype.lanes, dtype) if dtype.lanes > 1 else result


def _to(value: PrimExpr, dtype: DataType) -> PrimExpr:
    if value.dtype == dtype:
        return value
    if value.dtype.lanes == 1 and dtype.lanes > 1:
        value = _to(value, dtype.element_of())
        return Broadcast(value, dtype.lanes, dtype)
    return cast(value, dtype)


def cast(value, dtype) -> PrimExpr:
    """``value`` converted to ``dtype`` (folded for constants)."""
    dtype = dt.dtype(dtype)
    value = convert(value)
    if value.dtype.lanes != dtype.lanes and dtype.lanes == 1:
        dtype = dtype.with_lanes(value.dtype.lanes)
    if value.dtype == dtype:
        return value
    if isinstance(value, IntImm) and dtype.lanes == 1:
        if dtype.is_float:
            return FloatImm(dtype, float(value.value))
        if dtype.is_bool:
            return IntImm(dtype, 1 if value.value else 0)
        wrapped = np.array(value.value).astype(dtype.numpy_dtype).item()
        return IntImm(dtype, int(wrapped))
    if isinstance(value, FloatImm) and dtype.lanes == 1 and dtype.is_float:
        return FloatImm(dtype, float(value.value))
    return Cast(dtype, value)


# ---------------------------------------------------------------------------------------
# constant folding helpers

def _is_const(x) -> bool:
    return isinstance(x, (IntImm, FloatImm))


def _wrap_int(value: int, dtype: DataType) -> int:
    if dtype.is_bool:
        return 1 if value else 0
    bits = dtype.bits
    value &= (1 << bits) - 1
    if dtype.is_int and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def _fold(cls, a, b, dtype, fn):
    if _is_const(a) and _is_const(b) and dtype.lanes == 1:
        result = fn(a.value, b.value)
        if dtype.is_float:
            if dtype.bits == 32:
                result = float(np.float32(result))
            elif dtype.bits == 16:
                result = float(np.float16(result)) if dtype.kind == "float" else result
            return FloatImm(dtype, float(result))
        return IntImm(dtype, _wrap_int(int(result), dtype))
    return cls(a, b, dtype)


def _check_numeric(x: PrimExpr, opname: str) -> None:
    if x.dtype.is_bool:
        raise TensorLangTypeError(
            f"cannot apply '{opname}' to the boolean expression '{x}'; cast it with "
            f".astype(\"int32\") or use te.if_then_else")
    if x.dtype.is_handle:
        raise TensorLangTypeError(f"cannot apply '{opname}' to '{x}'")


# ---------------------------------------------------------------------------------------
# arithmetic

def add(a, b) -> PrimExpr:
    a, b, t = _match(a, b, "+")
    _check_numeric(a, "+")
    if isinstance(b, IntImm) and b.value == 0 and t.is_integer:
        return a
    if isinstance(a, IntImm) and a.value == 0 and t.is_integer:
        return b
    return _fold(Add, a, b, t, operator.add)


def sub(a, b) -> PrimExpr:
    a, b, t = _match(a, b, "-")
    _check_numeric(a, "-")
    if isinstance(b, IntImm) and b.value == 0 and t.is_integer:
        return a
    return _fold(Sub, a, b, t, operator.sub)


def mul(a, b) -> PrimExpr:
    a, b, t = _match(a, b, "*")
    _check_numeric(a, "*")
    if t.is_integer:
        if isinstance(b, IntImm) and b.value == 1:
            return a
        if isinstance(a, IntImm) and a.value == 1:
            return b
    return _fold(Mul, a, b, t, operator.mul)


def neg(a) -> PrimExpr:
    a = convert(a)
    _check_numeric(a, "-")
    if isinstance(a, IntImm):
        return IntImm(a.dtype, _wrap_int(-a.value, a.dtype))
    if isinstance(a, FloatImm):
        return FloatImm(a.dtype, -a.value)
    zero = _literal_as(0, a.dtype, "-", a)
    return Sub(zero, a, a.dtype)


def div(a, b) -> PrimExpr:
    """True division; only for floats (integers use ``//``)."""
    a, b, t = _match(a, b, "/")
    if not t.is_float:
        raise TensorLangTypeError(
            f"'/' on the integer expressions '{a}' and '{b}' is ambiguous: use '//' for "
            f"floor division, or cast to a float type with .astype(\"float32\") first")
    return _fold(Div, a, b, t, lambda x, y: x / y if y != 0 else math.copysign(math.inf, x)
                 if x != 0 else math.nan)


def _int_only(a, b, opname):
    a, b, t = _match(a, b, opname)
    if not t.is_integer:
        raise TensorLangTypeError(
            f"'{opname}' is defined on integers only, but '{a}' is {a.dtype}; for floats "
            f"use te.floor(a / b)" + ("" if opname == "//" else " and a - b * te.floor(a / b)"))
    return a, b, t


def floordiv(a, b) -> PrimExpr:
    a, b, t = _int_only(a, b, "//")
    if isinstance(b, IntImm):
        if b.value == 0:
            raise TensorLangTypeError(f"division of '{a}' by zero")
        if b.value == 1:
            return a
    return _fold(FloorDiv, a, b, t, lambda x, y: x // y)


def floormod(a, b) -> PrimExpr:
    a, b, t = _int_only(a, b, "%")
    if isinstance(b, IntImm):
        if b.value == 0:
            raise TensorLangTypeError(f"remainder of '{a}' by zero")
        if b.value == 1:
            return IntImm(t, 0) if t.lanes == 1 else Broadcast(IntImm(t.element_of(), 0), t.lanes, t)
    return _fold(FloorMod, a, b, t, lambda x, y: x % y)


def truncdiv(a, b) -> PrimExpr:
    """C-style division rounding towards zero, for non-negative operands equal to ``//``."""
    a, b, t = _int_only(a, b, "truncdiv")
    sign_differs = logical_xor(lt(a, 0), lt(b, 0))
    q = floordiv(a, b)
    exact = eq(floormod(a, b), 0)
    return select(logical_and(sign_differs, logical_not(exact)), add(q, 1), q)


def minimum(a, b) -> PrimExpr:
    """Element-wise minimum; a NaN operand gives NaN, as numpy's ``minimum``."""
    a, b, t = _match(a, b, "min")
    _check_numeric(a, "min")
    return _fold(Min, a, b, t, _nan_min if t.is_float else min)


def maximum(a, b) -> PrimExpr:
    """Element-wise maximum; a NaN operand gives NaN, as numpy's ``maximum``."""
    a, b, t = _match(a, b, "max")
    _check_numeric(a, "max")
    return _fold(Max, a, b, t, _nan_max if t.is_float else max)


def _nan_min(x: float, y: float) -> float:
    # Python's min keeps its first argument when a comparison with NaN is false
    return x if x < y or x != x else y


def _nan_max(x: float, y: float) -> float:
    return x if x > y or x != x else y


def _cmp(cls, a, b, opname, fn) -> PrimExpr:
    a, b, t = _match(a, b, opname)
    result_t = dt.bool_.with_lanes(t.lanes)
    if _is_const(a) and _is_const(b) and t.lanes == 1:
        return IntImm(result_t, 1 if fn(a.value, b.value) else 0)
    return cls(a, b, result_t)


def lt(a, b): return _cmp(LT, a, b, "<", operator.lt)
def le(a, b): return _cmp(LE, a, b, "<=", operator.le)
def gt(a, b): return _cmp(GT, a, b, ">", operator.gt)
def ge(a, b): return _cmp(GE, a, b, ">=", operator.ge)
def eq(a, b): return _cmp(EQ, a, b, "==", operator.eq)
def ne(a, b): return _cmp(NE, a, b, "!=", operator.ne)


def _as_bool(x, opname) -> PrimExpr:
    if isinstance(x, bool):
        return const(x)
    x = convert(x)
    if not x.dtype.is_bool:
        raise TensorLangTypeError(
            f"'{opname}' needs boolean conditions, but '{x}' is {x.dtype}; compare it, "
            f"e.g. ({x}) != 0")
    return x


def logical_and(a, b) -> PrimExpr:
    a, b = _as_bool(a, "&"), _as_bool(b, "&")
    if isinstance(a, IntImm):
        return b if a.value else a
    if isinstance(b, IntImm):
        return a if b.value else b
    return And(a, b, a.dtype)


def logical_or(a, b) -> PrimExpr:
    a, b = _as_bool(a, "|"), _as_bool(b, "|")
    if isinstance(a, IntImm):
        return a if a.value else b
    if isinstance(b, IntImm):
        return b if b.value else a
    return Or(a, b, a.dtype)


def logical_not(a) -> PrimExpr:
    a = _as_bool(a, "~")
    if isinstance(a, IntImm):
        return IntImm(a.dtype, 0 if a.value else 1)
    return Not(a, a.dtype)


def logical_xor(a, b) -> PrimExpr:
    return ne(cast(_as_bool(a, "^"), "int8"), cast(_as_bool(b, "^"), "int8"))


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
    cond = _as_bool(cond, "likely")
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


def select(condition, true_value, false_value) -> PrimExpr:
    """``true_value`` where ``condition`` holds, else ``false_value``."""
    condition = _as_bool(condition, "if_then_else")
    true_value, false_value, t = _match(true_value, false_value, "if_then_else")
    if isinstance(condition, IntImm):
        return true_value if condition.value else false_value
    return Select(condition, true_value, false_value, t)


def abs(x) -> PrimExpr:  # noqa: A001  (mirrors the Python builtin)
    x = convert(x)
    _check_numeric(x, "abs")
    if x.dtype.is_uint:
        return x
    if x.dtype.is_float:
        return call_intrin("fabs", x)
    return select(ge(x, 0), x, neg(x))


def power(a, b) -> PrimExpr:
    a, b, t = _match(a, b, "**")
    if not t.is_float:
        if isinstance(b, IntImm) and 0 <= b.value <= 8:
            result = const(1, t)
            for _ in range(b.value):
                result = mul(result, a)
            return result
        raise TensorLangTypeError(
            f"'**' on the integer '{a}' needs a small constant exponent; cast to float for "
            f"te.power")
    return call_intrin("pow", a, b)


def call_intrin(name: str, *args) -> PrimExpr:
    """Call the math intrinsic ``name`` (``exp``, ``log``, ...) on float arguments."""
    if name not in INTRINSICS:
        raise TensorLangTypeError(f"unknown intrinsic {name!r}; known: {sorted(INTRINSICS)}")
    if len(args) != INTRINSICS[name]:
        raise TensorLangTypeError(f"{name} takes {INTRINSICS[name]} argument(s), "
                                  f"got {len(args)}")
    if len(args) == 2:
        a, b, t = _match(args[0], args[1], name)
        args = (a, b)
    else:
        a = convert(args[0])
        if a.dtype.is_integer and not isinstance(a, IntImm):
            raise TensorLangTypeError(
                f"{name}() needs a float argument, but '{a}' is {a.dtype}; cast it with "
                f".astype(\"float32\")")
        if isinstance(a, IntImm):
            a = const(float(a.value), "float32")
        args = (a,)
        t = a.dtype
    if not t.is_float:
        raise TensorLangTypeError(f"{name}() needs a float argument, got {t}")
    return Call(t, name, tuple(args))


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
           "broadcast", "var", "is_const_int", "as_const_int", "INTRINSICS", "CmpOp"]
