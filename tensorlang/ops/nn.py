"""Neural-network operators: 2-D convolutions, pooling, softmax and layer normalisation.

>>> data = te.placeholder((1, 16, 32, 32), name="data")
>>> kernel = te.placeholder((32, 16, 3, 3), name="kernel")
>>> conv = ops.conv2d_nchw(data, kernel, stride=1, padding=1, dilation=1)   # (1, 32, 32, 32)
>>> pool = ops.pool2d(conv, kernel=2, stride=2, padding=0, pool_type="max")  # (1, 32, 16, 16)
>>> probs = ops.softmax(te.placeholder((8, 10), name="logits"))

Padding is a stage of its own named ``data_pad`` (tag ``"injective,pad"``), which a
schedule can ``compute_inline`` or ``compute_at`` into the consumer.
"""
from __future__ import annotations

import math

from ..errors import TensorLangTypeError, TensorLangValueError
from ..tir import datatype as dt
from ..tir import op as _op
from ..tir.op import as_const_int, convert
from ..te.declare import compute, reduce_axis
from ..te import reduction
from .transform import pad
from ..te.broadcast import format_shape, same_extent
from .utils import (check_ndim, check_positive_extent, check_tensor, int_tuple,
                    normalize_axis, output_extent, padding_2d)


def _window_size(tensor, dims, op_name):
    sizes = tuple(as_const_int(convert(tensor.shape[d])) for d in dims)
    if None in sizes:
        raise TensorLangValueError(
            f"{op_name}: the window of tensor '{tensor.name}' {format_shape(tensor.shape)} "
            f"must have constant height and width")
    return sizes


def _padded(data, h_dim, w_dim, padding, value, op_name):
    top, left, bottom, right = padding
    if not any(padding):
        return data
    before = [0] * data.ndim
    after = [0] * data.ndim
    before[h_dim], before[w_dim], after[h_dim], after[w_dim] = top, left, bottom, right
    return pad(data, tuple(before), tuple(after), value, name="data_pad")


def _conv_geometry(data, window, stride, padding, dilation, op_name, h_dim=2, w_dim=3):
    stride = int_tuple(stride, 2, op_name, "stride", minimum=1)
    dilation = int_tuple(dilation, 2, op_name, "dilation", minimum=1)
    padding = padding_2d(padding, op_name)
    top, left, bottom, right = padding
    out_h = output_extent(data.shape[h_dim], top + bottom, window[0], stride[0], dilation[0])
    out_w = output_extent(data.shape[w_dim], left + right, window[1], stride[1], dilation[1])
    check_positive_extent(out_h, op_name, f"the output height of '{data.name}'")
    check_positive_extent(out_w, op_name, f"the output width of '{data.name}'")
    return stride, dilation, padding, out_h, out_w


def _conv_dtype(data, kernel, out_dtype, op_name):
    if data.dtype != kernel.dtype and out_dtype is None:
        raise TensorLangTypeError(
            f"{op_name}: tensor '{data.name}' is {data.dtype} but tensor '{kernel.name}' is "
            f"{kernel.dtype}; cast one of them or give out_dtype=")
    dtype = dt.dtype(out_dtype) if out_dtype is not None else data.dtype
    if dtype.is_bool:
        raise TensorLangTypeError(f"{op_name}: cannot convolve boolean tensors")
    return dtype


