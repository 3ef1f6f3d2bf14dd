"""Honest references for benchmarks: numpy timed with its own best BLAS kernel, and the
machine's float32 FMA peak and memory bandwidth measured in the same run.

OpenBLAS picks its kernel for the CPU when it loads, unless ``OPENBLAS_CORETYPE`` pins
one (``Haswell``: AVX2 on an AVX-512 machine, about half the speed of its own choice) or
``OPENBLAS_L2_SIZE`` overrides the cache size its blocking is sized for.  A benchmark that
compares with numpy calls :func:`ensure_best_blas` first: the process runs again without
those variables, so numpy is timed at its best.  :func:`blas_report` says which kernel ran.

>>> ensure_best_blas()            # first thing in a benchmark script
>>> print(blas_report())          # after a run again without OPENBLAS_CORETYPE
numpy reference: OpenBLAS 0.3.31.188.0, kernel SkylakeX, 2 threads (OPENBLAS_CORETYPE unset ...)
>>> print(measure_peaks())
machine peaks, measured now: float32 FMA 155 GFLOPS on 2 threads, triad a = b*c + d 13.9 GB/s
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np

from . import te
from .driver import build
from .schedule import create_schedule
from .target import Target
from .target.llvm.runtime import num_threads

#: environment variables that pin OpenBLAS to a kernel or a cache size other than its own
#: choice for this CPU
BLAS_PIN_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

#: set in the environment of a process that :func:`ensure_best_blas` started again: the
#: pinning variables it removed (``NAME=value`` separated by spaces); never a second time
REEXEC_MARKER = "TL_BEST_BLAS_REEXEC"

_BLAS_NAMES = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS", "flexiblas": "FlexiBLAS"}


# -- numpy's BLAS at its best --------------------------------------------------------------
def best_blas_environment(environ=None) -> dict:
    """A copy of ``environ`` (default ``os.environ``) without the variables that pin
    OpenBLAS's kernel (:data:`BLAS_PIN_VARIABLES`)."""
    env = dict(os.environ if environ is None else environ)
    for name in BLAS_PIN_VARIABLES:
        env.pop(name, None)
    return env


def ensure_best_blas(argv=None) -> None:
    """Run this process again without :data:`BLAS_PIN_VARIABLES` if any is set, so that
    numpy's OpenBLAS loads its own kernel for this CPU; return at once otherwise.

    ``argv``: the arguments of the Python command after the interpreter (a script and its
    arguments, ``sys.argv``); default ``sys.orig_argv[1:]``, which also keeps ``-m
    module`` and interpreter options.  The new process is started with ``os.execve`` and
    :data:`REEXEC_MARKER` set, so it never starts again itself, even if the variables
    are set once more.  OpenBLAS reads the variables when it loads (when numpy is first
    imported), so call this before anything imports numpy where that is possible;
    importing ``tensorlang`` imports numpy, and it still works then: the process is
    replaced, and the new one loads OpenBLAS afresh (the cost is importing twice).
    Nothing is done where there is no command to run again (an interactive session).
    Setting :data:`REEXEC_MARKER` (to anything, even empty) beforehand turns it off:
    the test suite does, so no test process ever runs again.
    """
    pinned = [name for name in BLAS_PIN_VARIABLES if name in os.environ]
    if not pinned or REEXEC_MARKER in os.environ:
        return
    arguments = list(sys.orig_argv[1:] if argv is None else argv)
    if not arguments:
        return
    env = best_blas_environment()
    env[REEXEC_MARKER] = " ".join(f"{name}={os.environ[name]}" for name in pinned)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *arguments], env)


def _environment_note(environ) -> str:
    pinned = [f"{name}={environ[name]}" for name in BLAS_PIN_VARIABLES if name in environ]
    if pinned:
        return (f"{', '.join(pinned)} set in this process: OpenBLAS may not run its best "
                f"kernel for this CPU")
    removed = [item.split("=", 1)[0] for item in environ.get(REEXEC_MARKER, "").split()]
    if removed:
        return f"{'/'.join(removed)} unset for this process"
    return f"{'/'.join(BLAS_PIN_VARIABLES)} not set"


