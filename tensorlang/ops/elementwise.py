"""Element-wise operators with numpy broadcasting: ``add``, ``subtract``, ``multiply``,
``divide``, ``floor_divide``, ``floor_mod``, ``maximum``, ``minimum``, ``relu`` and
unary math (``exp``, ``sigmoid``, ``tanh``, ...).

>>> A = te.placeholder((4, 8), name="A")
>>> b = te.placeholder((8,), name="b")
>>> C = ops.add(A, b)            # (4, 8): b broadcasts along the first axis
>>> D = ops.multiply(C, 2.0)     # a Python scalar takes the tensor's dtype
"""
from __future__ import annotations

from ..errors import TensorLangTypeError, TensorLangValueError
from ..tir import datatype as dt
from ..tir import op as _op
from ..tir.expr import ExprOp
from ..te.declare import compute
from ..te.graph import Tensor
from .utils import check_tensor, format_shape, is_one, same_extent

_SCALARS = (bool, int, float)


def broadcast_shape(tensors, op_name: str) -> tuple:
    """The numpy-broadcast shape of ``tensors``; an error names two that do not fit."""
    ndim = max(t.ndim for t in tensors)
    shape = []
    for position in range(ndim):
        chosen, chosen_tensor = None, None
        for t in tensors:
            offset = position - (ndim - t.ndim)
            if offset < 0:
                continue
            extent = t.shape[offset]
            if chosen is None or is_one(chosen):
                chosen, chosen_tensor = extent, t
            elif not is_one(extent) and not same_extent(chosen, extent):
                raise TensorLangValueError(
                    f"{op_name}: cannot broadcast tensor '{chosen_tensor.name}' of shape "
                    f"{format_shape(chosen_tensor.shape)} with tensor '{t.name}' of shape "
                    f"{format_shape(t.shape)}: dimension {position} is {chosen} vs {extent} "
                    f"(sizes must be equal or 1)")
        shape.append(chosen)
    return tuple(shape)


def _broadcast_index(tensor: Tensor, indices, ndim: int):
    """The element of ``tensor`` that broadcasts to output point ``indices``."""
    own = indices[ndim - tensor.ndim:]
    return tensor[tuple(0 if is_one(extent) else i for extent, i in zip(tensor.shape, own))]


def _binary(a, b, function, op_name: str, name: str, tag: str = "broadcast"):
    operands = [x for x in (a, b) if isinstance(x, Tensor)]
    for argument, x in (("lhs", a), ("rhs", b)):
        if not isinstance(x, Tensor) and not isinstance(x, _SCALARS + (ExprOp,)):
            check_tensor(x, op_name, argument)
    if not operands:
        raise TensorLangTypeError(
            f"{op_name}: at least one operand must be a te.Tensor, got {a!r} and {b!r}; "
            f"use Python arithmetic for plain numbers")
    if len(operands) == 2 and dt.promote(a.dtype, b.dtype) is None:
        raise TensorLangTypeError(
            f"{op_name}: tensor '{a.name}' is {a.dtype} but tensor '{b.name}' is {b.dtype}; "
            f"cast one of them first, e.g. ops.cast({b.name}, \"{a.dtype}\")")
    shape = broadcast_shape(operands, op_name)
    ndim = len(shape)

    def element(x, indices):
        return _broadcast_index(x, indices, ndim) if isinstance(x, Tensor) else x

    return compute(shape, lambda *i: function(element(a, i), element(b, i)), name=name,
                   tag=tag)


def add(lhs, rhs, name: str = "T_add"):
    """``lhs + rhs`` with broadcasting; either side may be a Python scalar."""
    return _binary(lhs, rhs, _op.add, "ops.add", name)


def subtract(lhs, rhs, name: str = "T_subtract"):
    """``lhs - rhs`` with broadcasting."""
    return _binary(lhs, rhs, _op.sub, "ops.subtract", name)


def multiply(lhs, rhs, name: str = "T_multiply"):
    """``lhs * rhs`` with broadcasting."""
    return _binary(lhs, rhs, _op.mul, "ops.multiply", name)