def conv2d_nchw(data, kernel, stride=1, padding=0, dilation=1, out_dtype=None,
                name: str = "conv2d_nchw"):
    """2-D convolution: ``data`` (batch, in_channel, height, width), ``kernel``
    (out_channel, in_channel, kernel_h, kernel_w) -> (batch, out_channel, out_h, out_w).

    ``stride`` and ``dilation`` are an int or an (h, w) pair; ``padding`` an int, an
    (h, w) pair or (top, left, bottom, right).  Products accumulate in ``out_dtype``
    (default: the inputs' dtype).
    """
    op_name = "ops.conv2d_nchw"
    check_tensor(data, op_name, "data")
    check_tensor(kernel, op_name, "kernel")
    check_ndim(data, 4, op_name, "NCHW")
    check_ndim(kernel, 4, op_name, "out_channel, in_channel, kernel_h, kernel_w")
    dtype = _conv_dtype(data, kernel, out_dtype, op_name)
    batch, in_channel = data.shape[0], data.shape[1]
    out_channel = kernel.shape[0]
    if not same_extent(in_channel, kernel.shape[1]):
        raise TensorLangValueError(
            f"{op_name}: tensor '{data.name}' {format_shape(data.shape)} has {in_channel} "
            f"input channels but tensor '{kernel.name}' {format_shape(kernel.shape)} expects "
            f"{kernel.shape[1]}")
    window = _window_size(kernel, (2, 3), op_name)
    (sh, sw), (dh, dw), padding, out_h, out_w = _conv_geometry(
        data, window, stride, padding, dilation, op_name)
    padded = _padded(data, 2, 3, padding, 0, op_name)
    rc = reduce_axis((0, in_channel), name="rc")
    ry = reduce_axis((0, window[0]), name="ry")
    rx = reduce_axis((0, window[1]), name="rx")

    def element(n, f, y, x):
        value = padded[n, rc, y * sh + ry * dh, x * sw + rx * dw].astype(dtype)
        return reduction.sum(value * kernel[f, rc, ry, rx].astype(dtype), axis=[rc, ry, rx])

    return compute((batch, out_channel, out_h, out_w), element, name=name,
                   tag="conv2d_nchw")


def depthwise_conv2d_nchw(data, kernel, stride=1, padding=0, dilation=1, out_dtype=None,
                          name: str = "depthwise_conv2d_nchw"):
    """Depthwise 2-D convolution: ``data`` (batch, channel, height, width), ``kernel``
    (channel, multiplier, kernel_h, kernel_w) -> (batch, channel * multiplier, out_h,
    out_w); output channel ``c`` reads input channel ``c // multiplier``."""
    op_name = "ops.depthwise_conv2d_nchw"
    check_tensor(data, op_name, "data")
    check_tensor(kernel, op_name, "kernel")
    check_ndim(data, 4, op_name, "NCHW")
    check_ndim(kernel, 4, op_name, "channel, multiplier, kernel_h, kernel_w")
    dtype = _conv_dtype(data, kernel, out_dtype, op_name)
    batch, channel = data.shape[0], data.shape[1]
    if not same_extent(channel, kernel.shape[0]):
        raise TensorLangValueError(
            f"{op_name}: tensor '{data.name}' {format_shape(data.shape)} has {channel} "
            f"channels but tensor '{kernel.name}' {format_shape(kernel.shape)} has "
            f"{kernel.shape[0]}")
    multiplier = kernel.shape[1]
    window = _window_size(kernel, (2, 3), op_name)
    (sh, sw), (dh, dw), padding, out_h, out_w = _conv_geometry(
        data, window, stride, padding, dilation, op_name)
    padded = _padded(data, 2, 3, padding, 0, op_name)
    ry = reduce_axis((0, window[0]), name="ry")
    rx = reduce_axis((0, window[1]), name="rx")

    def element(n, c, y, x):
        source = c // multiplier
        value = padded[n, source, y * sh + ry * dh, x * sw + rx * dw].astype(dtype)
        weight = kernel[source, c % multiplier, ry, rx].astype(dtype)
        return reduction.sum(value * weight, axis=[ry, rx])

    return compute((batch, convert(channel) * multiplier, out_h, out_w), element, name=name,
                   tag="depthwise_conv2d_nchw")