def _numpy_blas(infos: list) -> dict | None:
    """The BLAS library numpy loaded among threadpoolctl's libraries: the one under
    numpy's directory, else the first BLAS."""
    blas = [info for info in infos if info.get("user_api") == "blas"]
    own = [info for info in blas  # numpy's wheels keep it in numpy.libs/ or numpy/.libs/
           if "numpy" in os.path.dirname(str(info.get("filepath", "")))]
    return (own or blas or [None])[0]


def blas_report(environ=None) -> str:
    """One line naming the BLAS library numpy uses, its version, the kernel it chose
    (its ``architecture``, e.g. ``SkylakeX``, ``Zen`` or ``Haswell``) and its threads,
    read by threadpoolctl (``pip install threadpoolctl``: the ``bench`` extra), and
    whether the kernel-pinning variables are set in this process (in ``environ``, default
    ``os.environ``: the environment OpenBLAS was loaded with)."""
    note = _environment_note(os.environ if environ is None else environ)
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return (f"numpy reference: numpy {np.__version__}, BLAS kernel not known "
                f"(threadpoolctl is not installed: pip install threadpoolctl) ({note})")
    info = _numpy_blas(threadpool_info())
    if info is None:
        return f"numpy reference: numpy {np.__version__}, no BLAS library found ({note})"
    name = _BLAS_NAMES.get(info.get("internal_api"), info.get("internal_api", "BLAS"))
    kernel = info.get("architecture") or "not reported"
    threads = info.get("num_threads")
    return (f"numpy reference: {name} {info.get('version')}, kernel {kernel}, "
            f"{threads} thread{'s' if threads != 1 else ''} ({note})")


# -- the machine's peaks ------------------------------------------------------------------
def fma_peak_kernel(steps: int, threads: int | None = None, target: str = "llvm"):
    """Schedule and tensors of ``Out[p, c, l] = fma-chain(A[c, l])``: on each of
    ``threads`` parallel iterations, ``chains`` independent vectors of ``lanes`` float32
    accumulators, each updated ``steps`` times as ``x = x * a + a`` with ``a`` from
    ``A[chains, lanes]`` -- held in registers, so the loop is nothing but vector FMAs
    (16 chains cover the FMA units' latency; with AVX-512 the 16 accumulators and 16
    multipliers fill the 32 registers).  Returns ``(schedule, [A, Out])``."""
    threads = num_threads() if threads is None else threads
    lanes = Target(target).float32_lanes
    chains = 16 if lanes >= 16 else 8
    A = te.placeholder((chains, lanes), name="A")
    k = te.reduce_axis((0, steps), name="k")
    chain = te.comm_reducer(lambda x, a: x * a + a, lambda t: te.const(0, t), name="fma")
    Out = te.compute((threads, chains, lanes), lambda p, c, l: chain(A[c, l], axis=k),
                     name="Out")
    s = create_schedule(Out.op)
    p, c, l = s[Out].op.axis
    s[Out].reorder(p, k, c, l)
    s[Out].parallel(p)
    s[Out].unroll(c)
    s[Out].vectorize(l)
    return s, [A, Out]


