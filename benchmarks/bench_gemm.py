"""GEMM on the CPU, step by step as in TVM's classic "How to optimize GEMM on CPU" tutorial:
naive, blocking, vectorize, loop permutation, packing, write cache, parallel, and a
register-tiled variant.  Prints GFLOPS per step and the ratio to numpy (OpenBLAS)
measured in the same run (medians of repeats).

    python benchmarks/bench_gemm.py [--size 1024] [--steps naive,blocking,...]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from bench_common import machine_description, median_seconds, module_seconds, print_table

import tensorlang as tl
from tensorlang import te
from tensorlang.target.llvm import build


def _matmul(M, N, K):
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    k = te.reduce_axis((0, K), name="k")
    C = te.compute((M, N), lambda x, y: te.sum(A[x, k] * B[k, y], axis=k), name="C")
    return A, B, C


def _packed_matmul(M, N, K, bn):
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    packed = te.compute((N // bn, K, bn), lambda x, y, z: B[y, x * bn + z], name="packedB")
    k = te.reduce_axis((0, K), name="k")
    C = te.compute((M, N), lambda x, y: te.sum(A[x, k] * packed[y // bn, k, y % bn], axis=k),
                   name="C")
    return A, B, C, packed


def naive(M, N, K):
    A, B, C = _matmul(M, N, K)
    return tl.create_schedule(C), [A, B, C]


def blocking(M, N, K, bn=32, kfactor=4, vectorize=False, permute=False):
    A, B, C = _matmul(M, N, K)
    s = tl.create_schedule(C)
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=kfactor)
    if permute:
        s[C].reorder(xo, yo, ko, xi, ki, yi)
    else:
        s[C].reorder(xo, yo, ko, ki, xi, yi)
    if vectorize:
        s[C].vectorize(yi)
    return s, [A, B, C]


def vectorize(M, N, K):
    return blocking(M, N, K, vectorize=True)


def permutation(M, N, K):
    return blocking(M, N, K, vectorize=True, permute=True)


def packing(M, N, K, bn=32, kfactor=4):
    A, B, C, packed = _packed_matmul(M, N, K, bn)
    s = tl.create_schedule(C)
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=kfactor)
    s[C].reorder(xo, yo, ko, xi, ki, yi)
    s[C].vectorize(yi)
    x, _, z = s[packed].op.axis
    s[packed].vectorize(z)
    s[packed].parallel(x)
    return s, [A, B, C]


def write_cache(M, N, K, bn=32, kfactor=4, parallel=False):
    A, B, C, packed = _packed_matmul(M, N, K, bn)
    s = tl.create_schedule(C)
    CC = s.cache_write(C, "global")
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    s[CC].compute_at(s[C], yo)
    xc, yc = s[CC].op.axis
    ko, ki = s[CC].split(s[CC].op.reduce_axis[0], factor=kfactor)
    s[CC].reorder(ko, xc, ki, yc)
    s[CC].unroll(ki)
    s[CC].vectorize(yc)
    if parallel:
        s[C].parallel(xo)
    x, _, z = s[packed].op.axis
    s[packed].vectorize(z)
    s[packed].parallel(x)
    return s, [A, B, C]


def parallel(M, N, K):
    """The tutorial's final schedule."""
    return write_cache(M, N, K, parallel=True)


def register_tiling(M, N, K, bn=64, rows=4, kfactor=8):
    """A 4x64 accumulator tile held in registers (4 rows x 4 AVX-512 vectors), packed B
    panels of 64 columns, k split by 8 and unrolled."""
    A, B, C, packed = _packed_matmul(M, N, K, bn)
    s = tl.create_schedule(C)
    CC = s.cache_write(C, "local")
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], rows, bn)
    s[C].reorder(yo, xo, xi, yi)
    fused = s[C].fuse(yo, xo)
    s[CC].compute_at(s[C], fused)
    xc, yc = s[CC].op.axis
    ko, ki = s[CC].split(s[CC].op.reduce_axis[0], factor=kfactor)
    s[CC].reorder(ko, ki, xc, yc)
    s[CC].unroll(ki)
    s[CC].unroll(xc)
    s[CC].vectorize(yc)
    s[C].vectorize(yi)
    s[C].parallel(fused)
    x, _, z = s[packed].op.axis
    s[packed].vectorize(z)
    s[packed].parallel(x)
    return s, [A, B, C]


STEPS = {"naive": naive, "blocking": blocking, "vectorize": vectorize,
         "permutation": permutation, "packing": packing, "write_cache": write_cache,
         "parallel": parallel, "register_tiling": register_tiling}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    M = N = K = args.size
    rng = np.random.default_rng(0)
    a = rng.random((M, K), dtype=np.float32)
    b = rng.random((K, N), dtype=np.float32)
    expected = a @ b
    flops = 2.0 * M * N * K
    numpy_seconds = median_seconds(lambda: np.matmul(a, b), repeat=args.repeat, number=3)
    print(machine_description())
    rows = [["numpy (OpenBLAS)", f"{numpy_seconds * 1e3:.2f}",
             f"{flops / numpy_seconds / 1e9:.1f}", "1.00", "-"]]
    for name in args.steps.split(","):
        s, tensors = STEPS[name](M, N, K)
        start = time.perf_counter()
        mod = build(tl.lower(s, tensors, name=f"gemm_{name}"), "llvm", use_cache=False)
        build_ms = (time.perf_counter() - start) * 1e3
        c = np.zeros((M, N), dtype=np.float32)
        mod(a, b, c)
        np.testing.assert_allclose(c, expected, rtol=1e-3)
        repeat = 1 if name == "naive" and M >= 1024 else args.repeat
        seconds = module_seconds(mod, a, b, c, repeat=repeat,
                                 number=1 if name in ("naive", "blocking") else 3)
        # numpy again, interleaved, so both see the same machine state
        numpy_seconds = min(numpy_seconds, median_seconds(lambda: np.matmul(a, b), repeat=3))
        rows.append([name, f"{seconds * 1e3:.2f}", f"{flops / seconds / 1e9:.1f}",
                     f"{numpy_seconds / seconds:.2f}", f"{build_ms:.0f}"])
        print(f"  {name}: {flops / seconds / 1e9:.1f} GFLOPS", flush=True)
    rows[0][1] = f"{numpy_seconds * 1e3:.2f}"
    rows[0][2] = f"{flops / numpy_seconds / 1e9:.1f}"
    print_table(f"GEMM {M}x{N}x{K} float32", ["step", "ms", "GFLOPS", "x numpy",
                                              "build ms"], rows)


if __name__ == "__main__":
    main()
