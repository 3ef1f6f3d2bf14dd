"""Integer bitwise operators: ``a >> b``, ``a << b``, ``a & b``, ``a | b``, ``a ^ b``, ``~a``.

Their meaning is C's and LLVM's on two's complement integers, which every engine follows:

* ``a >> b`` shifts arithmetically on signed types (the sign bit is copied in:
  ``-7 >> 1 == -4``) and logically on unsigned ones (zeros come in); ``a << b`` shifts
  zeros in and wraps to the type (``uint8(200) << 1 == 144``);
* a shift by an amount outside ``[0, bits)`` is undefined, as in C, LLVM and TVM: a
  constant amount out of range is refused when the expression is built, an amount known
  only at run time must stay in range (the engines give different results otherwise);
* ``& | ^`` act on the bits of the operands' common type (the promotion of ``+``); ``~a``
  is ``a ^ all_ones`` and is stored as such (LLVM has no "not" instruction either);
* on booleans ``& | ~ ^`` are logical and / or / not / xor; float operands are refused,
  with the hint to cast them.

>>> B = te.compute((n,), lambda i: (A[i] >> 2) & 3)      # A: int32
"""
from __future__ import annotations

import operator

from ..errors import TensorLangTypeError, TensorLangValueError
from . import datatype as dt
from .datatype import DataType
from .operators import (BITWISE_OPERATORS, BinaryOp, Broadcast, IntImm, PrimExpr, _is_literal,
                        cast, convert, logical_and, logical_not, logical_or, match_operands,
                        ne)


class BitwiseOp(BinaryOp):
    """An integer bitwise operation; the operands and the result share one type."""
    __slots__ = ()


class ShiftRight(BitwiseOp):
    """``a >> b``: arithmetic on signed types, logical on unsigned ones."""
    __slots__ = ()


class ShiftLeft(BitwiseOp):
    """``a << b``, wrapping to the type."""
    __slots__ = ()


class BitwiseAnd(BitwiseOp):
    __slots__ = ()


class BitwiseOr(BitwiseOp):
    __slots__ = ()


class BitwiseXor(BitwiseOp):
    """``a ^ b``; ``~a`` is ``a ^ all_ones(a.dtype)``."""
    __slots__ = ()


SHIFTS = (ShiftRight, ShiftLeft)
#: node class -> its Python operator and the function on Python ints
SPELLING = {ShiftRight: ">>", ShiftLeft: "<<", BitwiseAnd: "&", BitwiseOr: "|",
            BitwiseXor: "^"}
_ON_INTS = {ShiftRight: operator.rshift, ShiftLeft: operator.lshift,
            BitwiseAnd: operator.and_, BitwiseOr: operator.or_, BitwiseXor: operator.xor}


def all_ones(dtype: DataType) -> int:
    """The value with every bit set in the integer type ``dtype`` (-1, or 2**bits - 1)."""
    return -1 if dtype.is_int else (1 << dtype.bits) - 1


def is_not(node) -> bool:
    """Whether ``node`` is ``~a``, that is ``a ^ all_ones`` (a broadcast one for vectors)."""
    if type(node) is not BitwiseXor:
        return False
    b = node.b.value if type(node.b) is Broadcast else node.b
    return type(b) is IntImm and b.value == all_ones(node.dtype)


def fold(cls, a: PrimExpr, b: PrimExpr, dtype: DataType) -> PrimExpr:
    """``cls(a, b)`` with constants folded and the identities of 0 and all-ones applied
    (``x | 0 -> x``, ``x & 0 -> 0``, ``x >> 0 -> x``); the simplifier shares it.  A
    constant shift out of range stays unfolded (its value is undefined)."""
    if dtype.lanes == 1 and type(b) is IntImm:
        if cls in SHIFTS and not 0 <= b.value < dtype.bits:
            return cls(a, b, dtype)
        if type(a) is IntImm:
            return IntImm(dtype, dt.wrap_int(_ON_INTS[cls](a.value, b.value), dtype))
        if b.value == 0:
            return b if cls is BitwiseAnd else a
        if cls is BitwiseAnd and b.value == all_ones(dtype):
            return a
        if cls is BitwiseOr and b.value == all_ones(dtype):
            return b
    if dtype.lanes == 1 and type(a) is IntImm and cls not in SHIFTS:
        return fold(cls, b, a, dtype)
    return cls(a, b, dtype)


