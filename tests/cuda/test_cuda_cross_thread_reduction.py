"""Cross-thread reductions: rfactor with the final reduction bound to threadIdx becomes a
shared-memory tree; emulated results equal numpy and the source compiles with nvcc."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te, ops, tir
from tensorlang.tir import op
from tensorlang.tir import BufferStore, IfThenElse, PrimFunc, decl_buffer
from tensorlang.target.cuda import build, compile_cuda
from tensorlang.tir.transform.cross_thread_reduction import lower_cross_thread_reduction

from cuda_tir_kernels import bound, serial, stage

RNG = np.random.default_rng(5)


def cross_thread_reduce(stage_, threads, rows_per_block=None):
    """rfactor the reduction of ``stage_``'s tensor and bind the final reduction to
    threadIdx.x (rows to blockIdx.x, or blocks of ``rows_per_block`` rows on
    threadIdx.y)."""
    s, tensor = stage_
    _, inner = s[tensor].split(s[tensor].op.reduce_axis[0], factor=threads)
    factored = s.rfactor(tensor, inner)
    tx = s[tensor].op.reduce_axis[0]
    row = s[tensor].op.axis[0]
    if rows_per_block is None:
        s[tensor].bind(row, te.thread_axis("blockIdx.x"))
    else:
        outer, inner_row = s[tensor].split(row, factor=rows_per_block)
        s[tensor].bind(outer, te.thread_axis("blockIdx.x"))
        s[tensor].bind(inner_row, te.thread_axis("threadIdx.y"))
    s[tensor].bind(tx, te.thread_axis("threadIdx.x"))
    s[factored].compute_at(s[tensor], tx)
    s[factored].set_scope("local")


def row_reduction(rows, cols, reducer=te.sum, threads=16, rows_per_block=None):
    A = te.placeholder((rows, cols), name="A")
    k = te.reduce_axis((0, cols), name="k")
    B = te.compute((rows,), lambda i: reducer(A[i, k], axis=k), name="B")
    s = te.create_schedule(B)
    cross_thread_reduce((s, B), threads, rows_per_block)
    return build(tl.lower(s, [A, B]), "cuda")


@pytest.mark.parametrize("rows,cols,threads", [(4, 64, 16), (5, 70, 16), (3, 9, 16),
                                               (6, 50, 12)])
def test_row_sum_across_threads_equals_numpy(rows, cols, threads):
    mod = row_reduction(rows, cols, te.sum, threads)
    source = mod.get_source("cuda")
    # a split of factor past the row length (9 by 16) makes one step of 9 threads
    assert re.search(r"__shared__ .*float B_red\[%d\]" % min(threads, cols), source)
    assert source.count("__syncthreads();") >= 2
    a = RNG.standard_normal((rows, cols)).astype("float32")
    b = np.zeros(rows, "float32")
    mod.emulate(a, b)  # raises on a shared-memory race or a barrier not all threads reach
    np.testing.assert_allclose(b, a.astype("float64").sum(axis=1), rtol=1e-5, atol=1e-5)


def test_row_max_with_rows_on_threadidx_y_and_tails():
    rows, cols = 6, 10  # 4 rows per block: the second block has a row tail
    mod = row_reduction(rows, cols, te.max, threads=16, rows_per_block=4)
    a = RNG.standard_normal((rows, cols)).astype("float32")
    b = np.zeros(rows, "float32")
    mod.emulate(a, b)
    np.testing.assert_array_equal(b, a.max(axis=1))


def test_softmax_with_cross_thread_reductions():
    rows, cols = 5, 37
    x = te.placeholder((rows, cols), name="x")
    y = ops.softmax(x)
    s = te.create_schedule(y)
    for st in list(s.stages):
        if st.is_placeholder or st.op.name.endswith(".rf"):
            continue
        if st.op.reduce_axis:
            cross_thread_reduce((s, st.op.output(0)), threads=8)
        else:
            st.bind(st.op.axis[0], te.thread_axis("blockIdx.x"))
            _, inner = st.split(st.op.axis[1], factor=16)
            st.bind(inner, te.thread_axis("threadIdx.x"))
    mod = build(tl.lower(s, [x, y]), "cuda")
    assert mod.get_source("cuda").count("_red[") >= 2
    a = RNG.standard_normal((rows, cols)).astype("float32")
    out = np.zeros_like(a)
    mod.emulate(a, out)
    e = np.exp(a - a.max(axis=1, keepdims=True))
    np.testing.assert_allclose(out, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)


def test_cross_thread_reduction_compiles_with_nvcc(nvcc_cached):
    source = row_reduction(6, 50, te.max, threads=12, rows_per_block=2).get_source("cuda")
    for arch in ("sm_80", "sm_90"):
        ptx = compile_cuda(source, arch, "ptx").decode()
        assert f".target {arch}" in ptx and "bar.sync" in ptx


def test_binding_a_plain_reduction_is_still_refused():
    A = te.placeholder((4, 8), name="A")
    k = te.reduce_axis((0, 8), name="k")
    B = te.compute((4,), lambda i: te.sum(A[i, k], axis=k), name="B")
    s = te.create_schedule(B)
    with pytest.raises(tl.ScheduleError, match="rfactor"):
        s[B].bind(k, te.thread_axis("threadIdx.x"))


def _accumulating_kernel(guarded_loop: bool):
    """``B[r] += A[r, t]`` inside loops bound to blockIdx (r) and threadIdx (t)."""
    A = decl_buffer((4, 8), "float32", "A")
    B = decl_buffer((4,), "float32", "B")
    r, t, j = tir.var("r"), tir.var("t"), tir.var("j")
    update = BufferStore(B, B[r] + A[r, t], (r,))
    body = IfThenElse(t < 5, serial(j, 1, update)) if guarded_loop else update
    init = BufferStore(B, op.const(0.0), (r,))
    nest = bound(r, 4, "blockIdx.x", tir.seq(init, bound(t, 8, "threadIdx.x", body)))
    return PrimFunc("acc", (A, B), stage("B", nest))


def test_hand_written_accumulation_across_threads_is_reduced():
    func = _accumulating_kernel(guarded_loop=False)
    assert lower_cross_thread_reduction(func) is not func
    a = RNG.standard_normal((4, 8)).astype("float32")
    b = np.zeros(4, "float32")
    build(func, "cuda").emulate(a, b)
    np.testing.assert_allclose(b, a.sum(axis=1), rtol=1e-5, atol=1e-6)


def test_reduction_under_a_thread_dependent_condition_is_refused():
    with pytest.raises(tl.BuildError, match=r"stage 'B': the reduction into 'B' across "
                                            r"threads 't' \(threadIdx.x\) sits under the "
                                            r"condition"):
        build(_accumulating_kernel(guarded_loop=True), "cuda")


def test_functions_without_cross_thread_accumulation_are_unchanged():
    A = te.placeholder((64,), name="A")
    B = te.compute((64,), lambda i: A[i] + 1.0, name="B")
    s = te.create_schedule(B)
    bx, tx = s[B].split(B.op.axis[0], factor=32)
    s[B].bind(bx, te.thread_axis("blockIdx.x"))
    s[B].bind(tx, te.thread_axis("threadIdx.x"))
    func = tl.lower(s, [A, B])
    assert lower_cross_thread_reduction(func) is func


@pytest.mark.gpu
def test_cross_thread_reductions_on_the_gpu(gpu, monkeypatch):
    monkeypatch.delenv("TL_CUDA_EMULATE", raising=False)
    a = RNG.standard_normal((9, 1000)).astype("float32")
    for reducer, expected in ((te.sum, a.astype("float64").sum(axis=1)),
                              (te.max, a.max(axis=1))):
        for rows_per_block in (None, 4):
            mod = row_reduction(9, 1000, reducer, threads=128 if rows_per_block is None
                                else 64, rows_per_block=rows_per_block)
            b = np.zeros(9, "float32")
            mod(a, b)
            emulated = np.zeros(9, "float32")
            mod.emulate(a, emulated)
            np.testing.assert_allclose(b, expected, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(b, emulated, rtol=1e-5, atol=1e-5)


def test_reduction_recomputed_by_every_thread_is_left_alone():
    """An accumulator reset inside the thread loop is each thread's own computation."""
    A = decl_buffer((8,), "float32", "A")
    B = decl_buffer((4,), "float32", "B")
    acc = decl_buffer((1,), "float32", "acc", scope="shared")
    t, k = tir.var("t"), tir.var("k")
    body = tir.seq(BufferStore(acc, op.const(0.0), (op.const(0),)),
                   serial(k, 8, BufferStore(acc, acc[0] + A[k], (op.const(0),))))
    func = PrimFunc("f", (A, B), stage("acc", bound(t, 4, "threadIdx.x", body)))
    assert lower_cross_thread_reduction(func) is func


def test_symbolic_rows_and_columns_are_int_arguments():
    rows, cols = te.var("rows"), te.var("cols")
    A = te.placeholder((rows, cols), name="A")
    k = te.reduce_axis((0, cols), name="k")
    B = te.compute((rows,), lambda i: te.sum(A[i, k], axis=k), name="B")
    s = te.create_schedule(B)
    cross_thread_reduce((s, B), threads=32)
    mod = build(tl.lower(s, [A, B]), "cuda")
    assert re.search(r"__global__ .*\(float\* __restrict__ A, float\* __restrict__ B, "
                     r"int rows, int cols\)", mod.get_source("cuda"))
    for shape in ((3, 100), (5, 7)):
        a = RNG.standard_normal(shape).astype("float32")
        b = np.zeros(shape[0], "float32")
        mod.emulate(a, b)
        np.testing.assert_allclose(b, a.astype("float64").sum(axis=1), rtol=1e-5, atol=1e-5)
