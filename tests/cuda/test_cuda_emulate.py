"""CPU emulation of GPU kernels: results equal numpy (and the loop-IR interpreter where the
kernel's meaning does not depend on threads running together); races and divergent
barriers are reported."""
from __future__ import annotations

import numpy as np
import pytest

from tensorlang import tir
from tensorlang.tir import op
from tensorlang.tir import Allocate, BufferStore, IfThenElse, PrimFunc, decl_buffer
from tensorlang.tir.interpreter import interpret
from tensorlang.target.cuda import EmulationError, build, emulate, inject_syncthreads

from cuda_tir_kernels import (bound, elementwise, row_sum, stage, sync, tiled_matmul,
                              vector_copy)
from test_cuda_codegen import local_unrolled, math_kernel

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("n", [1, 63, 64, 65, 200])
def test_elementwise_with_tail_equals_numpy(n):
    mod = build(elementwise(block=64), "cuda")
    a = RNG.standard_normal(n).astype("float32")
    b = np.full(n, -7.0, "float32")
    mod.emulate(a, b)
    np.testing.assert_array_equal(b, a * np.float32(2) + np.float32(1))


def test_vector_kernels_equal_numpy():
    for offset in (0, 1):
        mod = build(vector_copy(n=512, lanes=4, offset=offset), "cuda")
        a = RNG.standard_normal(512 + offset).astype("float32")
        b = np.zeros(512, "float32")
        mod.emulate(a, b)
        np.testing.assert_array_equal(b, a[offset:] * np.float32(3))
    mod = build(local_unrolled(), "cuda")
    a = RNG.standard_normal((128, 4)).astype("float32")
    b = np.zeros(128, "float32")
    mod.emulate(a, b)
    expected = np.zeros(128, "float32")
    for k in range(4):
        expected += a[:, k] * np.float32(2)
    np.testing.assert_array_equal(b, expected)


@pytest.mark.parametrize("rows, cols, threads", [(3, 150, 64), (1, 5, 32), (4, 256, 128)])
def test_shared_memory_tree_reduction_equals_numpy(rows, cols, threads):
    mod = build(row_sum(threads=threads), "cuda")
    a = RNG.standard_normal((rows, cols)).astype("float32")
    b = np.zeros(rows, "float32")
    mod.emulate(a, b)
    np.testing.assert_allclose(b, a.astype("float64").sum(axis=1), rtol=1e-5, atol=1e-5)


def test_hand_placed_barriers_run_as_written():
    func = row_sum(threads=32, barriers=True)
    a = RNG.standard_normal((2, 70)).astype("float32")
    b = np.zeros(2, "float32")
    emulate(func, a, b)
    np.testing.assert_allclose(b, a.sum(axis=1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(16, 16, 16), (37, 29, 21), (5, 3, 9)])
def test_tiled_matmul_equals_numpy_and_the_interpreter(shape):
    M, K, N = shape
    func = tiled_matmul(tile=8)
    mod = build(func, "cuda")
    a = RNG.standard_normal((M, K)).astype("float32")
    b = RNG.standard_normal((K, N)).astype("float32")
    c = np.zeros((M, N), "float32")
    mod.emulate(a, b, c)
    np.testing.assert_allclose(c, a.astype("float64") @ b, rtol=1e-4, atol=1e-4)
    # threads accumulate in the same order as the serial interpreter: identical bits
    reference = np.zeros_like(c)
    interpret(func, a, b, reference)
    np.testing.assert_array_equal(c, reference)


def test_float16_matmul_rounds_like_the_interpreter():
    func = tiled_matmul(tile=4, dtype="float16")
    a = RNG.standard_normal((9, 7)).astype("float16")
    b = RNG.standard_normal((7, 6)).astype("float16")
    c = np.zeros((9, 6), "float16")
    build(func, "cuda").emulate(a, b, c)
    reference = np.zeros_like(c)
    interpret(func, a, b, reference)
    np.testing.assert_array_equal(c, reference)
    np.testing.assert_allclose(c, a.astype("float32") @ b.astype("float32"), rtol=0.02,
                               atol=0.05)


def test_math_kernel_equals_the_interpreter_bit_for_bit():
    func = math_kernel()
    a = RNG.random(256).astype("float32") * 2
    b = np.zeros(256, "float32")
    build(func, "cuda").emulate(a, b)
    reference = np.zeros_like(b)
    interpret(func, a, reference)
    np.testing.assert_array_equal(b, reference)


