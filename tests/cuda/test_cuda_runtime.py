"""The CUDA module: sources, the nvcc cache, TL_CUDA_EMULATE, the error without a GPU, and
(marked ``gpu``) launches through pycuda."""
from __future__ import annotations

import numpy as np
import pytest

from tensorlang.errors import BuildError
from tensorlang.target.cuda import nvcc as nvcc_module
from tensorlang.target.disk_cache import CacheWarning
from tensorlang.target.cuda import (CudaRuntimeError, build, compile_cuda, gpu_available)

from cuda_tir_kernels import elementwise, row_sum, tiled_matmul, vector_copy

RNG = np.random.default_rng(3)


def test_get_source_formats():
    mod = build(elementwise(), "cuda")
    assert mod.get_source() == mod.get_source("cuda") == mod.source
    assert "extern \"C\" __global__" in mod.get_source("cuda")
    with pytest.raises(BuildError, match=r"no 'asm' source"):
        mod.get_source("asm")


def test_nvcc_results_are_cached(nvcc, tmp_path, monkeypatch):
    source = build(elementwise(), "cuda").get_source()
    first = compile_cuda(source, "sm_80", "ptx")
    cached = list((tmp_path / "cache" / "cuda").glob("*.ptx"))
    assert len(cached) == 1 and first in cached[0].read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(nvcc_module.subprocess, "run", None)  # a hit runs no nvcc
        assert compile_cuda(source, "sm_80", "ptx") == first
    assert compile_cuda(source, "sm_90", "ptx") != first


def test_damaged_nvcc_results_are_compiled_again(nvcc, tmp_path):
    source = build(elementwise(), "cuda").get_source()
    first = compile_cuda(source, "sm_80", "ptx")
    (entry,) = (tmp_path / "cache" / "cuda").glob("*.ptx")
    good = entry.read_bytes()
    damaged = bytearray(good)
    damaged[good.index(b".target") + 2] ^= 1  # still plausible PTX, but not what nvcc wrote
    entry.write_bytes(bytes(damaged))
    with pytest.warns(CacheWarning, match=f"{entry.name}.*damaged.*checksum"):
        assert compile_cuda(source, "sm_80", "ptx") == first
    assert entry.read_bytes() == good


def test_nvcc_errors_become_build_errors(nvcc):
    with pytest.raises(BuildError, match=r"nvcc failed.*sm_80"):
        compile_cuda("this is not CUDA", "sm_80", "ptx")


def test_environment_switch_makes_calls_emulate(monkeypatch):
    mod = build(tiled_matmul(), "cuda")
    a = RNG.standard_normal((12, 10)).astype("float32")
    b = RNG.standard_normal((10, 9)).astype("float32")
    c = np.zeros((12, 9), "float32")
    monkeypatch.setenv("TL_CUDA_EMULATE", "1")
    mod(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)
    seconds = mod.time(a, b, c, number=1, repeat=2)
    assert 0 < seconds < 60


@pytest.mark.skipif(gpu_available(), reason="a GPU is present here")
def test_calling_without_gpu_says_what_to_do(monkeypatch):
    monkeypatch.delenv("TL_CUDA_EMULATE", raising=False)
    mod = build(elementwise(), "cuda")
    a = np.zeros(8, "float32")
    with pytest.raises(CudaRuntimeError, match=r"install tensorlang\[cuda\].*NVIDIA GPU.*"
                                               r"TL_CUDA_EMULATE=1"):
        mod(a, a.copy())
    with pytest.raises(CudaRuntimeError, match=r"TL_CUDA_EMULATE=1"):
        mod.time(a, a.copy())


def test_module_imports_without_pycuda():
    import importlib
    import importlib.util
    cuda_build = importlib.import_module("tensorlang.target.cuda.build")
    assert cuda_build.build is build
    if importlib.util.find_spec("pycuda") is None:
        assert not gpu_available()


# ---------------------------------------------------------------------------------------
# on a GPU


@pytest.mark.gpu
def test_gpu_elementwise_and_vector_kernels(gpu, monkeypatch):
    monkeypatch.delenv("TL_CUDA_EMULATE", raising=False)
    mod = build(elementwise(), "cuda")
    for n in (1, 100, 1000):
        a = RNG.standard_normal(n).astype("float32")
        b = np.zeros(n, "float32")
        mod(a, b)
        np.testing.assert_array_equal(b, a * np.float32(2) + np.float32(1))
    mod = build(vector_copy(n=4096, lanes=4), "cuda")
    a = RNG.standard_normal(4096).astype("float32")
    b = np.zeros(4096, "float32")
    mod(a, b)
    np.testing.assert_array_equal(b, a * np.float32(3))


@pytest.mark.gpu
def test_gpu_shared_memory_kernels_match_emulation(gpu, monkeypatch):
    monkeypatch.delenv("TL_CUDA_EMULATE", raising=False)
    mod = build(tiled_matmul(tile=16), "cuda")
    a = RNG.standard_normal((70, 45)).astype("float32")
    b = RNG.standard_normal((45, 33)).astype("float32")
    c = np.zeros((70, 33), "float32")
    mod(a, b, c)
    np.testing.assert_allclose(c, a.astype("float64") @ b, rtol=1e-4, atol=1e-4)
    mod = build(row_sum(threads=128), "cuda")
    x = RNG.standard_normal((9, 1000)).astype("float32")
    out = np.zeros(9, "float32")
    mod(x, out)
    emulated = np.zeros(9, "float32")
    mod.emulate(x, emulated)
    np.testing.assert_allclose(out, emulated, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out, x.astype("float64").sum(axis=1), rtol=1e-4, atol=1e-4)


@pytest.mark.gpu
def test_gpu_arrays_are_used_without_copies(gpu, monkeypatch):
    monkeypatch.delenv("TL_CUDA_EMULATE", raising=False)
    gpuarray = pytest.importorskip("pycuda.gpuarray")
    mod = build(elementwise(), "cuda")
    a = RNG.standard_normal(300).astype("float32")
    a_gpu = gpuarray.to_gpu(a)
    b_gpu = gpuarray.zeros(300, np.float32)
    mod(a_gpu, b_gpu)
    np.testing.assert_array_equal(b_gpu.get(), a * np.float32(2) + np.float32(1))
    seconds = mod.time(a_gpu, b_gpu, number=5, repeat=2)
    assert 0 < seconds < 1


@pytest.mark.gpu
def test_gpu_half_precision_matmul(gpu, monkeypatch):
    monkeypatch.delenv("TL_CUDA_EMULATE", raising=False)
    mod = build(tiled_matmul(tile=8, dtype="float16"), "cuda")
    a = RNG.standard_normal((24, 16)).astype("float16")
    b = RNG.standard_normal((16, 20)).astype("float16")
    c = np.zeros((24, 20), "float16")
    mod(a, b, c)
    emulated = np.zeros_like(c)
    mod.emulate(a, b, emulated)
    # both round to float16 after every operation
    np.testing.assert_array_equal(c, emulated)