def divide(lhs, rhs, name: str = "T_divide"):
    """``lhs / rhs`` with broadcasting, for floats (use :func:`floor_divide` on integers)."""
    for x in (lhs, rhs):
        if isinstance(x, Tensor) and not x.dtype.is_float:
            raise TensorLangTypeError(
                f"ops.divide: tensor '{x.name}' is {x.dtype}; true division needs floats: "
                f"use ops.floor_divide for integers or ops.cast to a float type")
    return _binary(lhs, rhs, _op.div, "ops.divide", name)


def floor_divide(lhs, rhs, name: str = "T_floor_divide"):
    """``lhs // rhs`` (rounding towards minus infinity) on integers, with broadcasting."""
    _integers_only((lhs, rhs), "ops.floor_divide")
    return _binary(lhs, rhs, _op.floordiv, "ops.floor_divide", name)


def floor_mod(lhs, rhs, name: str = "T_floor_mod"):
    """``lhs % rhs`` (sign of the divisor) on integers, with broadcasting."""
    _integers_only((lhs, rhs), "ops.floor_mod")
    return _binary(lhs, rhs, _op.floormod, "ops.floor_mod", name)


def _integers_only(operands, op_name):
    for x in operands:
        if isinstance(x, Tensor) and not x.dtype.is_integer:
            raise TensorLangTypeError(f"{op_name}: tensor '{x.name}' is {x.dtype}; this "
                                      f"operator is defined on integers only")


def maximum(lhs, rhs, name: str = "T_maximum"):
    """Element-wise maximum with broadcasting."""
    return _binary(lhs, rhs, _op.maximum, "ops.maximum", name)


def minimum(lhs, rhs, name: str = "T_minimum"):
    """Element-wise minimum with broadcasting."""
    return _binary(lhs, rhs, _op.minimum, "ops.minimum", name)


def _unary(x, function, op_name: str, name: str, floats_only: bool = False):
    check_tensor(x, op_name, "x")
    if floats_only and not x.dtype.is_float:
        raise TensorLangTypeError(
            f"{op_name}: tensor '{x.name}' is {x.dtype}; this function needs a float "
            f"tensor: ops.cast it first")
    return compute(x.shape, lambda *i: function(x[i]), name=name, tag="elemwise")


def relu(x, name: str = "T_relu"):
    """``max(x, 0)`` element-wise (any numeric dtype).

    >>> Y = ops.relu(X)
    """
    check_tensor(x, "ops.relu", "x")
    if x.dtype.is_bool:
        raise TensorLangTypeError(f"ops.relu: tensor '{x.name}' is boolean")
    return _unary(x, lambda v: _op.maximum(v, 0), "ops.relu", name)


def negative(x, name: str = "T_negative"):
    """``-x`` element-wise."""
    return _unary(x, _op.neg, "ops.negative", name)


def cast(x, dtype, name: str = "T_cast"):
    """``x`` converted to ``dtype`` element-wise."""
    check_tensor(x, "ops.cast", "x")
    target = dt.dtype(dtype)
    return _unary(x, lambda v: _op.cast(v, target), "ops.cast", name)


def exp(x, name: str = "T_exp"):
    """``e**x`` element-wise (floats)."""
    return _unary(x, lambda v: _op.call_intrin("exp", v), "ops.exp", name, True)


def log(x, name: str = "T_log"):
    """Natural logarithm element-wise (floats)."""
    return _unary(x, lambda v: _op.call_intrin("log", v), "ops.log", name, True)


def sqrt(x, name: str = "T_sqrt"):
    """Square root element-wise (floats)."""
    return _unary(x, lambda v: _op.call_intrin("sqrt", v), "ops.sqrt", name, True)


def tanh(x, name: str = "T_tanh"):
    """Hyperbolic tangent element-wise (floats)."""
    return _unary(x, lambda v: _op.call_intrin("tanh", v), "ops.tanh", name, True)


def sigmoid(x, name: str = "T_sigmoid"):
    """``1 / (1 + exp(-x))`` element-wise (floats)."""
    return _unary(x, lambda v: _op.call_intrin("sigmoid", v), "ops.sigmoid", name, True)
