"""Convolutions, pooling, softmax and layer normalisation against plain numpy."""
import numpy as np
import pytest

import ops_numpy_reference as ref
from tensorlang import ops, te
from tensorlang.errors import TensorLangTypeError, TensorLangValueError
from tensorlang.te.reference import evaluate

RNG = np.random.default_rng(17)


def _data(shape, dtype):
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(-4, 5, shape).astype(dtype)
    return RNG.uniform(-1, 1, shape).astype(dtype)


def _tolerance(dtype):
    return {"rtol": 2e-2, "atol": 5e-2} if dtype == "float16" else {"rtol": 1e-5, "atol": 1e-5}


CONV_CASES = [  # stride, padding, dilation, given padding -> (top, left, bottom, right)
    (1, 0, 1, (0, 0, 0, 0)),
    (1, 1, 1, (1, 1, 1, 1)),
    (2, (1, 2), 1, (1, 2, 1, 2)),
    ((2, 1), (0, 1, 2, 0), (1, 2), (0, 1, 2, 0)),
    (3, 2, 2, (2, 2, 2, 2)),
]


@pytest.mark.parametrize("stride, padding, dilation, pads", CONV_CASES)
@pytest.mark.parametrize("dtype", ["float32", "int32", "float16"])
def test_conv2d_nchw(stride, padding, dilation, pads, dtype):
    x, w = _data((2, 3, 9, 8), dtype), _data((4, 3, 3, 2), dtype)
    data = te.placeholder(x.shape, dtype=dtype, name="data")
    kernel = te.placeholder(w.shape, dtype=dtype, name="kernel")
    out = ops.conv2d_nchw(data, kernel, stride, padding, dilation)
    assert out.op.tag == "conv2d_nchw"
    producer = out.op.input_tensors[0]
    assert producer.name == ("data_pad" if any(pads) else "data")
    [got] = evaluate(out, {data: x, kernel: w})
    pair = (lambda v: (v, v) if isinstance(v, int) else v)
    expected = ref.conv2d_nchw(x.astype(np.float64), w.astype(np.float64), pair(stride),
                               pads, pair(dilation))
    assert got.shape == expected.shape and got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, expected, **_tolerance(dtype))


def test_conv2d_symbolic_spatial_size_and_out_dtype():
    h, w_ = te.var("h"), te.var("w")
    data = te.placeholder((1, 2, h, w_), dtype="int8", name="data")
    kernel = te.placeholder((3, 2, 3, 3), dtype="int8", name="kernel")
    out = ops.conv2d_nchw(data, kernel, stride=2, padding=1, dilation=1, out_dtype="int32")
    x, w = _data((1, 2, 11, 6), "int8") * 20, _data((3, 2, 3, 3), "int8") * 20
    [got] = evaluate(out, {data: x, kernel: w})
    expected = ref.conv2d_nchw(x.astype(np.int64), w.astype(np.int64), (2, 2), (1, 1, 1, 1),
                               (1, 1))
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("stride, padding", [(1, 1), (2, (0, 1))])
def test_depthwise_conv2d_nchw(multiplier, stride, padding):
    x, w = _data((2, 3, 7, 7), "float32"), _data((3, multiplier, 3, 3), "float32")
    data = te.placeholder(x.shape, name="data")
    kernel = te.placeholder(w.shape, name="kernel")
    out = ops.depthwise_conv2d_nchw(data, kernel, stride, padding, 1)
    assert out.op.tag == "depthwise_conv2d_nchw"
    pads = (padding,) * 4 if isinstance(padding, int) else padding * 2
    [got] = evaluate(out, {data: x, kernel: w})
    expected = ref.conv2d_nchw(x.astype(np.float64), w.astype(np.float64), (stride, stride),
                               pads, (1, 1), groups_multiplier=multiplier)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


