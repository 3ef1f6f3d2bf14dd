"""TVM's runtime objects over tensorlang's: devices, ``tvm.nd`` arrays, built modules and
``time_evaluator``.

An :class:`NDArray` holds a numpy array (on a CUDA device too: tensorlang copies arrays
to the GPU for each call, or emulates the kernels on the CPU where no GPU is present).
"""
from __future__ import annotations

import os
import statistics
import time
import types

import numpy as np

from ...errors import TensorLangValueError
from ...settings import settings
from ...target import load_module as _load_tl_module

#: TVM's device type codes
_DEVICE_TYPES = {"cpu": 1, "cuda": 2}
_DEVICE_ALIASES = {"cpu": "cpu", "llvm": "cpu", "c": "cpu", "stackvm": "cpu",
                   "cuda": "cuda", "gpu": "cuda", "nvptx": "cuda"}


class Device:
    """``tvm.cpu(0)``, ``tvm.cuda(0)``: where arrays live and modules run."""

    def __init__(self, kind: str, index: int = 0):
        self.kind = kind
        self.device_type = _DEVICE_TYPES[kind]
        self.device_id = index

    @property
    def exist(self) -> bool:
        """A CPU always exists; a CUDA device where a GPU is present, or where
        ``TL_CUDA_EMULATE=1`` runs its kernels on the CPU emulator."""
        if self.kind == "cpu":
            return True
        from ...target.cuda import gpu_available
        return settings.cuda_emulate or gpu_available()

    def sync(self) -> None:
        """Calls return when their work is done: nothing to wait for."""

    def __eq__(self, other) -> bool:
        return isinstance(other, Device) and (self.kind, self.device_id) == \
            (other.kind, other.device_id)

    def __hash__(self) -> int:
        return hash((self.kind, self.device_id))

    def __repr__(self) -> str:
        return f"{self.kind}({self.device_id})"


def cpu(index: int = 0) -> Device:
    return Device("cpu", index)


def cuda(index: int = 0) -> Device:
    return Device("cuda", index)


gpu = cuda


def device(kind, index: int = 0) -> Device:
    """``tvm.device("cuda", 0)``; ``kind`` may also be a target string or TVM's type code."""
    if isinstance(kind, int):
        names = {code: name for name, code in _DEVICE_TYPES.items()}
        if kind not in names:
            raise TensorLangValueError(f"tvm.device({kind}): tensorlang has devices "
                                       f"{sorted(_DEVICE_TYPES.items())}")
        return Device(names[kind], index)
    word = str(kind).split()[0] if str(kind).strip() else ""
    if word not in _DEVICE_ALIASES:
        raise TensorLangValueError(f"tvm.device({kind!r}): tensorlang has the devices "
                                   f"'cpu' (or 'llvm') and 'cuda'")
    return Device(_DEVICE_ALIASES[word], index)


class NDArray:
    """``tvm.nd.array(np_array, dev)``: an array on a device (held as a numpy array)."""

    def __init__(self, array: np.ndarray, dev: Device):
        self._array = array
        self.device = dev

    @property
    def shape(self) -> tuple:
        return self._array.shape

    @property
    def dtype(self) -> str:
        return str(self._array.dtype)

    def numpy(self) -> np.ndarray:
        """A copy as a numpy array."""
        return self._array.copy()

    asnumpy = numpy

    def copyfrom(self, source) -> "NDArray":
        source = source.numpy() if isinstance(source, NDArray) else np.asarray(source)
        if source.shape != self._array.shape:
            raise TensorLangValueError(f"copyfrom: shape {source.shape} does not match the "
                                       f"array's {self._array.shape}")
        self._array[...] = source
        return self

    def copyto(self, target):
        if isinstance(target, Device):
            return NDArray(self._array.copy(), target)
        return target.copyfrom(self)

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)

    def __repr__(self) -> str:
        return f"<tvm.nd.NDArray shape={self.shape}, {self.device}>\n{self._array!r}"