def test_scalar_arguments_reach_the_kernel():
    n = tir.var("n")
    alpha = tir.var("alpha", "float32")
    A = decl_buffer((n,), "float32", "A")
    bx, tx = tir.var("bx"), tir.var("tx")
    i = bx * 32 + tx
    nest = bound(bx, (n + 31) // 32, "blockIdx.x", bound(tx, 32, "threadIdx.x", IfThenElse(
        i < n, BufferStore(A, A[i] * alpha, (i,)))))
    func = PrimFunc("scale_in_place", (A, alpha), stage("A", nest))
    a = RNG.standard_normal(45).astype("float32")
    expected = a * np.float32(0.5)
    build(func, "cuda").emulate(a, 0.5)
    np.testing.assert_array_equal(a, expected)


def test_non_contiguous_outputs_are_written_back():
    mod = build(elementwise(), "cuda")
    a = RNG.standard_normal(20).astype("float32")
    storage = np.zeros(40, "float32")
    b = storage[::2]
    mod.emulate(a, b)
    np.testing.assert_array_equal(storage[::2], a * np.float32(2) + np.float32(1))
    assert not storage[1::2].any()


def test_missing_barriers_are_reported_as_data_races():
    a = RNG.standard_normal((16, 16)).astype("float32")
    b = RNG.standard_normal((16, 16)).astype("float32")
    c = np.zeros((16, 16), "float32")
    with pytest.raises(EmulationError, match=r"data race on shared buffer 'A.shared'"):
        emulate(tiled_matmul(tile=8), a, b, c)
    with pytest.raises(EmulationError, match=r"data race on shared buffer 'red'"):
        emulate(row_sum(threads=32), RNG.standard_normal((1, 40)).astype("float32"),
                np.zeros(1, "float32"))
    # the same kernels with the barriers of inject_syncthreads run clean
    emulate(inject_syncthreads(tiled_matmul(tile=8)), a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)


def test_barrier_not_reached_by_every_thread_is_reported():
    A = decl_buffer((32,), "float32", "A")
    sh = decl_buffer((32,), "float32", "sh", scope="shared")
    bx, tx = tir.var("bx"), tir.var("tx")
    body = tir.seq(BufferStore(sh, A[tx], (tx,)),
                   IfThenElse(tx < 16, tir.seq(sync(), BufferStore(A, sh[31 - tx], (tx,)))))
    func = PrimFunc("diverge", (A,), stage("A", bound(bx, 1, "blockIdx.x", Allocate(
        sh, bound(tx, 32, "threadIdx.x", body)))))
    with pytest.raises(EmulationError, match=r"do not all reach the same __syncthreads"):
        emulate(func, np.zeros(32, "float32"))


def test_shared_memory_is_private_to_each_block_and_local_to_each_thread():
    # every block writes its own index into the same shared slot; threads keep a private
    # register that must not leak between them
    out = decl_buffer((4, 8), "int32", "out")
    sh = decl_buffer((1,), "int32", "sh", scope="shared")
    reg = decl_buffer((1,), "int32", "reg", scope="local")
    bx, tx = tir.var("bx"), tir.var("tx")
    body = tir.seq(
        BufferStore(reg, tx * 10, (op.const(0),)),
        IfThenElse(tx == 0, BufferStore(sh, bx, (op.const(0),))),
        sync(),
        BufferStore(out, sh[0] * 100 + reg[0], (bx, tx)))
    func = PrimFunc("private", (out,), stage("out", bound(bx, 4, "blockIdx.x", Allocate(
        sh, bound(tx, 8, "threadIdx.x", Allocate(reg, body))))))
    result = np.zeros((4, 8), "int32")
    emulate(func, result)
    expected = np.arange(4)[:, None] * 100 + np.arange(8)[None, :] * 10
    np.testing.assert_array_equal(result, expected)


def test_wrong_arguments_name_the_parameter():
    mod = build(elementwise(), "cuda")
    a = np.zeros(10, "float32")
    with pytest.raises(TypeError, match="takes 2 argument"):
        mod.emulate(a)
    with pytest.raises(TypeError, match="argument 'B'.*float32"):
        mod.emulate(a, np.zeros(10, "float64"))
    with pytest.raises(ValueError, match="argument 'B'.*dimension 0"):
        mod.emulate(a, np.zeros(11, "float32"))
