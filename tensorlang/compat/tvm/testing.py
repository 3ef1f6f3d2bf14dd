"""``tvm.testing``: the helpers TVM's tests and tutorials call."""
from __future__ import annotations

import numpy as np

from .runtime import NDArray, device


def assert_allclose(actual, desired, rtol: float = 1e-7, atol: float = 1e-7) -> None:
    """numpy's ``assert_allclose`` with TVM's defaults, on NDArrays or arrays."""
    actual = actual.numpy() if isinstance(actual, NDArray) else actual
    desired = desired.numpy() if isinstance(desired, NDArray) else desired
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol, verbose=True)


def device_enabled(target) -> bool:
    """Whether ``target`` ("llvm", "cuda") can run here (CUDA: a GPU, or emulation)."""
    return device(str(target).split()[0]).exist


def enabled_targets() -> list:
    """``[(target, device)]`` for the targets that can run here."""
    return [(t, device(t)) for t in ("llvm", "cuda") if device_enabled(t)]


def _identity_decorator(function=None, *args, **kwargs):
    if callable(function):
        return function
    return lambda f: f


#: markers of TVM's tests: the tests run where their devices exist
uses_gpu = _identity_decorator
requires_llvm = _identity_decorator


def requires_cuda(function):
    """Skips the test (with pytest) where no CUDA device exists (nor emulation)."""
    import pytest
    return pytest.mark.skipif(not device_enabled("cuda"),
                              reason="needs a CUDA GPU or TL_CUDA_EMULATE=1")(function)


requires_gpu = requires_cuda
