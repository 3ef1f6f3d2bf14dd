"""TVM's "Reduction" tutorial through ``tensorlang.compat.tvm``: split and bind a sum,
rfactor, a cross-thread reduction with a store predicate (CUDA, emulated), a 2-D
convolution as a reduction, and a custom comm_reducer, each checked against numpy."""
from __future__ import annotations

import numpy as np

from tensorlang.compat import tvm
import tvm.testing  # noqa: E402,F811
from tvm import te  # noqa: E402
from tensorlang.settings import settings  # noqa: E402


def _row_sum():
    n = te.var("n")
    m = te.var("m")
    A = te.placeholder((n, m), name="A")
    k = te.reduce_axis((0, m), "k")
    B = te.compute((n,), lambda i: te.sum(A[i, k], axis=k), name="B")
    return A, B


def _check_row_sum(f, A, B, dev=None, shape=(40, 37)):
    dev = dev or tvm.cpu(0)
    a = tvm.nd.array(np.random.uniform(size=shape).astype(A.dtype), dev)
    b = tvm.nd.array(np.zeros(shape[0], dtype=B.dtype), dev)
    f(a, b)
    tvm.testing.assert_allclose(b.numpy(), np.sum(a.numpy(), axis=1), rtol=1e-4)


def test_split_the_reduction_and_the_rows():
    A, B = _row_sum()
    s = te.create_schedule(B.op)
    ko, ki = s[B].split(B.op.reduce_axis[0], factor=16)
    xo, xi = s[B].split(B.op.axis[0], factor=32)
    assert "for" in str(tvm.lower(s, [A, B], simple_mode=True))
    _check_row_sum(tvm.build(s, [A, B], "llvm"), A, B)


def test_rfactor():
    A, B = _row_sum()
    s = te.create_schedule(B.op)
    ko, ki = s[B].split(B.op.reduce_axis[0], factor=16)
    BF = s.rfactor(B, ki)
    assert "B.rf" in str(tvm.lower(s, [A, B], simple_mode=True))
    assert s[B].op.body
    _check_row_sum(tvm.build(s, [A, B], "llvm"), A, B)


def test_cross_thread_reduction_runs_unchanged_on_cuda():
    A, B = _row_sum()
    s = te.create_schedule(B.op)
    ko, ki = s[B].split(B.op.reduce_axis[0], factor=16)
    BF = s.rfactor(B, ki)
    xo, xi = s[B].split(s[B].op.axis[0], factor=32)
    s[B].bind(xo, te.thread_axis("blockIdx.x"))
    s[B].bind(xi, te.thread_axis("threadIdx.y"))
    tx = te.thread_axis("threadIdx.x")
    s[B].bind(s[B].op.reduce_axis[0], tx)
    s[BF].compute_at(s[B], s[B].op.reduce_axis[0])   # no scope given: local, as TVM infers
    s[B].set_store_predicate(tx.var.equal(0))
    fcuda = tvm.build(s, [A, B], "cuda")
    assert "__syncthreads" in fcuda.imported_modules[0].get_source()
    with settings.override(cuda_emulate=True):
        _check_row_sum(fcuda, A, B, tvm.cuda(0), shape=(70, 128))


def test_convolution_as_a_reduction():
    n = te.var("n")
    Input = te.placeholder((n, n), name="Input")
    Filter = te.placeholder((3, 3), name="Filter")
    di = te.reduce_axis((0, 3), name="di")
    dj = te.reduce_axis((0, 3), name="dj")
    Output = te.compute(
        (n - 2, n - 2),
        lambda i, j: te.sum(Input[i + di, j + dj] * Filter[di, dj], axis=[di, dj]),
        name="Output")
    s = te.create_schedule(Output.op)
    f = tvm.build(s, [Input, Filter, Output], "llvm")
    x = np.random.rand(12, 12).astype("float32")
    w = np.random.rand(3, 3).astype("float32")
    out = tvm.nd.empty((10, 10), "float32")
    f(x, w, out)
    expected = sum(x[a:a + 10, b:b + 10] * w[a, b] for a in range(3) for b in range(3))
    tvm.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)


def test_custom_comm_reducer():
    n = te.var("n")
    m = te.var("m")
    product = te.comm_reducer(lambda x, y: x * y, lambda t: tvm.tir.const(1, dtype=t),
                              name="product")
    A = te.placeholder((n, m), name="A")
    k = te.reduce_axis((0, m), name="k")
    B = te.compute((n,), lambda i: product(A[i, k], axis=k), name="B")
    s = te.create_schedule(B.op)
    f = tvm.build(s, [A, B], "llvm")
    a = np.random.uniform(0.5, 1.5, size=(6, 5)).astype("float32")
    b = tvm.nd.empty((6,), "float32")
    f(a, b)
    tvm.testing.assert_allclose(b.numpy(), np.prod(a, axis=1), rtol=1e-5)