def _check_operand(x, opname: str) -> None:
    if _is_literal(x):
        if isinstance(x, float):
            raise TensorLangTypeError(
                f"'{opname}' is an integer bitwise operator, but {x!r} is a float: use an "
                f"integer")
        return
    x = convert(x)
    if x.dtype.is_float:
        raise TensorLangTypeError(
            f"'{opname}' is an integer bitwise operator, but '{x}' is {x.dtype}: cast it "
            f"with ({x}).astype(\"int32\") (or compare it, to combine booleans)")
    if not (x.dtype.is_integer or x.dtype.is_bool):
        raise TensorLangTypeError(f"cannot apply '{opname}' to '{x}' ({x.dtype})")


def _build(cls, a, b) -> PrimExpr:
    opname = SPELLING[cls]
    _check_operand(a, opname)
    _check_operand(b, opname)
    a, b, t = match_operands(a, b, opname)
    if t.is_bool:
        if cls is BitwiseXor:  # logical xor, as numpy's ^ on booleans
            return ne(cast(a, "int8"), cast(b, "int8"))
        raise TensorLangTypeError(
            f"'{opname}' on the booleans '{a}' and '{b}': shifts are defined on integers; "
            f"cast with .astype(\"int32\")")
    if cls in SHIFTS:
        amount = b.value if type(b) is Broadcast else b
        if type(amount) is IntImm and not 0 <= amount.value < t.bits:
            raise TensorLangValueError(
                f"'{a} {opname} {amount.value}': the shift amount {amount.value} is outside "
                f"[0, {t.bits}) for {t.element_of()}, where C, LLVM and CUDA leave the "
                f"result undefined")
    return fold(cls, a, b, t)


def shift_right(a, b) -> PrimExpr:
    """``a >> b`` (TVM's ``tir.shift_right``): arithmetic on signed, logical on unsigned."""
    return _build(ShiftRight, a, b)


def shift_left(a, b) -> PrimExpr:
    """``a << b`` (TVM's ``tir.shift_left``), wrapping to the type."""
    return _build(ShiftLeft, a, b)


def bitwise_and(a, b) -> PrimExpr:
    """``a & b`` on integers (TVM's ``tir.bitwise_and``)."""
    return _build(BitwiseAnd, a, b)


def bitwise_or(a, b) -> PrimExpr:
    """``a | b`` on integers (TVM's ``tir.bitwise_or``)."""
    return _build(BitwiseOr, a, b)


def bitwise_xor(a, b) -> PrimExpr:
    """``a ^ b`` on integers (TVM's ``tir.bitwise_xor``)."""
    return _build(BitwiseXor, a, b)


def bitwise_not(a) -> PrimExpr:
    """``~a`` on integers (TVM's ``tir.bitwise_not``): ``a ^ all_ones``."""
    _check_operand(a, "~")
    a = convert(a)
    if a.dtype.is_bool:
        raise TensorLangTypeError(
            f"bitwise_not of the boolean '{a}': use ~ or te's logical not for booleans, or "
            f"cast with .astype(\"int32\")")
    ones = IntImm(a.dtype.element_of(), all_ones(a.dtype))
    return bitwise_xor(a, Broadcast(ones, a.dtype.lanes, a.dtype) if a.dtype.lanes > 1
                       else ones)


def _is_boolean(x) -> bool:
    if isinstance(x, bool):
        return True
    return not _is_literal(x) and convert(x).dtype.is_bool


def and_(a, b) -> PrimExpr:
    """``a & b``: logical on booleans, bitwise on integers."""
    return logical_and(a, b) if _is_boolean(a) or _is_boolean(b) else bitwise_and(a, b)


def or_(a, b) -> PrimExpr:
    """``a | b``: logical on booleans, bitwise on integers."""
    return logical_or(a, b) if _is_boolean(a) or _is_boolean(b) else bitwise_or(a, b)


def invert(a) -> PrimExpr:
    """``~a``: logical not on booleans, bitwise not on integers."""
    return logical_not(a) if _is_boolean(a) else bitwise_not(a)


BITWISE_OPERATORS.update({"&": and_, "|": or_, "~": invert, "^": bitwise_xor,
                          ">>": shift_right, "<<": shift_left})

__all__ = ["BitwiseOp", "ShiftRight", "ShiftLeft", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
           "shift_right", "shift_left", "bitwise_and", "bitwise_or", "bitwise_xor",
           "bitwise_not", "all_ones", "is_not"]
