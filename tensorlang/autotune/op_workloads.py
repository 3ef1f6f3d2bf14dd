"""Named workloads from ``tensorlang.ops`` for the ``tensorlang tune`` command and the
benchmarks: each builds its output tensors for one size, and has numpy's computation of
the same thing (:func:`numpy_equivalent`), the reference its tuned speed is printed
against.

>>> outputs = make_workload("matmul", 1024)      # [C] of a 1024^3 float32 matmul
>>> numpy_equivalent("matmul")(a, b, out=c)      # np.matmul(a, b, out=c)
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops, te
from ..errors import TuneError


def _matmul(size):
    A = te.placeholder((size, size), name="A")
    B = te.placeholder((size, size), name="B")
    return [ops.matmul(A, B)]


def _batch_matmul(size):
    A = te.placeholder((8, size, size), name="A")
    B = te.placeholder((8, size, size), name="B")
    return [ops.batch_matmul(A, B)]


def _conv2d(size):
    """N=1, C=K=64, size x size image, 3x3 kernel, padding 1."""
    data = te.placeholder((1, 64, size, size), name="data")
    kernel = te.placeholder((64, 64, 3, 3), name="kernel")
    return [ops.conv2d_nchw(data, kernel, stride=1, padding=1)]


def _gemv(size):
    """A matrix-vector product ``y = A @ x`` of a size x size float32 matrix."""
    A = te.placeholder((size, size), name="A")
    x = te.placeholder((size,), name="x")
    k = te.reduce_axis((0, size), name="k")
    return [te.compute((size,), lambda i: te.sum(A[i, k] * x[k], axis=k), name="y")]


def _conv1d(size):
    """A 1-D convolution over a sequence of ``size``: batch 1, 256 input and output
    channels, a window of 5, padding 2; written as ``ops.conv2d_nchw`` of height 1, so
    that batch, height and window height are loops of one iteration."""
    data = te.placeholder((1, 256, 1, size), name="data")
    kernel = te.placeholder((256, 256, 1, 5), name="kernel")
    return [ops.conv2d_nchw(data, kernel, stride=1, padding=(0, 2))]


def _softmax(size):
    return [ops.softmax(te.placeholder((size, size), name="x"))]


def _layer_norm(size):
    x = te.placeholder((size, size), name="x")
    gamma = te.placeholder((size,), name="gamma")
    beta = te.placeholder((size,), name="beta")
    return [ops.layer_norm(x, gamma, beta)]


def _pool2d(size):
    """3x3 max pooling, stride 2, padding 1, over 64 channels (ResNet's first pooling at
    the default size 112)."""
    data = te.placeholder((1, 64, size, size), name="data")
    return [ops.pool2d(data, kernel=3, stride=2, padding=1, pool_type="max")]


def attention(heads: int, tokens: int, dim: int) -> list:
    """Scaled dot-product attention of ``heads`` heads of ``tokens`` tokens, each of
    ``dim`` float32 values: ``softmax(Q @ K^T / sqrt(dim)) @ V``, (heads, tokens, dim).
    The scale is a stage of its own, element-wise between the product and the softmax,
    so that the search inlines it into the softmax's reads (one multiply an element)."""
    Q = te.placeholder((heads, tokens, dim), name="Q")
    K = te.placeholder((heads, tokens, dim), name="K")
    V = te.placeholder((heads, tokens, dim), name="V")
    S = ops.batch_matmul(Q, K, transpose_b=True, name="scores")
    scale = 1.0 / math.sqrt(dim)
    scaled = te.compute(S.shape, lambda b, i, j: S[b, i, j] * scale, name="scaled")
    P = ops.softmax(scaled, name="weights")
    return [ops.batch_matmul(P, V, name="attention")]


def _attention(size):
    """8 heads of ``size`` tokens, 64 values each."""
    return attention(8, size, 64)


def _relu(size):
    return [ops.relu(te.placeholder((size, size), name="x"))]


#: name -> (builder of the output tensors for a size, default size)
WORKLOADS = {"matmul": (_matmul, 1024), "batch_matmul": (_batch_matmul, 128),
             "conv2d": (_conv2d, 56), "softmax": (_softmax, 1024),
             "layer_norm": (_layer_norm, 1024), "pool2d": (_pool2d, 112),
             "relu": (_relu, 1024), "gemv": (_gemv, 4096), "conv1d": (_conv1d, 1024),
             "attention": (_attention, 512)}


# -- numpy's computation of each: f(*inputs, out=) with the inputs in the workload's
# parameter order (the placeholders as created), writing the output into ``out``

def _np_softmax(x, out):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    np.divide(e, e.sum(axis=-1, keepdims=True), out=out)


def _np_layer_norm(x, gamma, beta, out):
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    np.multiply((x - mean) / np.sqrt(var + 1e-5), gamma, out=out)
    out += beta


def _np_attention(q, k, v, out):
    """softmax(Q @ K^T / sqrt(d)) @ V per head, with numpy's batched BLAS products."""
    scores = np.matmul(q, k.transpose(0, 2, 1))
    scores *= np.float32(1.0 / np.sqrt(q.shape[-1]))
    weights = np.empty_like(scores)
    _np_softmax(scores, weights)
    np.matmul(weights, v, out=out)


def _np_conv2d(data, kernel, out):
    """Stride 1, padding half the window (1 for 3x3; 0 and 2 for conv1d's 1x5): windows of the padded image contracted with the kernel (a
    BLAS product, as ``einsum(optimize=True)`` plans it)."""
    kh, kw = kernel.shape[2:]
    padded = np.pad(data, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))
    out[...] = np.einsum("nchwij,kcij->nkhw", windows, kernel, optimize=True)


def _np_pool2d(data, out):
    """3x3 max pooling, stride 2, padding 1 (padding never wins)."""
    padded = np.pad(data, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
    np.max(windows[:, :, ::2, ::2], axis=(4, 5), out=out)


_NUMPY = {"matmul": lambda a, b, out: np.matmul(a, b, out=out),
          "batch_matmul": lambda a, b, out: np.matmul(a, b, out=out),
          "conv2d": _np_conv2d, "softmax": _np_softmax, "layer_norm": _np_layer_norm,
          "pool2d": _np_pool2d, "relu": lambda x, out: np.maximum(x, 0, out=out),
          "gemv": lambda a, x, out: np.matmul(a, x, out=out), "attention": _np_attention,
          "conv1d": _np_conv2d}   # height 1, window height 1: no padding along it


def numpy_equivalent(name: str):
    """numpy's computation of workload ``name``, ``f(*inputs, out=array)``, or None
    where numpy has none."""
    return _NUMPY.get(name.replace("-", "_"))


def make_workload(name: str, size: int | None = None) -> list:
    """The output tensors of workload ``name`` (see :data:`WORKLOADS`) at ``size``."""
    entry = WORKLOADS.get(name.replace("-", "_"))
    if entry is None:
        raise TuneError(f"unknown workload {name!r}; choose one of {', '.join(WORKLOADS)}")
    builder, default = entry
    return builder(default if size is None else int(size))
