"""Fixtures of the CUDA backend tests: a private nvcc cache, skips where nvcc or a GPU is
absent."""
from __future__ import annotations

import pytest

from tensorlang.target.cuda import gpu_available, nvcc_path


@pytest.fixture
def nvcc(tmp_path, monkeypatch):
    """Compile into a fresh cache, so each test really runs nvcc; skip without nvcc."""
    if nvcc_path() is None:
        pytest.skip("nvcc is not installed")
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path / "cache"))
    return nvcc_path()


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("nvcc-cache")


@pytest.fixture
def nvcc_cached(_session_cache, monkeypatch):
    """nvcc with one cache for the whole session (tests that only need a binary)."""
    if nvcc_path() is None:
        pytest.skip("nvcc is not installed")
    monkeypatch.setenv("TL_CACHE_DIR", str(_session_cache))
    return nvcc_path()


@pytest.fixture(scope="session")
def gpu():
    """Skip unless pycuda can reach an NVIDIA GPU."""
    if not gpu_available():
        pytest.skip("needs pycuda and an NVIDIA GPU")
    return True