def pool2d(data, kernel, stride=None, padding=0, pool_type: str = "max",
           layout: str = "NCHW", count_include_pad: bool = True, dilation=1,
           name: str = "pool2d"):
    """Max or average pooling over the H and W dimensions of ``layout`` ("NCHW", "NHWC",
    ...).  ``kernel``, ``stride`` (default: the kernel) and ``dilation`` are an int or an
    (h, w) pair, ``padding`` as for :func:`conv2d_nchw`.  Average pooling divides by the
    whole window when ``count_include_pad`` is true, else by the points inside ``data``;
    integer averages use floor division.
    """
    op_name = "ops.pool2d"
    check_tensor(data, op_name, "data")
    if pool_type not in ("max", "avg"):
        raise TensorLangValueError(f"{op_name}: pool_type must be 'max' or 'avg', got "
                                   f"{pool_type!r}")
    if not isinstance(layout, str) or sorted(layout) != sorted(set(layout)) \
            or "H" not in layout or "W" not in layout:
        raise TensorLangValueError(f"{op_name}: layout must name each dimension once and "
                                   f"contain H and W (e.g. 'NCHW'), got {layout!r}")
    check_ndim(data, len(layout), op_name, layout)
    if data.dtype.is_bool:
        raise TensorLangTypeError(f"{op_name}: tensor '{data.name}' is boolean")
    h_dim, w_dim = layout.index("H"), layout.index("W")
    window = int_tuple(kernel, 2, op_name, "kernel", minimum=1)
    stride = window if stride is None else stride
    (sh, sw), (dh, dw), padding, out_h, out_w = _conv_geometry(
        data, window, stride, padding, dilation, op_name, h_dim, w_dim)
    top, left, bottom, right = padding
    pad_value = data.dtype.min_value() if data.dtype.is_integer else -math.inf
    padded = _padded(data, h_dim, w_dim, padding, pad_value if pool_type == "max" else 0,
                     op_name)
    ry = reduce_axis((0, window[0]), name="ry")
    rx = reduce_axis((0, window[1]), name="rx")
    out_shape = list(data.shape)
    out_shape[h_dim], out_shape[w_dim] = out_h, out_w

    def window_point(indices):
        point = list(indices)
        point[h_dim] = indices[h_dim] * sh + ry * dh
        point[w_dim] = indices[w_dim] * sw + rx * dw
        return padded[tuple(point)]

    if pool_type == "max":
        return compute(out_shape, lambda *i: reduction.max(window_point(i), axis=[ry, rx]),
                       name=name, tag="pool_max")
    total = compute(out_shape, lambda *i: reduction.sum(window_point(i), axis=[ry, rx]),
                    name=f"{name}_sum", tag="pool_sum")

    def average(*indices):
        if count_include_pad:
            count = _op.const(window[0] * window[1], indices[0].dtype)
        else:
            count = _window_count(indices[h_dim], data.shape[h_dim], top, window[0], sh, dh) \
                * _window_count(indices[w_dim], data.shape[w_dim], left, window[1], sw, dw)
        if data.dtype.is_float:
            return total[indices] / count.astype(data.dtype)
        return total[indices] // count.astype(data.dtype)

    return compute(out_shape, average, name=name, tag="pool_avg")