def fma_chain_value(a, steps: int):
    """The closed form of ``x = x * a + a`` repeated ``steps`` times from 0:
    ``a (a^steps - 1) / (a - 1)``, and ``steps`` where ``a == 1`` (float64)."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = a * (a ** steps - 1.0) / (a - 1.0)
    return np.where(a == 1.0, float(steps), value)


def measure_fma_peak(steps: int = 1 << 20, threads: int | None = None,
                     repeat: int = 5) -> float:
    """float32 GFLOPS of :func:`fma_peak_kernel` on ``threads`` (default: the parallel
    loops' thread count), the fastest of ``repeat`` timings (a peak, not a typical
    speed); a few tens of milliseconds after the build."""
    threads = num_threads() if threads is None else threads
    s, (A, Out) = fma_peak_kernel(steps, threads)
    mod = build(s, [A, Out], name="fma_peak")
    a = np.ones([int(d.value) for d in A.shape], dtype=np.float32)
    out = np.zeros([int(d.value) for d in Out.shape], dtype=np.float32)
    seconds = mod.time(a, out, number=3, repeat=repeat)
    return 2.0 * out.size * steps / seconds / 1e9


def triad_kernel(n: int, lanes: int = 16):
    """Schedule and tensors of the triad ``a = b * c + d`` over ``n`` float32 elements,
    vectorized and parallel.  Returns ``(schedule, [b, c, d, a])``."""
    b = te.placeholder((n,), name="b")
    c = te.placeholder((n,), name="c")
    d = te.placeholder((n,), name="d")
    a = te.compute((n,), lambda i: b[i] * c[i] + d[i], name="a")
    s = create_schedule(a.op)
    outer, inner = s[a].split(a.op.axis[0], factor=lanes)
    s[a].vectorize(inner)
    s[a].parallel(outer)
    return s, [b, c, d, a]


def _last_level_cache_bytes() -> int | None:
    """The largest CPU cache's size from Linux's sysfs, or None where it is not there."""
    sizes = []
    root = "/sys/devices/system/cpu/cpu0/cache"
    try:
        entries = os.listdir(root)
    except OSError:
        return None
    for entry in entries:
        try:
            with open(os.path.join(root, entry, "size")) as f:
                text = f.read().strip()
        except OSError:
            continue
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            sizes.append(int(digits) * scale)
    return max(sizes, default=None)


def triad_elements() -> int:
    """Elements per array for :func:`measure_triad_bandwidth`: the four arrays together
    four times the largest cache (at least 256 MiB, at most 1 GiB), so that nearly every
    access goes to memory."""
    cache = _last_level_cache_bytes() or 64 << 20
    total = min(max(4 * cache, 256 << 20), 1 << 30)
    return total // 16 // 4096 * 4096


def measure_triad_bandwidth(n: int | None = None, repeat: int = 5) -> float:
    """GB/s of the triad ``a = b * c + d`` (:func:`triad_kernel`) over ``n`` elements
    (default :func:`triad_elements`), counting 16 bytes an element (three loads and a
    store, as STREAM does), the fastest of ``repeat`` timings."""
    n = triad_elements() if n is None else n
    s, tensors = triad_kernel(n)
    mod = build(s, tensors, name="triad")
    b, c, d = (np.full(n, value, dtype=np.float32) for value in (1.5, 2.0, 0.25))
    a = np.empty(n, dtype=np.float32)
    seconds = mod.time(b, c, d, a, number=2, repeat=repeat)
    return 16.0 * n / seconds / 1e9


@dataclass(frozen=True)
class MachinePeaks:
    """The float32 FMA peak (GFLOPS) and triad bandwidth (GB/s) measured on this
    machine, with the thread count they ran on."""
    fma_gflops: float
    triad_gbs: float
    threads: int

    def __str__(self) -> str:
        return (f"machine peaks, measured now: float32 FMA {self.fma_gflops:.0f} GFLOPS on "
                f"{self.threads} thread{'s' if self.threads != 1 else ''}, triad "
                f"a = b*c + d {self.triad_gbs:.1f} GB/s")


def measure_peaks(triad_n: int | None = None) -> MachinePeaks:
    """Both peaks, in well under a second each once the two small kernels are built."""
    threads = num_threads()
    return MachinePeaks(measure_fma_peak(threads=threads), measure_triad_bandwidth(triad_n),
                        threads)
