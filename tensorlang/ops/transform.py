"""Layout operators: ``pad``, ``transpose``, ``reshape``.

>>> X = te.placeholder((2, 3, 4), name="X")
>>> P = ops.pad(X, (0, 1, 1), (0, 1, 1))        # (2, 5, 6), zeros around the last two axes
>>> T = ops.transpose(X, (2, 0, 1))             # (4, 2, 3)
>>> R = ops.reshape(X, (6, -1))                  # (6, 4)
"""
from __future__ import annotations

import math

from ..errors import TensorLangTypeError, TensorLangValueError
from ..tir import expr as E
from ..tir import op as _op
from ..tir.op import as_const_int, convert
from ..te.declare import compute
from ..te.broadcast import format_shape
from .utils import check_tensor


def pad(data, pad_before, pad_after=None, pad_value=0, name: str = "pad"):
    """``data`` surrounded by ``pad_value``: ``pad_before[d]`` elements before and
    ``pad_after[d]`` (default: the same as before) after each dimension ``d``.

    Points of the padding read nothing from ``data`` (an ``if_then_else`` guards the
    read), so a schedule may inline this stage into its consumer or ``compute_at`` it.
    """
    check_tensor(data, "ops.pad", "data")
    before = _pad_widths(pad_before, data, "pad_before")
    after = before if pad_after is None else _pad_widths(pad_after, data, "pad_after")
    value = _pad_value(pad_value, data)
    out_shape = tuple(convert(extent) + b + a if (b or a) else extent
                      for extent, b, a in zip(data.shape, before, after))

    def element(*indices):
        conditions = []
        source = []
        for i, extent, b, a in zip(indices, data.shape, before, after):
            if b:
                conditions.append(i >= b)
            if a:
                conditions.append(i < convert(extent) + b)
            source.append(i - b if b else i)
        if not conditions:
            return data[tuple(source)]
        # likely: loop partitioning splits the border off a consumer this is inlined into
        return _op.select(_op.likely(_op.all_of(*conditions)), data[tuple(source)], value)

    return compute(out_shape, element, name=name, tag="injective,pad")


def _pad_widths(widths, data, argument):
    if isinstance(widths, int) and not isinstance(widths, bool):
        widths = (widths,) * data.ndim
    try:
        widths = tuple(widths)
    except TypeError:
        raise TensorLangTypeError(
            f"ops.pad: {argument} must be a tuple of {data.ndim} ints for tensor "
            f"'{data.name}', got {widths!r}") from None
    if len(widths) != data.ndim or not all(isinstance(w, int) and not isinstance(w, bool)
                                           for w in widths):
        raise TensorLangValueError(
            f"ops.pad: {argument} must hold {data.ndim} ints (one per dimension of "
            f"'{data.name}' {format_shape(data.shape)}), got {widths!r}")
    if any(w < 0 for w in widths):
        raise TensorLangValueError(f"ops.pad: {argument} {widths!r} has a negative width")
    return widths


def _pad_value(value, data):
    if isinstance(value, E.PrimExpr):
        if value.dtype != data.dtype:
            raise TensorLangTypeError(
                f"ops.pad: pad_value '{value}' is {value.dtype} but tensor '{data.name}' is "
                f"{data.dtype}")
        return value
    if isinstance(value, float) and math.isinf(value) and data.dtype.is_integer:
        return _op.const(data.dtype.min_value() if value < 0 else data.dtype.max_value(),
                         data.dtype)
    try:
        return _op.const(value, data.dtype)
    except TensorLangTypeError as error:
        raise TensorLangTypeError(f"ops.pad: pad_value {value!r} for tensor '{data.name}' "
                                  f"({data.dtype}): {error}") from None


def transpose(x, axes=None, name: str = "T_transpose"):
    """``x`` with its dimensions permuted: output dimension ``d`` is input dimension
    ``axes[d]`` (default: reversed, as numpy)."""
    check_tensor(x, "ops.transpose", "x")
    ndim = x.ndim
    if axes is None:
        axes = tuple(reversed(range(ndim)))
    try:
        axes = tuple(axes)
    except TypeError:
        raise TensorLangTypeError(f"ops.transpose: axes must be a tuple of ints, got "
                                  f"{axes!r}") from None
    if not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
        raise TensorLangTypeError(f"ops.transpose: axes must be ints, got {axes!r}")
    normalized = tuple(a % ndim if -ndim <= a < ndim else None for a in axes)
    if len(axes) != ndim or None in normalized or sorted(normalized) != list(range(ndim)):
        raise TensorLangValueError(
            f"ops.transpose: axes {axes!r} is not a permutation of the {ndim} dimensions "
            f"of tensor '{x.name}' {format_shape(x.shape)}")
    out_shape = tuple(x.shape[a] for a in normalized)
    inverse = [normalized.index(d) for d in range(ndim)]

    def element(*indices):
        return x[tuple(indices[inverse[d]] for d in range(ndim))]

    return compute(out_shape, element, name=name, tag="injective")


def reshape(x, newshape, name: str = "T_reshape"):
    """``x`` with the same elements in row-major order and shape ``newshape``; one entry
    may be -1 (inferred) when every size is a constant.  Symbolic sizes are trusted to
    give the same element count."""
    check_tensor(x, "ops.reshape", "x")
    if isinstance(newshape, (int, E.ExprOp)) and not isinstance(newshape, bool):
        newshape = (newshape,)
    try:
        newshape = list(newshape)
    except TypeError:
        raise TensorLangTypeError(f"ops.reshape: newshape must be a tuple, got "
                                  f"{newshape!r}") from None
    old_sizes = [as_const_int(convert(s)) for s in x.shape]
    known_old = None if None in old_sizes else math.prod(old_sizes)
    holes = [k for k, s in enumerate(newshape) if isinstance(s, int) and s == -1]
    if len(holes) > 1:
        raise TensorLangValueError(f"ops.reshape: newshape {tuple(newshape)} has more than "
                                   f"one -1")
    new_sizes = [as_const_int(convert(s)) if not isinstance(s, int) else s
                 for s in newshape]
    if holes:
        rest = [s for k, s in enumerate(new_sizes) if k != holes[0]]
        if known_old is None or None in rest:
            raise TensorLangValueError(
                f"ops.reshape: cannot infer the -1 in {tuple(newshape)} for tensor "
                f"'{x.name}' of symbolic shape {format_shape(x.shape)}; give every size")
        product = math.prod(rest)
        if product == 0 or known_old % product:
            raise TensorLangValueError(
                f"ops.reshape: cannot reshape tensor '{x.name}' of shape "
                f"{format_shape(x.shape)} into {tuple(newshape)}")
        newshape[holes[0]] = new_sizes[holes[0]] = known_old // product
    if known_old is not None and None not in new_sizes and math.prod(new_sizes) != known_old:
        raise TensorLangValueError(
            f"ops.reshape: cannot reshape tensor '{x.name}' of shape {format_shape(x.shape)}"
            f" ({known_old} elements) into {tuple(newshape)} ({math.prod(new_sizes)} "
            f"elements)")
    out_shape = tuple(newshape)

    def element(*indices):
        linear = _op.const(0, indices[0].dtype) if indices else 0
        for i, extent in zip(indices, out_shape):
            linear = linear * extent + i
        source = []
        for extent in reversed(x.shape[1:]):
            source.append(linear % extent)
            linear = linear // extent
        if x.ndim:
            # the outermost index needs no modulo: the linear index is in range
            source.append(linear)
        return x[tuple(reversed(source))]

    return compute(out_shape, element, name=name, tag="injective")
