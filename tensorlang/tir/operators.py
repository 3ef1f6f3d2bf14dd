"""The arithmetic expression nodes and the Python operators that build them.

``a + b`` on expressions checks and promotes types and folds constants; it needs the
nodes it builds, and every expression node needs the operators, so both live here, at
the bottom of the expression layer.  Python ``int``/``float`` literals take the type of the
other operand (``A[i] * 2.0`` stays ``float32``), except that a float with an integer
expression is float32 arithmetic, as in TVM (``i * 2.0``); two expressions of different
types combine only where :func:`tensorlang.tir.datatype.promote` allows it, otherwise the
error names both operands and suggests ``astype``.  :mod:`tensorlang.tir.expr` adds the other
nodes and re-exports these; :mod:`tensorlang.tir.op` adds the other builders.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np

from ..errors import TensorLangTypeError
from . import datatype as dt
from .datatype import DataType
from .intrin_table import INTRINSICS, check_declared_call, is_declared
from .node import Node
from .structural import structural_equal


BITWISE_OPERATORS: dict = {}  # Python operator -> builder, set by tensorlang.tir.bitwise


def _tensor(value) -> bool:
    """Whether ``value`` is a te Tensor, whose class says so (this layer is below te)."""
    return getattr(type(value), "tensor_operand", False)


class ExprOp:
    """Python operators for anything usable as an expression (PrimExpr, IterVar)."""

    __slots__ = ()

    def _as_expr(self) -> "PrimExpr":
        return self  # type: ignore[return-value]

    # arithmetic with a whole tensor (``n + A``) is the tensor's: see te.broadcast
    def __add__(self, other): return NotImplemented if _tensor(other) else add(self, other)
    def __radd__(self, other): return add(other, self)
    def __sub__(self, other): return NotImplemented if _tensor(other) else sub(self, other)
    def __rsub__(self, other): return sub(other, self)
    def __mul__(self, other): return NotImplemented if _tensor(other) else mul(self, other)
    def __rmul__(self, other): return mul(other, self)
    def __truediv__(self, other):
        return NotImplemented if _tensor(other) else div(self, other)
    def __rtruediv__(self, other): return div(other, self)
    def __floordiv__(self, other): return floordiv(self, other)
    def __rfloordiv__(self, other): return floordiv(other, self)
    def __mod__(self, other): return floormod(self, other)
    def __rmod__(self, other): return floormod(other, self)
    def __pow__(self, other): return power(self, other)
    def __rpow__(self, other): return power(other, self)
    def __neg__(self): return neg(self)
    def __pos__(self): return self._as_expr()
    def __abs__(self): return abs(self)
    def __lt__(self, other): return lt(self, other)
    def __le__(self, other): return le(self, other)
    def __gt__(self, other): return gt(self, other)
    def __ge__(self, other): return ge(self, other)
    def __eq__(self, other): return eq(self, other)  # type: ignore[override]
    def __ne__(self, other): return ne(self, other)  # type: ignore[override]
    # & | ~: logical on booleans, bitwise on integers; >> << ^: integers (tir.bitwise)
    def __and__(self, other): return BITWISE_OPERATORS["&"](self, other)
    def __rand__(self, other): return BITWISE_OPERATORS["&"](other, self)
    def __or__(self, other): return BITWISE_OPERATORS["|"](self, other)
    def __ror__(self, other): return BITWISE_OPERATORS["|"](other, self)
    def __xor__(self, other): return BITWISE_OPERATORS["^"](self, other)
    def __rxor__(self, other): return BITWISE_OPERATORS["^"](other, self)
    def __rshift__(self, other): return BITWISE_OPERATORS[">>"](self, other)
    def __rrshift__(self, other): return BITWISE_OPERATORS[">>"](other, self)
    def __lshift__(self, other): return BITWISE_OPERATORS["<<"](self, other)
    def __rlshift__(self, other): return BITWISE_OPERATORS["<<"](other, self)
    def __invert__(self): return BITWISE_OPERATORS["~"](self)
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return str(self)

    def astype(self, dtype) -> "PrimExpr":
        """Cast to ``dtype`` (``A[i].astype("float16")``)."""
        return cast(self, dtype)

    def __getitem__(self, index):
        raise TensorLangTypeError(f"'{self._as_expr()}' is a scalar value, not a tensor: it "
                                  f"cannot be indexed (too many indices?)")

    def equal(self, other) -> "PrimExpr":
        """``self == other`` as an expression (TVM's spelling: ``tx.var.equal(0)``)."""
        return eq(self, other)

    def __bool__(self) -> bool:
        raise TensorLangTypeError(
            f"the truth value of the symbolic expression '{self._as_expr()}' is unknown "
            f"until the program runs: use te.if_then_else(cond, a, b) or te.select for a "
            f"conditional value, te.all(...)/te.any(...) to combine conditions, and "
            f"'&', '|', '~' instead of 'and', 'or', 'not'")

    def __index__(self) -> int:
        raise TensorLangTypeError(
            f"the symbolic expression '{self._as_expr()}' is not a Python int; "
            f"use a concrete integer here")

    def __iter__(self):
        raise TensorLangTypeError(f"the expression '{self._as_expr()}' is not iterable")


class PrimExpr(ExprOp, Node):
    """A scalar (or vector) expression with a :class:`DataType` in ``self.dtype``."""

    __slots__ = ()
    dtype: DataType


# ---------------------------------------------------------------------------------------
# leaves
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class IntImm(PrimExpr):
    """Integer or boolean constant (``int(c)`` and ``range(c)`` take its value, so a
    constant shape dimension works wherever Python wants an int)."""
    dtype: DataType
    value: int

    def __index__(self) -> int:
        return self.value

    def __bool__(self) -> bool:
        """A constant's truth is known: ``bool(te.const(1) == 1)`` is True (as in TVM)."""
        return bool(self.value)

    __int__ = __index__


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class FloatImm(PrimExpr):
    """Floating-point constant."""
    dtype: DataType
    value: float


# ---------------------------------------------------------------------------------------
# arithmetic
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Cast(PrimExpr):
    dtype: DataType
    value: PrimExpr
    _children = ("value",)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class BinaryOp(PrimExpr):
    a: PrimExpr
    b: PrimExpr
    dtype: DataType
    _children = ("a", "b")


class Add(BinaryOp):
    __slots__ = ()


class Sub(BinaryOp):
    __slots__ = ()


class Mul(BinaryOp):
    __slots__ = ()


class Div(BinaryOp):
    """True division of floats (``/``)."""
    __slots__ = ()


class FloorDiv(BinaryOp):
    """Integer division rounding towards minus infinity (``//``)."""
    __slots__ = ()


class FloorMod(BinaryOp):
    """Integer remainder with the sign of the divisor (``%``)."""
    __slots__ = ()


class Min(BinaryOp):
    __slots__ = ()


class Max(BinaryOp):
    __slots__ = ()


class CmpOp(BinaryOp):
    """Comparison; ``dtype`` is bool (with the operands' lanes)."""
    __slots__ = ()


class EQ(CmpOp):
    __slots__ = ()

    def __bool__(self) -> bool:
        # `x in [a, b]` and `a == b` in plain Python code compare structure, as in TVM.
        return structural_equal(self.a, self.b)


class NE(CmpOp):
    __slots__ = ()

    def __bool__(self) -> bool:
        return not structural_equal(self.a, self.b)


class LT(CmpOp):
    __slots__ = ()


class LE(CmpOp):
    __slots__ = ()


class GT(CmpOp):
    __slots__ = ()


class GE(CmpOp):
    __slots__ = ()


class And(BinaryOp):
    __slots__ = ()


class Or(BinaryOp):
    __slots__ = ()


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Not(PrimExpr):
    a: PrimExpr
    dtype: DataType
    _children = ("a",)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Select(PrimExpr):
    """``true_value if condition else false_value``.

    Only the chosen branch is evaluated (a branch may load out of bounds when not taken,
    as padding does), so code generators must not speculate loads of the other branch."""
    condition: PrimExpr
    true_value: PrimExpr
    false_value: PrimExpr
    dtype: DataType
    _children = ("condition", "true_value", "false_value")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Call(PrimExpr):
    """Call of an intrinsic by name: ``exp``, ``log``, ``sqrt``, ``tanh``, ``pow``, ...
    (see :data:`tensorlang.tir.op.INTRINSICS`)."""
    dtype: DataType
    op: str
    args: tuple[PrimExpr, ...]
    _children = ("args",)


# ---------------------------------------------------------------------------------------
# vectors
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Broadcast(PrimExpr):
    """A scalar repeated over ``lanes`` lanes."""
    value: PrimExpr
    lanes: int
    dtype: DataType
    _children = ("value",)


# ---------------------------------------------------------------------------------------
# constants and conversion

#: intrinsic name -> number of arguments; all take and return floats
def const(value, dtype=None) -> PrimExpr:
    """A typed constant; ``dtype`` defaults to int32 / float32 / bool from the value."""
    if isinstance(value, PrimExpr):
        return value if dtype is None else cast(value, dtype)
    if isinstance(value, (np.generic,)):
        if dtype is None:
            dtype = dt.dtype(value.dtype)
        value = value.item()
    dtype = dt.default_dtype(value) if dtype is None else dt.dtype(dtype)
    number = dt.constant_value(value, dtype)
    return FloatImm(dtype, number) if dtype.is_float else IntImm(dtype, number)


def convert(value) -> PrimExpr:
    """Turn a Python number, IterVar or expression into a :class:`PrimExpr`."""
    if isinstance(value, PrimExpr):
        return value
    if isinstance(value, ExprOp):  # an IterVar stands for its variable
        return value._as_expr()
    if isinstance(value, (bool, int, float, np.generic)):
        return const(value)
    if hasattr(value, "_as_expr"):  # te's partial index A[i]: says what it lacks
        return value._as_expr()
    raise TensorLangTypeError(
        f"expected an expression or a number, got {type(value).__name__} {value!r}")


def _is_literal(value) -> bool:
    return isinstance(value, (bool, int, float, np.generic)) and not isinstance(value, ExprOp)


def match_operands(a, b, opname: str) -> tuple[PrimExpr, PrimExpr, DataType]:
    """Convert both operands to expressions of one common type."""
    if _is_literal(a) and _is_literal(b):
        a, b = const(a), const(b)
    elif _is_literal(a):
        b = _float_for_literal(convert(b), a)
        a = _literal_as(a, b.dtype, opname, b)
    elif _is_literal(b):
        a = _float_for_literal(convert(a), b)
        b = _literal_as(b, a.dtype, opname, a)
    else:
        a, b = convert(a), convert(b)
    if a.dtype == b.dtype:
        return a, b, a.dtype
    common = dt.promote(a.dtype, b.dtype)
    if common is None:
        # an int with a float: cast the int (TVM does so silently, rounding past 2**24)
        narrow, wide = (a, b) if a.dtype.is_integer and b.dtype.is_float else (b, a)
        raise TensorLangTypeError(
            f"cannot apply '{opname}' to '{a}' ({a.dtype}) and '{b}' ({b.dtype}): the types "
            f"differ; cast one side explicitly, e.g. "
            f"({narrow}).astype(\"{wide.dtype.element_of()}\")")
    return _to(a, common), _to(b, common), common


def _float_for_literal(expr: PrimExpr, literal) -> PrimExpr:
    """An integer expression with a Python float (``i * 2.0``) becomes float32, TVM's
    type of a float literal (exact below 2**24)."""
    if isinstance(literal, (float, np.floating)) and expr.dtype.is_integer:
        return _to(expr, dt.float32.with_lanes(expr.dtype.lanes))
    return expr


def _literal_as(value, dtype: DataType, opname: str, other: PrimExpr) -> PrimExpr:
    """The literal ``value`` in the type of ``other``: a number takes the expression's
    type (``A[i] * 2.0`` stays float16 on a float16 tensor), except a float with an
    integer expression, which is float32 arithmetic, as in TVM (see match_operands)."""
    scalar = dtype.element_of()
    if isinstance(value, np.generic):
        value = value.item()
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


def fold_binary(cls, a, b, dtype, fn):
    if _is_const(a) and _is_const(b) and dtype.lanes == 1:
        result = fn(a.value, b.value)
        if dtype.is_float:
            return FloatImm(dtype, dt.round_float(result, dtype))
        return IntImm(dtype, dt.wrap_int(int(result), dtype))
    return cls(a, b, dtype)


def check_numeric(x: PrimExpr, opname: str) -> None:
    if x.dtype.is_bool:
        raise TensorLangTypeError(
            f"cannot apply '{opname}' to the boolean expression '{x}'; cast it with "
            f".astype(\"int32\") or use te.if_then_else")
    if x.dtype.is_handle:
        raise TensorLangTypeError(f"cannot apply '{opname}' to '{x}'")


# ---------------------------------------------------------------------------------------
# arithmetic

def add(a, b) -> PrimExpr:
    a, b, t = match_operands(a, b, "+")
    check_numeric(a, "+")
    if isinstance(b, IntImm) and b.value == 0 and t.is_integer:
        return a
    if isinstance(a, IntImm) and a.value == 0 and t.is_integer:
        return b
    return fold_binary(Add, a, b, t, operator.add)


def sub(a, b) -> PrimExpr:
    a, b, t = match_operands(a, b, "-")
    check_numeric(a, "-")
    if isinstance(b, IntImm) and b.value == 0 and t.is_integer:
        return a
    return fold_binary(Sub, a, b, t, operator.sub)


def mul(a, b) -> PrimExpr:
    a, b, t = match_operands(a, b, "*")
    check_numeric(a, "*")
    if t.is_integer:
        if isinstance(b, IntImm) and b.value == 1:
            return a
        if isinstance(a, IntImm) and a.value == 1:
            return b
    return fold_binary(Mul, a, b, t, operator.mul)


def neg(a) -> PrimExpr:
    a = convert(a)
    check_numeric(a, "-")
    if isinstance(a, IntImm):
        return IntImm(a.dtype, dt.wrap_int(-a.value, a.dtype))
    if isinstance(a, FloatImm):
        return FloatImm(a.dtype, -a.value)
    zero = _literal_as(0, a.dtype, "-", a)
    return Sub(zero, a, a.dtype)


def div(a, b) -> PrimExpr:
    """True division; only for floats (integers use ``//``)."""
    a, b, t = match_operands(a, b, "/")
    if not t.is_float:
        raise TensorLangTypeError(
            f"'/' on the integer expressions '{a}' and '{b}' is ambiguous: use '//' for "
            f"floor division, or cast to a float type with .astype(\"float32\") first")
    return fold_binary(Div, a, b, t, lambda x, y: x / y if y != 0 else math.copysign(math.inf, x)
                 if x != 0 else math.nan)


def integer_operands(a, b, opname):
    a, b, t = match_operands(a, b, opname)
    if not t.is_integer:
        raise TensorLangTypeError(
            f"'{opname}' is defined on integers only, but '{a}' is {a.dtype}; for floats "
            f"use te.floor(a / b)" + ("" if opname == "//" else " and a - b * te.floor(a / b)"))
    return a, b, t


def floordiv(a, b) -> PrimExpr:
    a, b, t = integer_operands(a, b, "//")
    if isinstance(b, IntImm):
        if b.value == 0:
            raise TensorLangTypeError(f"division of '{a}' by zero")
        if b.value == 1:
            return a
    return fold_binary(FloorDiv, a, b, t, lambda x, y: x // y)


def floormod(a, b) -> PrimExpr:
    a, b, t = integer_operands(a, b, "%")
    if isinstance(b, IntImm):
        if b.value == 0:
            raise TensorLangTypeError(f"remainder of '{a}' by zero")
        if b.value == 1:
            return IntImm(t, 0) if t.lanes == 1 else Broadcast(IntImm(t.element_of(), 0), t.lanes, t)
    return fold_binary(FloorMod, a, b, t, lambda x, y: x % y)


def _cmp(cls, a, b, opname, fn) -> PrimExpr:
    a, b, t = match_operands(a, b, opname)
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


def as_condition(x, opname) -> PrimExpr:
    if isinstance(x, bool):
        return const(x)
    x = convert(x)
    if not x.dtype.is_bool:
        raise TensorLangTypeError(
            f"'{opname}' needs boolean conditions, but '{x}' is {x.dtype}; compare it, "
            f"e.g. ({x}) != 0")
    return x


def logical_and(a, b) -> PrimExpr:
    a, b = as_condition(a, "&"), as_condition(b, "&")
    if isinstance(a, IntImm):
        return b if a.value else a
    if isinstance(b, IntImm):
        return a if b.value else b
    return And(a, b, a.dtype)


def logical_or(a, b) -> PrimExpr:
    a, b = as_condition(a, "|"), as_condition(b, "|")
    if isinstance(a, IntImm):
        return a if a.value else b
    if isinstance(b, IntImm):
        return b if b.value else a
    return Or(a, b, a.dtype)


def logical_not(a) -> PrimExpr:
    a = as_condition(a, "~")
    if isinstance(a, IntImm):
        return IntImm(a.dtype, 0 if a.value else 1)
    return Not(a, a.dtype)


def select(condition, true_value, false_value) -> PrimExpr:
    """``true_value`` where ``condition`` holds, else ``false_value``."""
    condition = as_condition(condition, "if_then_else")
    true_value, false_value, t = match_operands(true_value, false_value, "if_then_else")
    if isinstance(condition, IntImm):
        return true_value if condition.value else false_value
    return Select(condition, true_value, false_value, t)


def abs(x) -> PrimExpr:  # noqa: A001  (mirrors the Python builtin)
    x = convert(x)
    check_numeric(x, "abs")
    if x.dtype.is_uint:
        return x
    if x.dtype.is_float:
        return call_intrin("fabs", x)
    return select(ge(x, 0), x, neg(x))


def power(a, b) -> PrimExpr:
    a, b, t = match_operands(a, b, "**")
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


def call_intrin(name: str, *args, dtype=None) -> PrimExpr:
    """Call the math intrinsic ``name`` (``exp``, ``log``, ...) on float arguments, or one
    declared with ``tir.register_intrin`` (of type ``dtype``, else its first argument's)."""
    if name not in INTRINSICS and is_declared(name):
        args = tuple(convert(a) for a in args)
        check_declared_call(name, len(args), dtype)
        return Call(dt.dtype(dtype) if dtype is not None else args[0].dtype, name, args)
    if name not in INTRINSICS:
        raise TensorLangTypeError(f"unknown intrinsic {name!r}; known: {sorted(INTRINSICS)}")
    if len(args) != INTRINSICS[name]:
        raise TensorLangTypeError(f"{name} takes {INTRINSICS[name]} argument(s), "
                                  f"got {len(args)}")
    if len(args) == 2:
        a, b, t = match_operands(args[0], args[1], name)
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