def _window_count(index, size, before, window, stride, dilation):
    """How many of the window's taps at output ``index`` fall inside ``[0, size)``."""
    start = index * stride - before                  # input position of tap 0
    first = _op.maximum(0, (dilation - 1 - start) // dilation)   # ceil(-start / dilation)
    last = _op.minimum(window - 1, (convert(size) - 1 - start) // dilation)
    # a window entirely in the padding counts one point, so the division stays defined
    return _op.maximum(last - first + 1, 1)


def softmax(x, axis: int = -1, name: str = "T_softmax"):
    """``exp(x - max) / sum(exp(x - max))`` along ``axis``, in four stages
    (``<name>_maxelem``, ``<name>_exp``, ``<name>_expsum``, ``<name>``) so that large
    inputs do not overflow."""
    op_name = "ops.softmax"
    check_tensor(x, op_name, "x")
    if not x.dtype.is_float:
        raise TensorLangTypeError(f"{op_name}: tensor '{x.name}' is {x.dtype}; softmax needs "
                                  f"a float tensor")
    axis = normalize_axis(axis, x.ndim, op_name, x)
    reduced_shape = x.shape[:axis] + x.shape[axis + 1:]
    k1 = reduce_axis((0, x.shape[axis]), name="k")
    k2 = reduce_axis((0, x.shape[axis]), name="k")

    def insert(indices, value):
        return tuple(indices[:axis]) + (value,) + tuple(indices[axis:])

    def drop(indices):
        return tuple(indices[:axis]) + tuple(indices[axis + 1:])

    maxelem = compute(reduced_shape, lambda *i: reduction.max(x[insert(i, k1)], axis=k1),
                      name=f"{name}_maxelem", tag="reduction")
    exp = compute(x.shape, lambda *i: _op.call_intrin("exp", x[i] - maxelem[drop(i)]),
                  name=f"{name}_exp", tag="elemwise")
    expsum = compute(reduced_shape, lambda *i: reduction.sum(exp[insert(i, k2)], axis=k2),
                     name=f"{name}_expsum", tag="reduction")
    return compute(x.shape, lambda *i: exp[i] / expsum[drop(i)], name=name, tag="softmax")


def layer_norm(x, gamma, beta, axis=-1, epsilon: float = 1e-5, name: str = "T_layer_norm"):
    """``(x - mean) / sqrt(var + epsilon) * gamma + beta`` over the dimensions ``axis``
    (an int or a tuple of ints); ``gamma`` and ``beta`` have the shape of those dimensions
    (either may be None).  Statistics of 16-bit floats accumulate in float32."""
    op_name = "ops.layer_norm"
    check_tensor(x, op_name, "x")
    if not x.dtype.is_float:
        raise TensorLangTypeError(f"{op_name}: tensor '{x.name}' is {x.dtype}; layer_norm "
                                  f"needs a float tensor")
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(sorted({normalize_axis(a, x.ndim, op_name, x) for a in axes}))
    if len(axes) != len(axis if isinstance(axis, (tuple, list)) else (axis,)):
        raise TensorLangValueError(f"{op_name}: axis {axis!r} names a dimension twice")
    norm_shape = tuple(x.shape[a] for a in axes)
    for argument, param in (("gamma", gamma), ("beta", beta)):
        if param is None:
            continue
        check_tensor(param, op_name, argument)
        if param.ndim != len(norm_shape) or not all(
                same_extent(a, b) for a, b in zip(param.shape, norm_shape)):
            raise TensorLangValueError(
                f"{op_name}: tensor '{param.name}' ({argument}) has shape "
                f"{format_shape(param.shape)} but the normalised dimensions of '{x.name}' "
                f"{format_shape(x.shape)} are {format_shape(norm_shape)}")
        if param.dtype != x.dtype:
            raise TensorLangTypeError(
                f"{op_name}: tensor '{param.name}' ({argument}) is {param.dtype} but "
                f"'{x.name}' is {x.dtype}")
    acc = dt.float32 if x.dtype.bits == 16 else x.dtype
    kept = [d for d in range(x.ndim) if d not in axes]
    stat_shape = tuple(x.shape[d] for d in kept)
    count = _op.cast(math.prod(as_const_int(s) for s in norm_shape)
                     if all(as_const_int(s) is not None for s in norm_shape)
                     else _product(norm_shape), acc)

    def full_index(stat_indices, reduce_indices):
        index = [None] * x.ndim
        for d, i in zip(kept, stat_indices):
            index[d] = i
        for d, i in zip(axes, reduce_indices):
            index[d] = i
        return tuple(index)

    def stat_index(indices):
        return tuple(indices[d] for d in kept)

    def reduce_axes():
        return [reduce_axis((0, x.shape[d]), name=f"k{n}" if len(axes) > 1 else "k")
                for n, d in enumerate(axes)]

    sum_axes = reduce_axes()
    total = compute(stat_shape, lambda *i: reduction.sum(
        x[full_index(i, sum_axes)].astype(acc), axis=sum_axes),
        name=f"{name}_sum", tag="reduction")
    sq_axes = reduce_axes()

    def squared_deviation(*i):
        deviation = x[full_index(i, sq_axes)].astype(acc) - total[i] / count
        return reduction.sum(deviation * deviation, axis=sq_axes)

    squares = compute(stat_shape, squared_deviation, name=f"{name}_sqsum", tag="reduction")

    def normalized(*i):
        stats = stat_index(i)
        scale = _op.call_intrin("rsqrt", squares[stats] / count + _op.const(epsilon, acc))
        value = (x[i].astype(acc) - total[stats] / count) * scale
        param_index = tuple(i[d] for d in axes)
        if gamma is not None:
            value = value * gamma[param_index].astype(acc)
        if beta is not None:
            value = value + beta[param_index].astype(acc)
        return value.astype(x.dtype)

    return compute(x.shape, normalized, name=name, tag="layer_norm")


def _product(extents):
    result = convert(extents[0])
    for extent in extents[1:]:
        result = result * extent
    return result
