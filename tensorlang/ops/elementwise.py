"""Element-wise operators with numpy broadcasting: ``add``, ``subtract``, ``multiply``,
``divide``, ``floor_divide``, ``floor_mod``, ``maximum``, ``minimum``, ``relu`` and
unary math (``exp``, ``sigmoid``, ``tanh``, ...).

>>> A = te.placeholder((4, 8), name="A")
>>> b = te.placeholder((8,), name="b")
>>> C = ops.add(A, b)            # (4, 8): b broadcasts along the first axis
>>> D = ops.multiply(C, 2.0)     # a Python scalar takes the tensor's dtype
"""
from __future__ import annotations

from ..errors import TensorLangTypeError
from ..tir import datatype as dt
from ..tir import op as _op
from ..te.broadcast import broadcast_binary, true_divide
from ..te.declare import compute
from ..te.graph import Tensor
from .utils import check_tensor


def add(lhs, rhs, name: str = "T_add"):
    """``lhs + rhs`` with broadcasting; either side may be a Python scalar."""
    return broadcast_binary(lhs, rhs, _op.add, "ops.add", name)


def subtract(lhs, rhs, name: str = "T_subtract"):
    """``lhs - rhs`` with broadcasting."""
    return broadcast_binary(lhs, rhs, _op.sub, "ops.subtract", name)


def multiply(lhs, rhs, name: str = "T_multiply"):
    """``lhs * rhs`` with broadcasting."""
    return broadcast_binary(lhs, rhs, _op.mul, "ops.multiply", name)


def divide(lhs, rhs, name: str = "T_divide"):
    """``lhs / rhs`` with broadcasting, for floats (use :func:`floor_divide` on integers)."""
    return true_divide(lhs, rhs, name, "ops.divide")


def floor_divide(lhs, rhs, name: str = "T_floor_divide"):
    """``lhs // rhs`` (rounding towards minus infinity) on integers, with broadcasting."""
    _integers_only((lhs, rhs), "ops.floor_divide")
    return broadcast_binary(lhs, rhs, _op.floordiv, "ops.floor_divide", name)


def floor_mod(lhs, rhs, name: str = "T_floor_mod"):
    """``lhs % rhs`` (sign of the divisor) on integers, with broadcasting."""
    _integers_only((lhs, rhs), "ops.floor_mod")
    return broadcast_binary(lhs, rhs, _op.floormod, "ops.floor_mod", name)


def _integers_only(operands, op_name):
    for x in operands:
        if isinstance(x, Tensor) and not x.dtype.is_integer:
            raise TensorLangTypeError(f"{op_name}: tensor '{x.name}' is {x.dtype}; this "
                                      f"operator is defined on integers only")


def maximum(lhs, rhs, name: str = "T_maximum"):
    """Element-wise maximum with broadcasting."""
    return broadcast_binary(lhs, rhs, _op.maximum, "ops.maximum", name)


def minimum(lhs, rhs, name: str = "T_minimum"):
    """Element-wise minimum with broadcasting."""
    return broadcast_binary(lhs, rhs, _op.minimum, "ops.minimum", name)


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
