"""The CPU runtime compiled code links against: libgomp for parallel loops, and the
thread count (``TL_NUM_THREADS``, default: every core this process may run on)."""
from __future__ import annotations

import functools
import glob
import os

from ...errors import BuildError
from ...settings import settings

#: most threads a parallel loop may use (libgomp kills the process, instead of failing,
#: when the system refuses to start the threads it is asked for)
MAX_THREADS = 1024
#: where libgomp is looked for, in order: the system's, then the copy inside xgboost
_SYSTEM_LIBGOMP = ("/usr/lib/x86_64-linux-gnu/libgomp.so.1", "/usr/lib64/libgomp.so.1",
                   "/usr/lib/libgomp.so.1", "/usr/lib/aarch64-linux-gnu/libgomp.so.1")


@functools.lru_cache(maxsize=1)
def libgomp_path() -> str:
    """Path of the OpenMP runtime used for parallel loops."""
    for path in _SYSTEM_LIBGOMP:
        if os.path.exists(path):
            return path
    try:
        import importlib.util
        spec = importlib.util.find_spec("xgboost")
        if spec is not None and spec.origin:
            libs = os.path.join(os.path.dirname(os.path.dirname(spec.origin)), "xgboost.libs")
            found = sorted(glob.glob(os.path.join(libs, "libgomp*.so*")))
            if found:
                return found[0]
    except (ImportError, ValueError):
        pass
    raise BuildError("no OpenMP runtime (libgomp.so.1) found for parallel loops; install "
                     "libgomp1 (apt-get install libgomp1) or the xgboost wheel")


@functools.lru_cache(maxsize=1)
def ensure_runtime_loaded() -> str:
    """Make libgomp's symbols visible to JIT-compiled code (once per process)."""
    import ctypes.util
    import llvmlite.binding as llvm
    path = libgomp_path()
    llvm.load_library_permanently(path)
    # LLVM calls libgcc for conversions without an instruction (float64 -> float16)
    libgcc = ctypes.util.find_library("gcc_s")
    if libgcc:
        try:
            llvm.load_library_permanently(libgcc)
        except RuntimeError:
            pass
    return path


@functools.lru_cache(maxsize=1)
def default_num_threads() -> int:
    """All cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def num_threads() -> int:
    """Threads for parallel loops: ``TL_NUM_THREADS`` if set, else every core."""
    text = settings.num_threads
    if not text:
        return default_num_threads()
    return _parse_num_threads(text)


@functools.lru_cache(maxsize=8)
def _parse_num_threads(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"TL_NUM_THREADS={text!r} is not an integer; set it to the number "
                         f"of threads for parallel loops, e.g. TL_NUM_THREADS=4") from None
    if value < 1:
        raise ValueError(f"TL_NUM_THREADS={value} must be at least 1")
    if value > MAX_THREADS:
        # the OpenMP runtime aborts the process when it cannot start the threads
        raise ValueError(f"TL_NUM_THREADS={value} is more than the {MAX_THREADS} threads a "
                         f"parallel loop may use; set it to at most {MAX_THREADS}, e.g. to "
                         f"the number of cores ({default_num_threads()} here)")
    return value
