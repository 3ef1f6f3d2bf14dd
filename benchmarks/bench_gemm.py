"""GEMM on the CPU, step by step as in TVM's classic "How to optimize GEMM on CPU" tutorial:
naive, blocking, vectorize, loop permutation, packing, write cache, parallel (the
tutorial's final schedule), and a register-tiled variant -- the schedules of
``tensorlang.schedule.recipes``.  Prints GFLOPS per step and the ratio to numpy
(OpenBLAS, its own kernel for this CPU), numpy timed in turns with each step (medians of
repeats), and the fraction of the machine's float32 FMA peak, measured first.

    python benchmarks/bench_gemm.py [--size 1024] [--steps naive,blocking,...]
"""
from __future__ import annotations

import argparse
import time

# bench_common first: it runs the script again without OpenBLAS kernel pins, if set
from bench_common import interleaved_seconds, machine_description, print_table

import numpy as np

import tensorlang as tl
from tensorlang.benchmarking import measure_peaks
from tensorlang.schedule.recipes import GEMM_STEPS

#: steps slower than a few GFLOPS at 1024: a single timed call each is enough
SLOW_STEPS = ("naive", "blocking", "vectorize")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--steps", default=",".join(GEMM_STEPS))
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    M = N = K = args.size
    rng = np.random.default_rng(0)
    a = rng.random((M, K), dtype=np.float32)
    b = rng.random((K, N), dtype=np.float32)
    expected = a @ b
    flops = 2.0 * M * N * K
    print(machine_description())
    peaks = measure_peaks()
    print(peaks, flush=True)
    rows = []
    for name in args.steps.split(","):
        # the register tile is blocked for this CPU's vectors
        blocks = {"lanes": tl.Target("llvm").float32_lanes} if name == "register_tiling" else {}
        s, tensors = GEMM_STEPS[name](M, N, K, **blocks)
        start = time.perf_counter()
        mod = tl.build(s, tensors, name=f"gemm_{name}", use_cache=False)
        build_ms = (time.perf_counter() - start) * 1e3
        c = np.zeros((M, N), dtype=np.float32)
        mod(a, b, c)
        np.testing.assert_allclose(c, expected, rtol=1e-3)
        slow = name in SLOW_STEPS and M >= 512
        seconds = interleaved_seconds(
            {"tensorlang": lambda: mod(a, b, c), "numpy": lambda: np.matmul(a, b)},
            repeat=3 if slow else args.repeat, number=1 if slow else 5,
            warmup=0 if slow else 1, settle=0.15)
        ours, theirs = seconds["tensorlang"], seconds["numpy"]
        rows.append([name, f"{ours * 1e3:.2f}", f"{flops / ours / 1e9:.1f}",
                     f"{flops / ours / 1e9 / peaks.fma_gflops:.0%}",
                     f"{flops / theirs / 1e9:.1f}", f"{theirs / ours:.2f}", f"{build_ms:.0f}"])
        print(f"  {name}: {flops / ours / 1e9:.1f} GFLOPS (numpy {flops / theirs / 1e9:.1f})",
              flush=True)
    print_table(f"GEMM {M}x{N}x{K} float32, medians; numpy timed in turns with each step; "
                f"of peak: of the float32 FMA peak, {peaks.fma_gflops:.0f} GFLOPS",
                ["step", "ms", "GFLOPS", "of peak", "numpy GFLOPS", "x numpy", "build ms"],
                rows)


if __name__ == "__main__":
    main()
