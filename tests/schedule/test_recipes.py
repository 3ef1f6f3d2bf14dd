"""The schedule recipes compile and match numpy at small sizes."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang.schedule import recipes
from tensorlang.tir import stmt as S
from tensorlang.tir.functor import Visitor


class _LoopKinds(Visitor):
    def __init__(self):
        self.kinds = set()

    def visit_For(self, node):
        self.kinds.add(node.kind)
        self.generic_visit(node)


def loop_kinds(s, tensors) -> set:
    finder = _LoopKinds()
    finder.visit(tl.lower(s, tensors).body)
    return finder.kinds


def conv2d_reference(data, kernel):
    """Direct 3x3, stride 1, padding 1 convolution in numpy."""
    height, width = data.shape[2:]
    padded = np.pad(data, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((data.shape[0], kernel.shape[0], height, width), data.dtype)
    for ry in range(3):
        for rx in range(3):
            window = padded[:, :, ry:ry + height, rx:rx + width]
            out += np.einsum("nchw,fc->nfhw", window, kernel[:, :, ry, rx])
    return out


@pytest.mark.parametrize("step", list(recipes.GEMM_STEPS))
def test_gemm_steps_match_numpy(step):
    M, N, K = 40, 128, 24
    s, tensors = recipes.GEMM_STEPS[step](M, N, K)
    assert [t.name for t in tensors] == ["A", "B", "C"]
    mod = tl.build(s, tensors, name=f"gemm_{step}")
    rng = np.random.default_rng(1)
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = rng.standard_normal((K, N), dtype=np.float32)
    c = np.zeros((M, N), np.float32)
    mod(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)


def test_gemm_schedules_have_the_loop_kinds_they_promise():
    size = 64
    assert S.ForKind.VECTORIZED not in loop_kinds(*recipes.gemm_blocking(size, size, size))
    assert S.ForKind.VECTORIZED in loop_kinds(*recipes.gemm_vectorize(size, size, size))
    final = loop_kinds(*recipes.gemm_parallel(size, size, size))
    assert {S.ForKind.PARALLEL, S.ForKind.VECTORIZED, S.ForKind.UNROLLED} <= final
    tiled = loop_kinds(*recipes.gemm_register_tiled(size, size, size))
    assert {S.ForKind.PARALLEL, S.ForKind.VECTORIZED, S.ForKind.UNROLLED} <= tiled


def test_gemm_float64_and_ragged_rows():
    M, N, K = 30, 64, 17   # M not a multiple of the 4-row register tile
    s, tensors = recipes.gemm_register_tiled(M, N, K, dtype="float64")
    mod = tl.build(s, tensors)
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((M, K)), rng.standard_normal((K, N))
    c = np.zeros((M, N))
    mod(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-10, atol=1e-10)


def test_packed_gemm_needs_whole_panels():
    with pytest.raises(ValueError, match="multiple of the panel width bn=64"):
        recipes.gemm_register_tiled(64, 100, 64)


def test_blocked_gemm_reads_rows_as_vectors_not_gathers():
    # the innermost row loop of the blocked schedule must reach LLVM's vectorizer rolled
    s, tensors = recipes.gemm_blocking(64, 64, 64)
    source = tl.build(s, tensors).get_source("ll")
    assert "gather" not in source
    assert "x float>" in source


@pytest.mark.parametrize("n", [1000, 4096])
def test_elementwise_fused_matches_numpy(n):
    s, tensors = recipes.elementwise_fused(n)
    assert {S.ForKind.PARALLEL, S.ForKind.VECTORIZED} <= loop_kinds(s, tensors)
    mod = tl.build(s, tensors)
    rng = np.random.default_rng(3)
    a, b, c = (rng.standard_normal(n, dtype=np.float32) for _ in range(3))
    d = np.zeros(n, np.float32)
    mod(a, b, c, d)
    np.testing.assert_allclose(d, np.exp(a) * b + c, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows, cols", [(8, 64), (5, 40)])
def test_softmax_rows_matches_numpy(rows, cols):
    s, tensors = recipes.softmax_rows(rows, cols)
    assert {S.ForKind.PARALLEL, S.ForKind.VECTORIZED} <= loop_kinds(s, tensors)
    mod = tl.build(s, tensors)
    x = np.random.default_rng(4).standard_normal((rows, cols), dtype=np.float32) * 10
    y = np.zeros_like(x)
    mod(x, y)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape", [(1, 8, 8, 10, 10), (2, 3, 5, 7, 9)])
def test_conv2d_matches_numpy(shape):
    batch, in_channels, out_channels, height, width = shape
    s, tensors = recipes.conv2d_nchw_3x3(batch, in_channels, out_channels, height, width)
    assert {S.ForKind.PARALLEL, S.ForKind.VECTORIZED} <= loop_kinds(s, tensors)
    mod = tl.build(s, tensors)
    rng = np.random.default_rng(5)
    data = rng.standard_normal((batch, in_channels, height, width), dtype=np.float32)
    kernel = rng.standard_normal((out_channels, in_channels, 3, 3), dtype=np.float32)
    out = np.zeros((batch, out_channels, height, width), np.float32)
    mod(data, kernel, out)
    np.testing.assert_allclose(out, conv2d_reference(data, kernel), rtol=1e-4, atol=1e-4)


def test_large_write_only_outputs_get_streaming_stores():
    # 64 MiB output, only written: stores bypass the caches, then a fence orders them
    big = tl.build(*recipes.elementwise_fused(16 * 1024 * 1024)).get_source("ll")
    assert "!nontemporal" in big and "fence" in big
    # small outputs, and outputs that are read back (accumulated), keep ordinary stores
    assert "!nontemporal" not in tl.build(*recipes.elementwise_fused(4096)).get_source("ll")
    s, tensors = recipes.gemm_vectorize(32 * 96, 32 * 96, 32)   # 36 MiB C, accumulated
    assert "!nontemporal" not in tl.build(s, tensors).get_source("ll")