POOL_CASES = [(2, 2, 0), (3, 1, 1), ((3, 2), (2, 1), (1, 0, 2, 1)), (3, 2, (1, 1))]


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
@pytest.mark.parametrize("pool_type, count_include_pad", [("max", True), ("avg", True),
                                                          ("avg", False)])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_pool2d(kernel, stride, padding, pool_type, count_include_pad, dtype):
    x = _data((2, 3, 8, 7), dtype)
    data = te.placeholder(x.shape, dtype=dtype, name="data")
    out = ops.pool2d(data, kernel, stride, padding, pool_type,
                     count_include_pad=count_include_pad)
    assert out.op.tag == f"pool_{pool_type}"
    pair = (lambda v: (v, v) if isinstance(v, int) else tuple(v))
    pads = pair(padding) * 2 if len(pair(padding)) == 2 else padding
    [got] = evaluate(out, {data: x})
    expected = ref.pool2d_nchw(x, pair(kernel), pair(stride), pads, pool_type,
                               count_include_pad)
    np.testing.assert_allclose(got, expected, **_tolerance(dtype))


@pytest.mark.parametrize("pool_type, count_include_pad", [("max", True), ("avg", False)])
def test_pool2d_dilation_and_symbolic_size(pool_type, count_include_pad):
    h, w = te.var("h"), te.var("w")
    data = te.placeholder((1, 2, h, w), name="data")
    out = ops.pool2d(data, (3, 2), (2, 1), (2, 1, 0, 1), pool_type,
                     count_include_pad=count_include_pad, dilation=(2, 3))
    x = _data((1, 2, 10, 9), "float32")
    [got] = evaluate(out, {data: x})
    expected = ref.pool2d_nchw(x, (3, 2), (2, 1), (2, 1, 0, 1), pool_type,
                               count_include_pad, dilation=(2, 3))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_depthwise_symbolic_and_int32():
    h = te.var("h")
    data = te.placeholder((1, 2, h, 6), dtype="int32", name="data")
    kernel = te.placeholder((2, 3, 3, 3), dtype="int32", name="kernel")
    out = ops.depthwise_conv2d_nchw(data, kernel, 1, (1, 0), (2, 1))
    x, w = _data((1, 2, 8, 6), "int32"), _data((2, 3, 3, 3), "int32")
    [got] = evaluate(out, {data: x, kernel: w})
    expected = ref.conv2d_nchw(x.astype(np.int64), w.astype(np.int64), (1, 1), (1, 0, 1, 0),
                               (2, 1), groups_multiplier=3)
    np.testing.assert_array_equal(got, expected)


