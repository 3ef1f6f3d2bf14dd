"""TVM's "How to optimize GEMM on CPU" tutorial through ``tensorlang.compat.tvm``: the
default schedule, blocking, vectorization, loop permutation, array packing, a write cache
and parallelism, each built and checked against numpy (smaller sizes than the tutorial's
1024, not multiples of the block)."""
from __future__ import annotations

import numpy as np
import pytest

from tensorlang.compat import tvm
import tvm.testing  # noqa: E402,F811
from tvm import te  # noqa: E402

M = K = N = 72
bn = 24          # divides N: packing needs N / bn whole
kfactor = 4
dtype = "float32"
target = "llvm"
dev = tvm.device(target, 0)


def _arrays():
    rng = np.random.default_rng(0)
    a = tvm.nd.array(rng.random((M, K)).astype(dtype), dev)
    b = tvm.nd.array(rng.random((K, N)).astype(dtype), dev)
    return a, b, np.dot(a.numpy(), b.numpy())


def _matmul():
    k = te.reduce_axis((0, K), "k")
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    C = te.compute((M, N), lambda m, n: te.sum(A[m, k] * B[k, n], axis=k), name="C")
    return A, B, C, k


def _packed():
    k = te.reduce_axis((0, K), "k")
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    packedB = te.compute((N / bn, K, bn), lambda x, y, z: B[y, x * bn + z], name="packedB")
    C = te.compute(
        (M, N),
        lambda m, n: te.sum(A[m, k] * packedB[n // bn, k, tvm.tir.indexmod(n, bn)], axis=k),
        name="C")
    return A, B, C, packedB


def _blocking(s, C, k):
    mo, no, mi, ni = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    ko, ki = s[C].split(k, factor=kfactor)
    return mo, no, mi, ni, ko, ki


@pytest.mark.parametrize("step", ["default", "blocking", "vectorization", "permutation"])
def test_schedules_on_the_plain_matmul(step):
    A, B, C, k = _matmul()
    s = te.create_schedule(C.op)
    if step != "default":
        mo, no, mi, ni, ko, ki = _blocking(s, C, k)
        if step == "permutation":
            s[C].reorder(mo, no, ko, mi, ki, ni)
        else:
            s[C].reorder(mo, no, ko, ki, mi, ni)
        if step in ("vectorization", "permutation"):
            s[C].vectorize(ni)
    func = tvm.build(s, [A, B, C], target=target, name="mmult")
    a, b, answer = _arrays()
    c = tvm.nd.array(np.zeros((M, N), dtype=dtype), dev)
    func(a, b, c)
    tvm.testing.assert_allclose(c.numpy(), answer, rtol=1e-5)
    evaluator = func.time_evaluator(func.entry_name, dev, number=2)
    assert evaluator(a, b, c).mean > 0


@pytest.mark.parametrize("step", ["packing", "write cache", "parallel"])
def test_schedules_with_array_packing(step):
    A, B, C, packedB = _packed()
    s = te.create_schedule(C.op)
    if step == "packing":
        mo, no, mi, ni = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
        (k,) = s[C].op.reduce_axis
        ko, ki = s[C].split(k, factor=kfactor)
        s[C].reorder(mo, no, ko, mi, ki, ni)
        s[C].vectorize(ni)
        bigN, _, littleN = s[packedB].op.axis
        s[packedB].vectorize(littleN)
        s[packedB].parallel(bigN)
    else:
        CC = s.cache_write(C, "global")
        mo, no, mi, ni = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
        s[CC].compute_at(s[C], no)
        mc, nc = s[CC].op.axis
        (kaxis,) = s[CC].op.reduce_axis
        ko, ki = s[CC].split(kaxis, factor=kfactor)
        s[CC].reorder(ko, mc, ki, nc)
        s[CC].vectorize(nc)
        s[CC].unroll(ki)
        x, y, z = s[packedB].op.axis
        s[packedB].vectorize(z)
        s[packedB].parallel(x)
        if step == "parallel":
            s[C].parallel(mo)
    text = str(tvm.lower(s, [A, B, C], simple_mode=True))
    assert "packedB" in text
    func = tvm.build(s, [A, B, C], target=target, name="mmult")
    a, b, answer = _arrays()
    c = tvm.nd.array(np.zeros((M, N), dtype=dtype), dev)
    func(a, b, c)
    tvm.testing.assert_allclose(c.numpy(), answer, rtol=1e-5)
