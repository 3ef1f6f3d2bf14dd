"""The operators and shapes the shipped cost model is trained on (:data:`CORPUS`), and
those kept out of it to measure how it transfers (:data:`HELD_OUT`).

Each entry is ``name -> (builder, description)``; ``builder()`` returns the output
tensors of the workload (float32).  No held-out workload is in the corpus: not the
operator (conv1d), or not the shape (the conv2d, dense and batched matmul layers).
"""
from __future__ import annotations

from tensorlang import ops, te


def _matmul(m, k, n, transpose_b=False):
    def build():
        A = te.placeholder((m, k), name="A")
        B = te.placeholder((n, k) if transpose_b else (k, n), name="B")
        return [ops.matmul(A, B, transpose_b=transpose_b)]
    return build


def _batch_matmul(b, m, k, n):
    def build():
        A = te.placeholder((b, m, k), name="A")
        B = te.placeholder((b, k, n), name="B")
        return [ops.batch_matmul(A, B)]
    return build


def _dense_bias_relu(batch, inputs, units, relu=True):
    """``relu(x @ W.T + bias)``, W (units, inputs) as a dense layer stores it."""
    def build():
        x = te.placeholder((batch, inputs), name="x")
        W = te.placeholder((units, inputs), name="W")
        bias = te.placeholder((units,), name="bias")
        k = te.reduce_axis((0, inputs), name="k")
        y = te.compute((batch, units), lambda i, j: te.sum(x[i, k] * W[j, k], axis=k),
                       name="dense")
        out = te.compute((batch, units), lambda i, j: y[i, j] + bias[j], name="bias_add")
        return [ops.relu(out) if relu else out]
    return build


def _conv2d(c, size, k, kernel, stride=1, padding=None):
    def build():
        data = te.placeholder((1, c, size, size), name="data")
        weight = te.placeholder((k, c, kernel, kernel), name="kernel")
        pad = kernel // 2 if padding is None else padding
        return [ops.conv2d_nchw(data, weight, stride=stride, padding=pad)]
    return build


def _depthwise(c, size):
    def build():
        data = te.placeholder((1, c, size, size), name="data")
        weight = te.placeholder((c, 1, 3, 3), name="kernel")
        return [ops.depthwise_conv2d_nchw(data, weight, stride=1, padding=1)]
    return build


def _conv1d(c, length, k, width):
    """1-D convolution (no padding): out[f, x] = sum_c,r data[c, x + r] * kernel[f, c, r]."""
    def build():
        data = te.placeholder((c, length), name="data")
        weight = te.placeholder((k, c, width), name="kernel")
        rc = te.reduce_axis((0, c), name="rc")
        rx = te.reduce_axis((0, width), name="rx")
        return [te.compute((k, length - width + 1),
                           lambda f, x: te.sum(data[rc, x + rx] * weight[f, rc, rx],
                                               axis=[rc, rx]), name="conv1d")]
    return build


def _softmax(rows, cols):
    return lambda: [ops.softmax(te.placeholder((rows, cols), name="x"))]


def _layer_norm(rows, cols):
    def build():
        x = te.placeholder((rows, cols), name="x")
        return [ops.layer_norm(x, te.placeholder((cols,), name="gamma"),
                               te.placeholder((cols,), name="beta"))]
    return build


def _pool(c, size, pool_type="max"):
    def build():
        data = te.placeholder((1, c, size, size), name="data")
        return [ops.pool2d(data, kernel=3, stride=2, padding=1, pool_type=pool_type)]
    return build


def _elementwise_chain(rows, cols):
    """``sigmoid(a * b + c)``: three inputs, one fused chain."""
    def build():
        a, b, c = (te.placeholder((rows, cols), name=n) for n in "abc")
        return [ops.sigmoid(ops.add(ops.multiply(a, b), c))]
    return build


def _row_sum(rows, cols):
    def build():
        x = te.placeholder((rows, cols), name="x")
        k = te.reduce_axis((0, cols), name="k")
        return [te.compute((rows,), lambda i: te.sum(x[i, k], axis=k), name="row_sum")]
    return build


def _column_max(rows, cols):
    def build():
        x = te.placeholder((rows, cols), name="x")
        k = te.reduce_axis((0, rows), name="k")
        return [te.compute((cols,), lambda j: te.max(x[k, j], axis=k), name="column_max")]
    return build


def _transpose(rows, cols):
    return lambda: [ops.transpose(te.placeholder((rows, cols), name="x"))]


#: name -> (builder of the output tensors, description)
CORPUS = {
    "matmul_256": (_matmul(256, 256, 256), "matmul 256x256 @ 256x256"),
    "matmul_512": (_matmul(512, 512, 512), "matmul 512x512 @ 512x512"),
    "matmul_skinny_m": (_matmul(32, 512, 1024), "matmul 32x512 @ 512x1024"),
    "matmul_skinny_n": (_matmul(1024, 256, 48), "matmul 1024x256 @ 256x48"),
    "matmul_bt": (_matmul(384, 192, 256, transpose_b=True), "matmul 384x192 @ (256x192).T"),
    "dense_bias_relu": (_dense_bias_relu(64, 512, 256), "relu(64x512 @ (256x512).T + b)"),
    "batch_matmul": (_batch_matmul(8, 128, 64, 128), "batch_matmul 8x128x64 @ 8x64x128"),
    "conv2d_3x3": (_conv2d(64, 56, 64, 3), "conv2d 1x64x56x56, 64 3x3, pad 1"),
    "conv2d_1x1": (_conv2d(128, 28, 64, 1), "conv2d 1x128x28x28, 64 1x1"),
    "conv2d_s2": (_conv2d(32, 56, 64, 3, stride=2), "conv2d 1x32x56x56, 64 3x3, stride 2"),
    "depthwise": (_depthwise(64, 56), "depthwise conv2d 1x64x56x56, 3x3, pad 1"),
    "softmax": (_softmax(512, 512), "softmax 512x512"),
    "layer_norm": (_layer_norm(256, 768), "layer_norm 256x768"),
    "max_pool": (_pool(64, 112), "max pool 3x3/2, 1x64x112x112"),
    "avg_pool": (_pool(32, 56, "avg"), "avg pool 3x3/2, 1x32x56x56"),
    "elementwise": (_elementwise_chain(1024, 1024), "sigmoid(a * b + c), 1024x1024"),
    "row_sum": (_row_sum(1024, 1024), "row sums of 1024x1024"),
    "column_max": (_column_max(512, 2048), "column maxima of 512x2048"),
    "transpose": (_transpose(1024, 768), "transpose 1024x768"),
}

#: workloads kept out of the corpus: the transfer is measured on these
HELD_OUT = {
    "conv1d": (_conv1d(64, 1024, 128, 5), "conv1d 64x1024, 128 filters of 5 (operator "
                                          "not in the corpus)"),
    "dense": (_dense_bias_relu(16, 1024, 1000, relu=False),
              "dense 16x1024 @ (1000x1024).T + b (shape not in the corpus)"),
    "conv2d": (_conv2d(128, 28, 128, 3), "conv2d 1x128x28x28, 128 3x3, pad 1 (shape not in "
                                         "the corpus)"),
    "batch_matmul": (_batch_matmul(12, 64, 256, 64),
                     "batch_matmul 12x64x256 @ 12x256x64 (shape not in the corpus)"),
}
