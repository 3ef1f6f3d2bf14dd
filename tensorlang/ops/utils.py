"""Argument checking and shape helpers shared by the operator library."""
from __future__ import annotations

from ..errors import TensorLangTypeError, TensorLangValueError
from ..tir.op import as_const_int, convert
from ..te.broadcast import format_shape
from ..te.graph import Tensor


def check_tensor(value, op_name: str, argument: str) -> Tensor:
    """``value`` if it is a te.Tensor, else an error naming the operator and argument."""
    if not isinstance(value, Tensor):
        raise TensorLangTypeError(
            f"{op_name}: argument '{argument}' must be a te.Tensor, got "
            f"{type(value).__name__} {value!r}")
    return value


def check_ndim(tensor: Tensor, ndims, op_name: str, layout: str = "") -> None:
    """Raise unless ``tensor`` has one of the dimension counts ``ndims``."""
    ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if tensor.ndim not in ndims:
        expected = " or ".join(str(n) for n in ndims)
        hint = f" ({layout})" if layout else ""
        raise TensorLangValueError(
            f"{op_name}: tensor '{tensor.name}' must have {expected} dimensions{hint}, but "
            f"its shape is {format_shape(tensor.shape)}")


def normalize_axis(axis: int, ndim: int, op_name: str, tensor: Tensor) -> int:
    """A possibly negative axis as an index in ``range(ndim)``."""
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TensorLangTypeError(f"{op_name}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise TensorLangValueError(
            f"{op_name}: axis {axis} is out of range for tensor '{tensor.name}' with "
            f"{ndim} dimension(s)")
    return axis % ndim


def int_tuple(value, length: int, op_name: str, argument: str, minimum: int = 0):
    """An int or a sequence of ``length`` ints as a tuple, each at least ``minimum``."""
    if isinstance(value, bool):
        raise TensorLangTypeError(f"{op_name}: {argument} must be an int or a tuple of "
                                  f"{length} ints, got {value!r}")
    if isinstance(value, int):
        value = (value,) * length
    try:
        items = tuple(value)
    except TypeError:
        raise TensorLangTypeError(f"{op_name}: {argument} must be an int or a tuple of "
                                  f"{length} ints, got {value!r}") from None
    if len(items) != length or not all(isinstance(v, int) and not isinstance(v, bool)
                                       for v in items):
        raise TensorLangTypeError(f"{op_name}: {argument} must be an int or a tuple of "
                                  f"{length} ints, got {value!r}")
    if any(v < minimum for v in items):
        raise TensorLangValueError(f"{op_name}: {argument} must be at least {minimum}, got "
                                   f"{value!r}")
    return items


def padding_2d(padding, op_name: str) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)`` from an int, a pair ``(h, w)`` or a 4-tuple."""
    if isinstance(padding, (tuple, list)) and len(padding) == 2:
        padding = (padding[0], padding[1], padding[0], padding[1])
    return int_tuple(padding, 4, op_name,
                     "padding (an int, (h, w) or (top, left, bottom, right))")


def check_positive_extent(extent, op_name: str, what: str) -> None:
    """Raise when a constant output extent is not positive."""
    value = as_const_int(extent)
    if value is not None and value <= 0:
        raise TensorLangValueError(f"{op_name}: {what} would be {value}; the window does "
                                   f"not fit the input")


def output_extent(size, pad_total: int, window: int, stride: int, dilation: int):
    """Output size of a sliding window: ``(size + pad - dilation*(window-1) - 1) // stride + 1``."""
    return (convert(size) + (pad_total - dilation * (window - 1) - 1)) // stride + 1
