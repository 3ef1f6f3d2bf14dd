"""The GPU search space: sampled, mutated and crossed-over configs build for cuda within the
device limits, emulate to numpy's results, and compile with nvcc."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te, ops
from tensorlang.autotune.space import Config
from tensorlang.autotune.sketch_gpu import GpuSketchSpace, gpu_sketch_space
from tensorlang.autotune.sketch_gpu_rules import MAX_SHARED_BYTES, MAX_THREADS
from tensorlang.target.cuda import build, compile_cuda, gpu_available, nvcc_path
from tensorlang.tir.transform.split_kernels import THREAD_TAGS

RNG = np.random.default_rng(3)


def matmul(M, N, K):
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    k = te.reduce_axis((0, K), name="k")
    return te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")


def row_sum(rows, cols):
    A = te.placeholder((rows, cols), name="A")
    k = te.reduce_axis((0, cols), name="k")
    return te.compute((rows,), lambda i: te.sum(A[i, k], axis=k), name="B")


def build_config(space, config):
    s, args = space.apply(config)
    return build(tl.lower(s, args), "cuda")


def check_limits(mod):
    for kernel in mod.program.kernels:
        threads = math.prod(e.value for t, e in kernel.extents.items() if t in THREAD_TAGS)
        assert threads <= MAX_THREADS
        assert kernel.shared_bytes <= MAX_SHARED_BYTES


def test_matmul_configs_with_tails_equal_numpy():
    M, N, K = 37, 45, 29  # no size is a multiple of any tile
    space = gpu_sketch_space(matmul(M, N, K))
    assert space.sketch == "gpu:tiling" and [t.name for t in space.args] == ["A", "B", "C"]
    a = RNG.standard_normal((M, K)).astype("float32")
    b = RNG.standard_normal((K, N)).astype("float32")
    rng = np.random.default_rng(0)
    for _ in range(5):
        config = space.sample(rng)
        mod = build_config(space, config)
        source = mod.get_source("cuda")
        assert "__shared__" in source and "__syncthreads();" in source
        assert "blockIdx.x" in source and "threadIdx.x" in source
        check_limits(mod)
        c = np.zeros((M, N), "float32")
        mod.emulate(a, b, c)  # raises on any shared-memory race
        np.testing.assert_allclose(c, a.astype("float64") @ b, rtol=1e-4, atol=1e-4)


def test_shared_memory_estimate_bounds_the_real_tiles():
    space = gpu_sketch_space(matmul(96, 80, 72))
    rule = space.rules[0]
    rng = np.random.default_rng(1)
    for _ in range(12):
        config = space.sample(rng)
        mod = build_config(space, config)
        estimate = rule.shared_bytes(space._stage_decisions(config, 0))
        assert mod.program.kernels[0].shared_bytes <= estimate <= MAX_SHARED_BYTES


def test_large_matmul_configs_respect_the_device_limits():
    space = gpu_sketch_space(matmul(4096, 4096, 4096))
    rng = np.random.default_rng(2)
    for _ in range(20):
        d = space._stage_decisions(space.sample(rng), 0)
        rule = space.rules[0]
        assert rule.valid(d)
        threads = math.prod(d[f"tile.{k}"][1] for k in range(2))
        assert 1 <= threads <= MAX_THREADS


def test_row_reduction_configs_equal_numpy_in_both_modes():
    rows, cols = 6, 75
    space = gpu_sketch_space(row_sum(rows, cols))
    assert space.sketch == "gpu:reduction"
    a = RNG.standard_normal((rows, cols)).astype("float32")
    rng = np.random.default_rng(4)
    modes = set()
    for _ in range(40):
        config = space.sample(rng)
        if config["0.mode"] in modes:
            continue
        modes.add(config["0.mode"])
        mod = build_config(space, config)
        check_limits(mod)
        if config["0.mode"] == "cross_thread":
            assert "_red[" in mod.get_source("cuda")
        b = np.zeros(rows, "float32")
        mod.emulate(a, b)
        np.testing.assert_allclose(b, a.astype("float64").sum(axis=1), rtol=1e-5, atol=1e-5)
    assert modes == {"cross_thread", "per_thread"}


def test_softmax_and_conv2d_configs_equal_numpy():
    x = te.placeholder((5, 37), name="x")
    space = gpu_sketch_space(ops.softmax(x))
    assert space.sketch == "gpu:reduction+inline+reduction+elementwise"
    a = RNG.standard_normal((5, 37)).astype("float32")
    e = np.exp(a - a.max(axis=1, keepdims=True))
    out = np.zeros_like(a)
    build_config(space, space.sample(np.random.default_rng(5))).emulate(a, out)
    np.testing.assert_allclose(out, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)

    data = te.placeholder((1, 3, 9, 9), name="data")
    kernel = te.placeholder((4, 3, 3, 3), name="kernel")
    space = gpu_sketch_space(ops.conv2d_nchw(data, kernel, stride=1, padding=1))
    assert space.sketch == "gpu:inline+tiling"
    d = RNG.standard_normal((1, 3, 9, 9)).astype("float32")
    k = RNG.standard_normal((4, 3, 3, 3)).astype("float32")
    padded = np.pad(d.astype("float64"), ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
    expected = np.einsum("ncyxij,fcij->nfyx", windows, k.astype("float64"))
    rng = np.random.default_rng(6)
    for _ in range(2):
        o = np.zeros((1, 4, 9, 9), "float32")
        build_config(space, space.sample(rng)).emulate(d, k, o)
        np.testing.assert_allclose(o, expected, rtol=1e-5, atol=1e-5)


def test_elementwise_with_tail_and_shape_vars():
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: te.exp(A[i]) + 1.0, name="B")
    with pytest.raises(tl.TuneError, match="shape_vars"):
        gpu_sketch_space(B)
    space = gpu_sketch_space(B, shape_vars={n: 1003})
    rng = np.random.default_rng(7)
    a = RNG.standard_normal(1003).astype("float32")
    for _ in range(3):
        mod = build_config(space, space.sample(rng))
        b = np.zeros(1003, "float32")
        mod.emulate(a, b)
        np.testing.assert_allclose(b, np.exp(a.astype("float64")) + 1.0, rtol=1e-6)


def test_mutation_and_crossover_stay_valid_and_serialise():
    space = gpu_sketch_space(matmul(40, 24, 33))
    rng = np.random.default_rng(8)
    first, second = space.sample(rng), space.sample(rng)
    children = [space.mutate(first, rng) for _ in range(5)]
    children += [space.crossover(first, second, rng) for _ in range(3)]
    assert any(child.key() != first.key() for child in children[:5])
    a = RNG.standard_normal((40, 33)).astype("float32")
    b = RNG.standard_normal((33, 24)).astype("float32")
    for child in children:
        assert space.rules[0].valid(space._stage_decisions(child, 0))
        again = Config.from_json(json.loads(json.dumps(child.to_json())))
        assert again.key() == child.key()
    for child in (children[0], children[-1]):  # one mutant, one crossover
        c = np.zeros((40, 24), "float32")
        build_config(space, child).emulate(a, b, c)
        np.testing.assert_allclose(c, a.astype("float64") @ b, rtol=1e-4, atol=1e-4)


def test_other_targets_and_foreign_configs_are_refused():
    with pytest.raises(tl.TuneError, match="cuda"):
        gpu_sketch_space(matmul(8, 8, 8), target="llvm")
    space = gpu_sketch_space(matmul(8, 8, 8))
    with pytest.raises(tl.TuneError, match="sketch"):
        space.apply(Config.make("gpu:elementwise", {}))
    assert isinstance(space, GpuSketchSpace)
    s, args = space.reference()
    assert [t.name for t in args] == ["A", "B", "C"]


@pytest.fixture
def nvcc(tmp_path, monkeypatch):
    if nvcc_path() is None:
        pytest.skip("nvcc is not installed")
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path / "cache"))


def test_sampled_sources_compile_with_nvcc(nvcc):
    spaces = [gpu_sketch_space(matmul(64, 48, 40)), gpu_sketch_space(row_sum(8, 300))]
    rng = np.random.default_rng(9)
    for space in spaces:
        source = build_config(space, space.sample(rng)).get_source("cuda")
        for arch in ("sm_80", "sm_90"):
            ptx = compile_cuda(source, arch, "ptx").decode()
            assert f".target {arch}" in ptx and ".entry" in ptx


@pytest.mark.gpu
def test_sampled_configs_run_on_the_gpu(monkeypatch):
    if not gpu_available():
        pytest.skip("needs pycuda and an NVIDIA GPU")
    monkeypatch.delenv("TL_CUDA_EMULATE", raising=False)
    space = gpu_sketch_space(matmul(256, 192, 160))
    a = RNG.standard_normal((256, 160)).astype("float32")
    b = RNG.standard_normal((160, 192)).astype("float32")
    rng = np.random.default_rng(10)
    for _ in range(4):
        mod = build_config(space, space.sample(rng))
        c = np.zeros((256, 192), "float32")
        mod(a, b, c)
        np.testing.assert_allclose(c, a.astype("float64") @ b, rtol=1e-3, atol=1e-3)
        assert 0 < mod.time(a, b, c, number=3, repeat=2) < 1


def test_contains_accepts_sampled_configs_and_refuses_broken_ones():
    space = gpu_sketch_space(matmul(64, 64, 64))
    config = space.sample(np.random.default_rng(11))
    assert space.contains(config)
    assert not space.contains(config.with_decision("0.tile.0", [1, 2048, 1, 1]))
    assert not space.contains(config.with_decision("0.vector", 3))
    assert not space.contains(Config.make(space.sketch, {}))
    assert not space.contains(Config.make("gpu:elementwise", config.as_dict()))
    reduction = gpu_sketch_space(row_sum(4, 100))
    assert reduction.contains(reduction.sample(np.random.default_rng(12)))
