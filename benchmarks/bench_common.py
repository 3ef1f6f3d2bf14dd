"""Shared helpers of the benchmark scripts: medians of repeated timings, numpy baselines
measured in the same run, and a table printer.

Importing this module first makes a script compare with numpy at its best: if
OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE is set (they pin OpenBLAS to another kernel than
its own choice for this CPU, or size its blocking for another cache), the script runs
again at once without them (``tensorlang.benchmarking.ensure_best_blas``), in its own
process only -- only when the program running is a script of this folder, never in a
test that imports one; :func:`machine_description` names the kernel that ran."""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from tensorlang.benchmarking import blas_report, ensure_best_blas  # noqa: E402

if os.path.dirname(os.path.abspath(sys.argv[0] or ".")) == HERE:
    ensure_best_blas()


def median_seconds(fn, repeat: int = 7, number: int = 1, warmup: int = 1) -> float:
    """Median over ``repeat`` runs of the mean time of ``number`` calls of ``fn()``."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def module_seconds(mod, *args, repeat: int = 7, number: int = 3) -> float:
    """Median over ``repeat`` of ``mod.time`` (each the mean of ``number`` calls)."""
    return statistics.median(mod.time(*args, number=number, repeat=1) for _ in range(repeat))


def interleaved_seconds(functions: dict, repeat: int = 7, number: int = 1,
                        warmup: int = 1, settle: float = 0.0, rewarm: float = 0.0) -> dict:
    """Median seconds per call of each function in ``functions`` (name -> callable),
    timed in turns (``number`` calls of a, then of b, ...) so that all of them see the
    same machine load -- the machine these run on is shared, and a ratio of medians taken
    this way is far steadier than either time alone.

    ``settle``: seconds to idle before each turn, for comparisons with multi-threaded BLAS
    (OpenBLAS's threads keep spinning on the cores for tens of milliseconds after each
    numpy matmul, and whatever runs next in that window runs on a fraction of the
    machine).  One untimed call follows the pause, then more untimed calls for ``rewarm``
    seconds (a multi-threaded kernel of a millisecond or two, timed right after an
    idle pause, runs up to 1.7x slower than when the machine is kept busy, as it is while
    tuning)."""
    for fn in functions.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in functions}
    for _ in range(repeat):
        for name, fn in functions.items():
            if settle:
                time.sleep(settle)
                fn()  # untimed: wakes this function's own threads after the pause
                warm_until = time.perf_counter() + rewarm
                while time.perf_counter() < warm_until:
                    fn()
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number)
    return {name: statistics.median(values) for name, values in samples.items()}


def interleaved_module_seconds(modules, inputs, repeat: int = 15,
                               sample_seconds: float = 0.01, span: float = 0.0) -> list:
    """Median seconds per call of each module, timed in turns (``mod.time`` over enough
    calls to fill ``sample_seconds``, then the next module) so that all see the same
    machine load; a few-microsecond kernel is timed over hundreds of calls, not three.

    At least ``repeat`` turns, and more until ``span`` seconds have passed: on a shared
    machine a kernel of tens of microseconds on both cores runs up to 1.7x slower for a
    few seconds at a time while the serial one beside it hardly moves, so a ratio of
    medians over a fraction of a second depends on when it was taken."""
    numbers = []
    for mod in modules:
        once = mod.time(*inputs, number=1, repeat=3)
        numbers.append(max(3, int(sample_seconds / max(once, 1e-7))))
    samples = [[] for _ in modules]
    end = time.perf_counter() + span
    while len(samples[0]) < repeat or time.perf_counter() < end:
        for mod, number, values in zip(modules, numbers, samples):
            values.append(mod.time(*inputs, number=number, repeat=1))
    return [statistics.median(values) for values in samples]


def workload_arrays(outputs, seed: int = 0) -> list:
    """Random inputs and zeroed outputs of a workload, in the order of its parameters
    (``default_args``), placed as the tuner's runner places arrays: ``array_offset`` bytes
    past a cache line, where numpy's large arrays usually start."""
    import numpy as np

    from tensorlang.autotune.dispatch import default_args
    from tensorlang.autotune.measure import MeasureOptions
    from tensorlang.autotune.measure_worker import placed, random_array
    offset = MeasureOptions().array_offset
    rng = np.random.default_rng(seed)
    arrays = []
    for tensor in default_args(outputs):
        shape = tuple(int(d.value) for d in tensor.shape)
        if any(tensor is out for out in outputs):
            array = np.zeros(shape, dtype=str(tensor.dtype))
        else:
            array = random_array(shape, str(tensor.dtype), rng)
        arrays.append(array if offset is None else placed(array, offset))
    return arrays


def machine_description() -> str:
    import llvmlite.binding as llvm
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = os.environ.get("TL_NUM_THREADS", str(cores))
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import numpy
    return (f"Machine: {model}, LLVM cpu {llvm.get_host_cpu_name()}, {cores} cores, "
            f"TL_NUM_THREADS={threads}, python {platform.python_version()}, "
            f"numpy {numpy.__version__}, load average {os.getloadavg()[0]:.2f} at start\n"
            f"{blas_report()}")


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |")
