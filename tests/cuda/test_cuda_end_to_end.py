"""Schedules with bind / cache_read("shared") / cache_write("local"), lowered by tl.lower,
built for cuda and emulated: results equal numpy."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te, ops
from tensorlang.target import build as build_for_target
from tensorlang.target.cuda import build

RNG = np.random.default_rng(11)


def shared_tiled_matmul(M, N, K, tile=8):
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    k = te.reduce_axis((0, K), name="k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    s = te.create_schedule(C)
    AA = s.cache_read(A, "shared", [C])
    BB = s.cache_read(B, "shared", [C])
    CL = s.cache_write(C, "local")
    i, j = C.op.axis
    bi, ti = s[C].split(i, factor=tile)
    bj, tj = s[C].split(j, factor=tile)
    s[C].reorder(bi, bj, ti, tj)
    s[C].bind(bi, te.thread_axis("blockIdx.y"))
    s[C].bind(bj, te.thread_axis("blockIdx.x"))
    s[C].bind(ti, te.thread_axis("threadIdx.y"))
    s[C].bind(tj, te.thread_axis("threadIdx.x"))
    s[CL].compute_at(s[C], tj)
    ko, _ = s[CL].split(s[CL].op.reduce_axis[0], factor=tile)
    for cached in (AA, BB):
        s[cached].compute_at(s[CL], ko)
        ax0, ax1 = s[cached].op.axis
        s[cached].bind(ax0, te.thread_axis("threadIdx.y"))
        s[cached].bind(ax1, te.thread_axis("threadIdx.x"))
    return s, [A, B, C]


@pytest.mark.parametrize("shape", [(32, 32, 32), (50, 38, 29)])
def test_scheduled_shared_memory_matmul(shape):
    M, N, K = shape
    s, args = shared_tiled_matmul(M, N, K)
    func = tl.lower(s, args)
    mod = build(func, "cuda")
    source = mod.get_source("cuda")
    assert "__shared__" in source and "__syncthreads();" in source
    a = RNG.standard_normal((M, K)).astype("float32")
    b = RNG.standard_normal((K, N)).astype("float32")
    c = np.zeros((M, N), "float32")
    mod.emulate(a, b, c)  # raises on any shared-memory race
    np.testing.assert_allclose(c, a.astype("float64") @ b, rtol=1e-4, atol=1e-4)


def test_target_dispatch_builds_cuda_modules(monkeypatch):
    s, args = shared_tiled_matmul(16, 16, 16)
    mod = build_for_target(tl.lower(s, args), "cuda")
    a = RNG.standard_normal((16, 16)).astype("float32")
    b = RNG.standard_normal((16, 16)).astype("float32")
    c = np.zeros((16, 16), "float32")
    monkeypatch.setenv("TL_CUDA_EMULATE", "1")
    mod(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)


def test_scheduled_elementwise_with_tail_and_symbolic_size():
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: te.sigmoid(A[i]) * 2.0, name="B")
    s = te.create_schedule(B)
    bx, tx = s[B].split(B.op.axis[0], factor=64)
    s[B].bind(bx, te.thread_axis("blockIdx.x"))
    s[B].bind(tx, te.thread_axis("threadIdx.x"))
    mod = build(tl.lower(s, [A, B]), "cuda")
    for size in (1, 64, 100):
        a = RNG.standard_normal(size).astype("float32")
        b = np.zeros(size, "float32")
        mod.emulate(a, b)
        np.testing.assert_allclose(b, 2.0 / (1.0 + np.exp(-a.astype("float64"))),
                                   rtol=1e-6)


def test_scheduled_softmax_runs_as_four_kernels():
    rows, cols = 7, 45
    x = te.placeholder((rows, cols), name="x")
    y = ops.softmax(x)
    s = te.create_schedule(y)
    for stage in s.stages:
        if stage.is_placeholder:
            continue
        axes = stage.op.axis
        if len(axes) == 1:  # the row reductions: one thread per row
            outer, inner = stage.split(axes[0], factor=4)
            stage.bind(outer, te.thread_axis("blockIdx.x"))
            stage.bind(inner, te.thread_axis("threadIdx.x"))
        else:
            stage.bind(axes[0], te.thread_axis("blockIdx.x"))
            _, inner = stage.split(axes[1], factor=16)
            stage.bind(inner, te.thread_axis("threadIdx.x"))
    mod = build(tl.lower(s, [x, y]), "cuda")
    assert len(mod.program.kernels) == 4
    a = RNG.standard_normal((rows, cols)).astype("float32")
    out = np.zeros_like(a)
    mod.emulate(a, out)
    e = np.exp(a - a.max(axis=1, keepdims=True))
    np.testing.assert_allclose(out, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)


def test_scheduled_conv2d_with_padding():
    data = te.placeholder((1, 3, 9, 9), name="data")
    kernel = te.placeholder((4, 3, 3, 3), name="kernel")
    out = ops.conv2d_nchw(data, kernel, stride=1, padding=1)
    s = te.create_schedule(out)
    next(st for st in s.stages if st.op.name == "data_pad").compute_inline()
    fused = s[out].fuse(*s[out].op.axis)
    outer, inner = s[out].split(fused, factor=64)
    s[out].bind(outer, te.thread_axis("blockIdx.x"))
    s[out].bind(inner, te.thread_axis("threadIdx.x"))
    mod = build(tl.lower(s, [data, kernel, out]), "cuda")
    d = RNG.standard_normal((1, 3, 9, 9)).astype("float32")
    k = RNG.standard_normal((4, 3, 3, 3)).astype("float32")
    o = np.zeros((1, 4, 9, 9), "float32")
    mod.emulate(d, k, o)
    padded = np.pad(d.astype("float64"), ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
    expected = np.einsum("ncyxij,fcij->nfyx", windows, k.astype("float64"))
    np.testing.assert_allclose(o, expected, rtol=1e-5, atol=1e-5)


def test_unbound_schedule_is_refused_with_the_stage_and_axis():
    A = te.placeholder((64,), name="A")
    B = te.compute((64,), lambda i: A[i] + 1.0, name="B")
    s = te.create_schedule(B)
    with pytest.raises(tl.BuildError, match=r"stage 'B': loop 'i'.*bind it to "
                                            r"blockIdx/threadIdx"):
        build(tl.lower(s, [A, B]), "cuda")


@pytest.mark.gpu
def test_scheduled_kernels_on_the_gpu(gpu, monkeypatch):
    monkeypatch.delenv("TL_CUDA_EMULATE", raising=False)
    s, args = shared_tiled_matmul(130, 70, 45, tile=16)
    mod = tl.build(s, args, target="cuda")
    a = RNG.standard_normal((130, 45)).astype("float32")
    b = RNG.standard_normal((45, 70)).astype("float32")
    c = np.zeros((130, 70), "float32")
    mod(a, b, c)
    np.testing.assert_allclose(c, a.astype("float64") @ b, rtol=1e-4, atol=1e-4)
    assert 0 < mod.time(a, b, c, number=5, repeat=2) < 1

    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: te.sigmoid(A[i]) * 2.0, name="B")
    s = te.create_schedule(B)
    outer, lanes = s[B].split(B.op.axis[0], factor=4)
    bx, tx = s[B].split(outer, factor=128)
    s[B].bind(bx, te.thread_axis("blockIdx.x"))
    s[B].bind(tx, te.thread_axis("threadIdx.x"))
    s[B].vectorize(lanes)
    mod = tl.build(s, [A, B], target="cuda")
    for size in (1, 1000, 4099):
        x = RNG.standard_normal(size).astype("float32")
        y = np.zeros(size, "float32")
        mod(x, y)
        np.testing.assert_allclose(y, 2.0 / (1.0 + np.exp(-x.astype("float64"))), rtol=1e-5)