def test_int_pool_and_nhwc_layout():
    x = _data((1, 6, 6, 2), "int32")
    data = te.placeholder(x.shape, dtype="int32", name="data")
    as_nchw = x.transpose(0, 3, 1, 2)
    got_max, got_avg = evaluate([
        ops.pool2d(data, 3, 2, 1, "max", layout="NHWC"),
        ops.pool2d(data, 3, 2, 1, "avg", layout="NHWC", count_include_pad=False)], {data: x})
    expected_max = ref.pool2d_nchw(as_nchw, (3, 3), (2, 2), (1,) * 4, "max", True)
    np.testing.assert_array_equal(got_max, expected_max.transpose(0, 2, 3, 1))
    # integer averages use floor division by the number of points inside the input
    sums = ref.pool2d_nchw(as_nchw, (3, 3), (2, 2), (1,) * 4, "avg", True) * 9
    counts = ref.pool2d_nchw(np.ones_like(as_nchw), (3, 3), (2, 2), (1,) * 4, "avg", True) * 9
    expected_avg = np.floor_divide(np.rint(sums), np.rint(counts)).astype("int32")
    np.testing.assert_array_equal(got_avg, expected_avg.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("shape, axis", [((4, 10), -1), ((4, 10), 0), ((2, 3, 5), 1)])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_softmax(shape, axis, dtype):
    x = (RNG.normal(size=shape) * 4).astype(dtype)
    X = te.placeholder(shape, dtype=dtype, name="X")
    out = ops.softmax(X, axis)
    names = {t.name for t in out.op.input_tensors}
    assert names == {"T_softmax_exp", "T_softmax_expsum"}
    [got] = evaluate(out, {X: x})
    np.testing.assert_allclose(got, ref.softmax(x, axis), **_tolerance(dtype))


def test_softmax_large_values_do_not_overflow_and_symbolic_rows():
    n = te.var("n")
    X = te.placeholder((n, 6), name="X")
    x = (RNG.normal(size=(3, 6)) * 10 + 1000).astype("float32")
    [got] = evaluate(ops.softmax(X), {X: x})
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, ref.softmax(x, -1), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("axis", [-1, (1, 2), 0])
@pytest.mark.parametrize("with_params", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_layer_norm(axis, with_params, dtype):
    x = (RNG.normal(size=(3, 4, 5)) * 3 + 2).astype(dtype)
    axes = tuple(a % 3 for a in ((axis,) if isinstance(axis, int) else axis))
    norm_shape = tuple(x.shape[a] for a in axes)
    X = te.placeholder(x.shape, dtype=dtype, name="X")
    gamma = te.placeholder(norm_shape, dtype=dtype, name="gamma") if with_params else None
    beta = te.placeholder(norm_shape, dtype=dtype, name="beta") if with_params else None
    out = ops.layer_norm(X, gamma, beta, axis=axis, epsilon=1e-5)
    inputs = {X: x}
    g = b = None
    if with_params:
        g, b = _data(norm_shape, dtype), _data(norm_shape, dtype)
        inputs.update({gamma: g, beta: b})
    [got] = evaluate(out, inputs)
    assert got.dtype == np.dtype(dtype)
    expected = ref.layer_norm(x, g, b, axes, 1e-5)
    np.testing.assert_allclose(got, expected, **({"rtol": 1e-2, "atol": 1e-2}
                                                  if dtype == "float16" else
                                                  {"rtol": 1e-4, "atol": 1e-5}))


def test_nn_errors_name_the_tensors():
    data = te.placeholder((1, 3, 8, 8), name="img")
    kernel = te.placeholder((4, 2, 3, 3), name="weights")
    with pytest.raises(TensorLangValueError, match=r"'img'.*3 input channels.*'weights'"):
        ops.conv2d_nchw(data, kernel, 1, 0, 1)
    with pytest.raises(TensorLangValueError, match=r"'img' must have 4 dimensions"):
        ops.conv2d_nchw(te.placeholder((3, 8, 8), name="img"), kernel, 1, 0, 1)
    with pytest.raises(TensorLangValueError, match=r"output height of 'img' would be"):
        ops.conv2d_nchw(data, te.placeholder((4, 3, 9, 3), name="k"), 1, 0, 1)
    with pytest.raises(TensorLangValueError, match=r"stride must be at least 1"):
        ops.conv2d_nchw(data, te.placeholder((4, 3, 3, 3), name="k"), 0, 0, 1)
    with pytest.raises(TensorLangTypeError, match=r"'img' is float32 but tensor 'ik'"):
        ops.conv2d_nchw(data, te.placeholder((4, 3, 3, 3), dtype="int32", name="ik"), 1, 0, 1)
    with pytest.raises(TensorLangValueError, match=r"'img'.*3 channels.*'weights'"):
        ops.depthwise_conv2d_nchw(data, kernel, 1, 0, 1)
    with pytest.raises(TensorLangValueError, match=r"pool_type must be 'max' or 'avg'"):
        ops.pool2d(data, 2, 2, 0, "min")
    with pytest.raises(TensorLangValueError, match=r"'img' must have 3 dimensions \(NHW\)"):
        ops.pool2d(data, 2, 2, 0, layout="NHW")
    with pytest.raises(TensorLangTypeError, match=r"ops.softmax: tensor 'ints' is int32"):
        ops.softmax(te.placeholder((3,), dtype="int32", name="ints"))
    with pytest.raises(TensorLangValueError, match=r"axis 2 is out of range for tensor 'v'"):
        ops.softmax(te.placeholder((3, 4), name="v"), axis=2)
    with pytest.raises(TensorLangValueError, match=r"'g' \(gamma\) has shape \(5,\).*'x'"):
        ops.layer_norm(te.placeholder((3, 4), name="x"), te.placeholder((5,), name="g"), None)