def array(source, dev: Device | None = None) -> NDArray:
    """A new array on ``dev`` (default ``cpu(0)``) holding a copy of ``source``."""
    if isinstance(source, NDArray):
        source = source.numpy()
    return NDArray(np.array(source, copy=True, order="C"), dev or cpu(0))


def empty(shape, dtype="float32", dev: Device | None = None) -> NDArray:
    return NDArray(np.empty(tuple(int(d) for d in shape), dtype=str(dtype)), dev or cpu(0))


nd = types.ModuleType("tvm.nd", "tvm.nd: arrays on devices")
nd.array, nd.empty, nd.NDArray = array, empty, NDArray


def unwrap(value):
    """A module argument: the numpy array of an NDArray, anything else as it is."""
    return value._array if isinstance(value, NDArray) else value


class BenchmarkResult:
    """What ``time_evaluator(...)(*args)`` returns: seconds per call of each repeat."""

    def __init__(self, results: list[float]):
        self.results = tuple(results)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.results)

    @property
    def median(self) -> float:
        return statistics.median(self.results)

    @property
    def min(self) -> float:
        return min(self.results)

    @property
    def max(self) -> float:
        return max(self.results)

    @property
    def std(self) -> float:
        return statistics.pstdev(self.results)

    def __repr__(self) -> str:
        return (f"BenchmarkResult(mean={self.mean:.6g} s, median={self.median:.6g} s, "
                f"min={self.min:.6g} s, max={self.max:.6g} s, repeats={len(self.results)})")


class Module:
    """What ``tvm.build`` returns: call it with NDArrays or numpy arrays."""

    def __init__(self, module, target):
        self.module = module          # the tensorlang module
        self.target = target

    @property
    def entry_name(self) -> str:
        return getattr(self.module, "entry_name", None) or self.module.name

    @property
    def type_key(self) -> str:
        return "cuda" if self.target.kind.name == "cuda" else "llvm"

    @property
    def imported_modules(self) -> list:
        """A CUDA module's device code (``mod.imported_modules[0].get_source()``)."""
        return [self] if self.target.kind.name == "cuda" else []

    def __call__(self, *args):
        self.module(*(unwrap(a) for a in args))

    def __getitem__(self, name: str):
        if name not in (self.entry_name, "main", "default_function"):
            raise TensorLangValueError(f"module has the function '{self.entry_name}', not "
                                       f"'{name}'")
        return self

    def get_function(self, name: str):
        return self[name]

    def get_source(self, fmt: str = ""):
        if self.target.kind.name == "cuda":
            return self.module.get_source(fmt or "cuda")
        return self.module.get_source(fmt or "ll")

    def time_evaluator(self, func_name: str, dev=None, number: int = 10, repeat: int = 1,
                       min_repeat_ms: int = 0, **unused):
        """A function timing ``number`` calls ``repeat`` times (at least ``min_repeat_ms``
        each), returning a :class:`BenchmarkResult` of seconds per call."""
        self[func_name]

        def evaluate(*args):
            args = tuple(unwrap(a) for a in args)
            self.module(*args)  # warm up
            results = []
            for _ in range(repeat):
                count = number
                while True:
                    start = time.perf_counter()
                    for _ in range(count):
                        self.module(*args)
                    elapsed = time.perf_counter() - start
                    if elapsed * 1e3 >= min_repeat_ms or count >= 1 << 20:
                        break
                    count *= 2
                results.append(elapsed / count)
            return BenchmarkResult(results)
        return evaluate

    def export_library(self, path, *unused, **unused_options) -> None:
        self.module.export_library(os.fspath(path))

    def __repr__(self) -> str:
        return f"Module({self.type_key}, {self.entry_name})"


def load_module(path) -> Module:
    """``tvm.runtime.load_module(path)`` of a library ``export_library`` wrote."""
    from .target import Target
    return Module(_load_tl_module(os.fspath(path)), Target("llvm"))
