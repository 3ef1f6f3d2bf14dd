"""The CUDA benchmark's schedules: emulated at small sizes they equal numpy, at the
benchmark's sizes they compile with nvcc; without a GPU the script says so and stops."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import tensorlang as tl
from tensorlang.target.cuda import build, compile_cuda
from tensorlang.tir.transform.split_kernels import launch_dimensions

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
RNG = np.random.default_rng(17)


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("bench_cuda",
                                                      BENCHMARKS / "bench_cuda.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.mark.parametrize("transposed", [True, False])
def test_hand_matmul_schedule_with_tails_equals_numpy(bench, transposed):
    M, N, K = 70, 52, 40  # no size is a multiple of the 16 x 16 block tile
    s, args = bench.hand_matmul_schedule(M, N, K, threads=(4, 4), per_thread=(4, 4),
                                         transposed_a_tile=transposed)
    mod = build(tl.lower(s, args, name="matmul"), "cuda")
    a = RNG.standard_normal((M, K)).astype("float32")
    b = RNG.standard_normal((K, N)).astype("float32")
    c = np.zeros((M, N), "float32")
    mod.emulate(a, b, c)
    np.testing.assert_allclose(c, a.astype("float64") @ b, rtol=1e-4, atol=1e-4)


def test_benchmark_matmul_kernel_uses_float4_and_compiles(bench, tmp_path, monkeypatch):
    s, args = bench.hand_matmul_schedule(4096, 4096, 4096)
    mod = build(tl.lower(s, args, name="matmul"), "cuda")
    source = mod.get_source("cuda")
    kernel = mod.program.kernels[0]
    assert launch_dimensions(kernel, {}) == ((32, 32, 1), (16, 16, 1))
    assert kernel.shared_bytes == 2 * 128 * 8 * 4
    # cooperative fetches and write-back are float4 accesses; the register tile is
    # unrolled into straight-line code
    assert "*(const float4*)(A + " in source and "*(const float4*)(B + " in source
    assert "*(float4*)(C + " in source
    assert "C_local[63]" in source and source.count("__syncthreads();") == 2
    # the A tile is stored transposed: a thread's rows are contiguous in shared memory
    assert "A_t[(128 + (threadIdx_y * 8))]" in source
    from tensorlang.target.cuda import nvcc_path
    if nvcc_path() is None:
        pytest.skip("nvcc is not installed")
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path))
    for arch in ("sm_80", "sm_90"):
        assert f".target {arch}" in compile_cuda(source, arch, "ptx").decode()


def test_elementwise_schedule_uses_float4_and_equals_numpy(bench):
    s, args = bench.elementwise_schedule(4096, threads=64)
    mod = build(tl.lower(s, args, name="scale"), "cuda")
    assert "float4" in mod.get_source("cuda")
    a = RNG.standard_normal(4096).astype("float32")
    b = np.zeros_like(a)
    mod.emulate(a, b)
    np.testing.assert_array_equal(b, a * np.float32(2) + np.float32(1))


def test_without_a_gpu_the_benchmark_stops_with_a_message(bench, monkeypatch):
    monkeypatch.setattr(bench, "gpu_available", lambda: False)
    monkeypatch.setattr(sys, "argv", ["bench_cuda.py"])
    with pytest.raises(SystemExit, match="no usable NVIDIA GPU"):
        bench.main()


@pytest.mark.gpu
def test_benchmark_runs_on_the_gpu(bench, gpu, monkeypatch, tmp_path, capsys):
    pytest.importorskip("cupy")
    out = tmp_path / "figures.json"
    monkeypatch.setattr(sys, "argv", ["bench_cuda.py", "--size", "512", "--elements",
                                      str(1 << 20), "--json", str(out)])
    bench.main()
    assert "cuBLAS" in capsys.readouterr().out and out.exists()
