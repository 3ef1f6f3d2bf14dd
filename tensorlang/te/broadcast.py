"""Element-wise operations of whole tensors with numpy broadcasting: ``A + B``, ``A - 1``,
``2 * A``, ``A / B``, ``-A`` on te Tensors, and the library's ``ops.add`` ... built on the
same :func:`broadcast_binary`.

>>> A = te.placeholder((4, 8), name="A")
>>> b = te.placeholder((8,), name="b")
>>> C = A + b                  # a new compute "T_add" of shape (4, 8), tag "broadcast"
>>> D = 2.0 * C                # tensor and scalar (a number or an expression): "elemwise"

As in TVM (whose topi overloads the operators of its Tensors), the four arithmetic
operators and negation make a new tensor; an element ``A[i]`` stays an expression, so
``A[i] + 1`` is unchanged.  Comparisons are not overloaded: ``A == B`` is identity and
tensors stay usable as dict keys.
"""
from __future__ import annotations

from ..errors import TensorLangTypeError, TensorLangValueError
from ..tir import datatype as dt
from ..tir import op as _op
from ..tir.expr import ExprOp
from ..tir.op import as_const_int, convert
from ..tir.structural import structural_equal
from .declare import compute
from .graph import TENSOR_OPERATORS, PartialIndex, Tensor

_SCALARS = (bool, int, float)


def format_shape(shape) -> str:
    """``(n, 64)`` for a shape of expressions."""
    items = [str(s) for s in shape]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def same_extent(a, b) -> bool:
    """Whether two extents are provably equal (equal constants or the same expression)."""
    a_value, b_value = as_const_int(convert(a)), as_const_int(convert(b))
    if a_value is not None and b_value is not None:
        return a_value == b_value
    return structural_equal(convert(a), convert(b))


def is_one(extent) -> bool:
    return as_const_int(convert(extent)) == 1


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


def _check_operand(x, op_name: str, argument: str) -> None:
    if isinstance(x, (Tensor, ExprOp) + _SCALARS):
        return
    if isinstance(x, PartialIndex):
        x._as_expr()   # says which indices are missing
    raise TensorLangTypeError(f"{op_name}: argument '{argument}' must be a te.Tensor, a "
                              f"number or an expression, got {type(x).__name__} {x!r}")


def broadcast_binary(a, b, function, op_name: str, name: str):
    """``function`` of the elements of ``a`` and ``b`` (tensors broadcast against each
    other, a number or expression used at every point): a new compute named ``name``,
    tagged "broadcast" for two tensors and "elemwise" for a tensor and a scalar (TVM's
    tags)."""
    for argument, x in (("lhs", a), ("rhs", b)):
        _check_operand(x, op_name, argument)
    operands = [x for x in (a, b) if isinstance(x, Tensor)]
    if not operands:
        raise TensorLangTypeError(
            f"{op_name}: at least one operand must be a te.Tensor, got {a!r} and {b!r}; "
            f"use Python arithmetic for plain numbers")
    if len(operands) == 2 and dt.promote(a.dtype, b.dtype) is None:
        raise TensorLangTypeError(
            f"{op_name}: tensor '{a.name}' is {a.dtype} but tensor '{b.name}' is {b.dtype}; "
            f"cast one of them first, e.g. ops.cast({b.name}, \"{a.dtype}\")")
    for x in (a, b):
        if isinstance(x, ExprOp):
            _check_scalar(operands[0], convert(x), op_name)
    shape = broadcast_shape(operands, op_name)
    ndim = len(shape)

    def element(x, indices):
        return _broadcast_index(x, indices, ndim) if isinstance(x, Tensor) else x

    tag = "broadcast" if len(operands) == 2 else "elemwise"
    return compute(shape, lambda *i: function(element(a, i), element(b, i)), name=name,
                   tag=tag)


def _check_scalar(tensor: Tensor, scalar, op_name: str) -> None:
    """A scalar expression must have the tensor's type, or one that promotes with it."""
    if scalar.dtype.lanes != 1:
        raise TensorLangTypeError(f"{op_name}: the scalar '{scalar}' is the vector "
                                  f"{scalar.dtype}; give a scalar expression")
    if dt.promote(tensor.dtype, scalar.dtype) is None:
        raise TensorLangTypeError(
            f"{op_name}: tensor '{tensor.name}' is {tensor.dtype} but the scalar "
            f"'{scalar}' is {scalar.dtype}; cast the scalar first: "
            f"({scalar}).astype(\"{tensor.dtype}\")")


def true_divide(a, b, name: str = "T_divide", op_name: str = "ops.divide"):
    """``a / b`` with broadcasting, for floats."""
    for x in (a, b):
        if isinstance(x, Tensor) and not x.dtype.is_float:
            raise TensorLangTypeError(
                f"{op_name}: tensor '{x.name}' is {x.dtype}; true division needs floats: "
                f"use ops.floor_divide for integers or ops.cast to a float type")
    return broadcast_binary(a, b, _op.div, op_name, name)


def _negate(x):
    return compute(x.shape, lambda *i: _op.neg(x[i]), name="T_negative", tag="elemwise")


def _arithmetic(function):
    return lambda a, b, op_name, name: broadcast_binary(a, b, function, op_name, name)


#: Python operator -> (builder of lhs, rhs, op_name, name; the result's name)
_OPERATORS = {"+": (_arithmetic(_op.add), "T_add"), "-": (_arithmetic(_op.sub), "T_subtract"),
              "*": (_arithmetic(_op.mul), "T_multiply"),
              "/": (lambda a, b, op_name, name: true_divide(a, b, name, op_name), "T_divide")}


def _operator(symbol: str, swap: bool):
    function, name = _OPERATORS[symbol]

    def apply(tensor, other):
        lhs, rhs = (other, tensor) if swap else (tensor, other)
        return function(lhs, rhs, f"'{symbol}' on tensor '{tensor.name}'", name)
    return apply


for _symbol in _OPERATORS:
    TENSOR_OPERATORS[_symbol] = _operator(_symbol, swap=False)
    TENSOR_OPERATORS["r" + _symbol] = _operator(_symbol, swap=True)
TENSOR_OPERATORS["neg"] = _negate
