"""Build latency: lower + code generation + JIT of a tiled matmul (fresh compile), a
rebuild served by the on-disk compile cache, and the launch overhead of a call (empty
parallel loop) -- medians of repeats.

    python benchmarks/bench_build.py
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

# bench_common first: it runs the script again without OpenBLAS kernel pins, if set
from bench_common import machine_description, print_table

import numpy as np

import tensorlang as tl
from tensorlang import te, tir
from tensorlang.target.llvm import build
from tensorlang.tir import stmt as S


def tiled_matmul(n=512, bn=32, kfactor=4):
    A = te.placeholder((n, n), name="A")
    B = te.placeholder((n, n), name="B")
    k = te.reduce_axis((0, n), name="k")
    C = te.compute((n, n), lambda x, y: te.sum(A[x, k] * B[k, y], axis=k), name="C")
    s = tl.create_schedule(C)
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=kfactor)
    s[C].reorder(xo, yo, ko, xi, ki, yi)
    s[C].vectorize(yi)
    s[C].parallel(xo)
    return s, [A, B, C]


def _median_ms(fn, repeat):
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def _launch_overhead_us(repeat=7):
    """Seconds per call of a one-element parallel loop and of an empty function."""
    n = tir.var("n")
    A = tir.decl_buffer((n,), "float32", "A")
    i = tir.var("i")
    body = S.For(i, tir.const(0), n, S.ForKind.PARALLEL,
                 S.BufferStore(A, A[i] + tir.const(1.0, "float32"), (i,)))
    parallel = build(S.PrimFunc("tiny_parallel", (A,), body), "llvm", use_cache=False)
    serial = build(S.PrimFunc("tiny_serial", (A,), body.replace(kind=S.ForKind.SERIAL)),
                   "llvm", use_cache=False)
    a = np.zeros(64, "float32")
    results = {}
    for name, mod in (("parallel", parallel), ("serial", serial)):
        mod(a)
        results[name + " mod.time"] = statistics.median(
            mod.time(a, number=2000, repeat=1) for _ in range(repeat)) * 1e6
        results[name + " mod(...)"] = statistics.median(
            _median_ms(lambda: [mod(a) for _ in range(1000)], 1) for _ in range(repeat))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    repeat = parser.parse_args().repeat
    print(machine_description())
    rows = []
    # the timed module computes the right thing
    s, tensors = tiled_matmul()
    mod = build(tl.lower(s, tensors), "llvm", use_cache=False)
    a, b = (np.random.default_rng(k).random((512, 512), dtype=np.float32) for k in (0, 1))
    c = np.zeros((512, 512), np.float32)
    mod(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4)
    # fresh compiles: no cache
    fresh = _median_ms(lambda: build(tl.lower(*tiled_matmul()), "llvm", use_cache=False), repeat)
    lower_ms = _median_ms(lambda: tl.lower(*tiled_matmul()), repeat)
    rows.append(["lower (tiled matmul)", f"{lower_ms:.1f} ms"])
    rows.append(["lower + codegen + JIT, no cache", f"{fresh:.1f} ms"])
    with tempfile.TemporaryDirectory() as directory:
        os.environ["TL_CACHE_DIR"] = directory
        func = tl.lower(*tiled_matmul())
        build(func, "llvm")
        cached = _median_ms(lambda: build(func, "llvm"), repeat)
        relowered = _median_ms(lambda: build(tl.lower(*tiled_matmul()), "llvm"), repeat)
    rows.append(["cached rebuild (same PrimFunc)", f"{cached:.2f} ms"])
    rows.append(["lower + cached rebuild", f"{relowered:.1f} ms"])
    for name, value in _launch_overhead_us().items():
        rows.append([f"call overhead, {name}", f"{value:.2f} us"])
    print_table("Build latency and call overhead (medians)", ["what", "time"], rows)


if __name__ == "__main__":
    main()
