"""TVM's "Compute and Reduce with Tuple Inputs" tutorial through ``tensorlang.compat.tvm``:
a multi-output compute, an argmax reducer over (index, value) pairs, and a schedule of one
output of a multi-output stage, each checked against numpy."""
from __future__ import annotations

import numpy as np

from tensorlang.compat import tvm
from tvm import te  # noqa: E402

M, N = 5, 7


def test_multiple_outputs():
    n = te.var("n")
    m = te.var("m")
    A0 = te.placeholder((m, n), name="A0")
    A1 = te.placeholder((m, n), name="A1")
    B0, B1 = te.compute((m, n), lambda i, j: (A0[i, j] + 2, A1[i, j] * 3), name="B")
    s = te.create_schedule(B0.op)
    assert "B" in str(tvm.lower(s, [A0, A1, B0, B1], simple_mode=True))
    f = tvm.build(s, [A0, A1, B0, B1], "llvm")
    a0, a1 = np.random.rand(M, N).astype("float32"), np.random.rand(M, N).astype("float32")
    b0, b1 = tvm.nd.empty((M, N), "float32"), tvm.nd.empty((M, N), "float32")
    f(a0, a1, b0, b1)
    np.testing.assert_allclose(b0.numpy(), a0 + 2, rtol=1e-6)
    np.testing.assert_allclose(b1.numpy(), a1 * 3, rtol=1e-6)


def test_argmax_reducer_over_tuples():
    def fcombine(x, y):
        lhs = tvm.tir.Select((x[1] >= y[1]), x[0], y[0])
        rhs = tvm.tir.Select((x[1] >= y[1]), x[1], y[1])
        return lhs, rhs

    def fidentity(t0, t1):
        return tvm.tir.const(-1, t0), tvm.te.min_value(t1)

    argmax = te.comm_reducer(fcombine, fidentity, name="argmax")
    m = te.var("m")
    n = te.var("n")
    idx = te.placeholder((m, n), name="idx", dtype="int32")
    val = te.placeholder((m, n), name="val", dtype="int32")
    k = te.reduce_axis((0, n), "k")
    T0, T1 = te.compute((m,), lambda i: argmax((idx[i, k], val[i, k]), axis=k), name="T")
    s = te.create_schedule(T0.op)
    f = tvm.build(s, [idx, val, T0, T1], "llvm")
    rng = np.random.default_rng(0)
    values = rng.permutation(M * N).reshape(M, N).astype("int32")
    indices = np.tile(np.arange(N, dtype="int32"), (M, 1))
    t0, t1 = tvm.nd.empty((M,), "int32"), tvm.nd.empty((M,), "int32")
    f(indices, values, t0, t1)
    np.testing.assert_array_equal(t0.numpy(), values.argmax(axis=1))
    np.testing.assert_array_equal(t1.numpy(), values.max(axis=1))


def test_schedule_one_output_of_a_multi_output_stage():
    n = te.var("n")
    m = te.var("m")
    A0 = te.placeholder((m, n), name="A0")
    B0, B1 = te.compute((m, n), lambda i, j: (A0[i, j] + 2, A0[i, j] * 3), name="B")
    A1 = te.placeholder((m, n), name="A1")
    C = te.compute((m, n), lambda i, j: A1[i, j] + B0[i, j], name="C")
    s = te.create_schedule(C.op)
    s[B0].compute_at(s[C], C.op.axis[0])
    assert "for" in str(tvm.lower(s, [A0, A1, C], simple_mode=True))
    f = tvm.build(s, [A0, A1, C], "llvm")
    a0, a1 = np.random.rand(M, N).astype("float32"), np.random.rand(M, N).astype("float32")
    c = tvm.nd.empty((M, N), "float32")
    f(a0, a1, c)
    np.testing.assert_allclose(c.numpy(), a1 + a0 + 2, rtol=1e-6)
