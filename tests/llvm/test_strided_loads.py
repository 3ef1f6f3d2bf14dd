"""Vector loads with a constant stride on the last dimension (stride-2 pooling windows,
strided convolutions): read as contiguous vectors and a shuffle, never as one scalar
load per lane; correct at the edges of rows and buffers, under masks, with bounds checks.
"""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import ops, te


def _strided_module(stride, lanes, width, dtype="float32", offset=0, bounds_check=False):
    """out[i, j] = A[i, stride * j + offset], j vectorized by ``lanes``."""
    count = (width - offset + stride - 1) // stride
    A = te.placeholder((5, width), dtype, name="A")
    out = te.compute((5, count), lambda i, j: A[i, stride * j + offset], name="out")
    s = tl.create_schedule(out.op)
    _, inner = s[out].split(out.op.axis[1], factor=lanes)
    s[out].vectorize(inner)
    return tl.build(s, [A, out], bounds_check=bounds_check), count


@pytest.mark.parametrize("stride", [2, 3, 4])
@pytest.mark.parametrize("lanes", [4, 8, 16])
@pytest.mark.parametrize("offset", [0, 1])
def test_strided_gather_of_a_row(stride, lanes, offset):
    width = 3 * stride * lanes + 5        # a tail where the lanes do not divide the row
    mod, count = _strided_module(stride, lanes, width, offset=offset)
    a = np.random.default_rng(0).standard_normal((5, width)).astype("float32")
    out = np.zeros((5, count), "float32")
    mod(a, out)
    np.testing.assert_array_equal(out, a[:, offset::stride])


@pytest.mark.parametrize("dtype", ["float64", "int32", "int64"])
def test_strided_loads_of_other_types(dtype):
    mod, count = _strided_module(2, 8, 70, dtype=dtype)
    a = (np.arange(5 * 70) * 3 - 100).reshape(5, 70).astype(dtype)
    out = np.zeros((5, count), dtype)
    mod(a, out)
    np.testing.assert_array_equal(out, a[:, ::2])


def test_strided_load_is_no_per_lane_gather():
    mod, _ = _strided_module(2, 16, 16 * 2 * 4)
    ir = mod.get_source("ll")
    assert "shufflevector" in ir
    assert "masked.gather" not in ir
    # a gather would extract all 16 offsets of each vector access one by one
    assert ir.count("extractelement") < 16


def test_strided_reads_stay_inside_the_buffer_under_bounds_checks():
    # the last vector ends at the last element of the buffer: reading the span past
    # it, or whole vectors the loop ranges do not prove inside, would be reported
    for stride, lanes in ((2, 8), (3, 4), (4, 16)):
        width = stride * (lanes * 2 - 1) + 1
        mod, count = _strided_module(stride, lanes, width, bounds_check=True)
        a = np.random.default_rng(1).standard_normal((5, width)).astype("float32")
        out = np.zeros((5, count), "float32")
        mod(a, out)
        np.testing.assert_array_equal(out, a[:, ::stride])


def test_neighbouring_taps_share_their_loads():
    """Three taps of a stride-2 window: the vectors at common offsets are loaded once."""
    A = te.placeholder((4, 128), name="A")
    out = te.compute((4, 62), lambda i, j: A[i, 2 * j] + A[i, 2 * j + 1] + A[i, 2 * j + 2],
                     name="out")
    s = tl.create_schedule(out.op)
    _, inner = s[out].split(out.op.axis[1], factor=16)
    s[out].vectorize(inner)
    mod = tl.build(s, [A, out])
    a = np.random.default_rng(2).standard_normal((4, 128)).astype("float32")
    got = np.zeros((4, 62), "float32")
    mod(a, got)
    np.testing.assert_allclose(got, a[:, 0:124:2] + a[:, 1:125:2] + a[:, 2:126:2],
                               rtol=1e-6)


def test_strided_load_under_a_data_dependent_mask():
    """A vector select whose lanes depend on data: the strided load reads only what lies
    between the first and the last lane that takes it (no index is clamped)."""
    A = te.placeholder((200,), name="A")
    keep = te.placeholder((64,), "int32", name="keep")
    out = te.compute((64,), lambda j: te.if_then_else(keep[j] > 0, A[3 * j + 2], -1.0),
                     name="out")
    s = tl.create_schedule(out.op)
    _, inner = s[out].split(out.op.axis[0], factor=16)
    s[out].vectorize(inner)
    mod = tl.build(s, [A, keep, out], bounds_check=True)
    rng = np.random.default_rng(3)
    a = rng.standard_normal(200).astype("float32")
    for pattern in (rng.integers(0, 2, 64), np.zeros(64), np.ones(64),
                    np.tile([1, 0, 0, 1], 16), np.tile([0] * 15 + [1], 4)):
        k = pattern.astype("int32")
        got = np.zeros(64, "float32")
        mod(a, k, got)
        np.testing.assert_array_equal(got, np.where(k > 0, a[2:194:3], -1.0))


@pytest.mark.parametrize("size,stride,padding", [(112, 2, 1), (17, 2, 1), (30, 3, 2),
                                                 (9, 2, 0)])
def test_inlined_padding_vectorized_pooling(size, stride, padding):
    """Max pooling with its padding inlined, vectorized along the output width and
    accumulated in registers: the left border reads masked lanes (at the very start of
    the buffer), the right border a tail."""
    data = te.placeholder((2, 3, size, size), name="data")
    out = ops.pool2d(data, kernel=3, stride=stride, padding=padding, pool_type="max")
    s = tl.create_schedule(out.op)
    if padding:
        s[out.op.input_tensors[0]].compute_inline()
    acc = s.cache_write(out, "local")
    n, c, h, w = s[out].op.axis
    wo, wi = s[out].split(w, factor=16)
    s[out].reorder(n, c, h, wo, wi)
    s[out].vectorize(wi)
    s[out].parallel(s[out].fuse(n, c))
    s[acc].compute_at(s[out], wo)
    axes, (ry, rx) = list(s[acc].op.axis), s[acc].op.reduce_axis
    s[acc].reorder(ry, rx, *axes)
    s[acc].unroll(ry)
    s[acc].unroll(rx)
    s[acc].vectorize(axes[-1])
    mod = tl.build(s, [data, out], bounds_check=True)
    x = np.random.default_rng(4).standard_normal((2, 3, size, size)).astype("float32")
    got = np.zeros(tuple(d.value for d in out.shape), "float32")
    mod(x, got)
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                    constant_values=-np.inf)
    oh, ow = got.shape[2:]
    expected = np.full(got.shape, -np.inf, "float32")
    for ry in range(3):
        for rx in range(3):
            expected = np.maximum(expected, padded[:, :, ry:ry + stride * (oh - 1) + 1:stride,
                                                   rx:rx + stride * (ow - 1) + 1:stride])
    np.testing.assert_array_equal(got, expected)
    ir = mod.get_source("ll")
    assert "masked.gather" not in ir
