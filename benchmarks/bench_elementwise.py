"""Fused element-wise code: ``exp(a) * b + c`` over 16M float32 in one vectorized,
parallel pass (``recipes.elementwise_fused``) against numpy's expression
``np.exp(a) * b + c``, and a plain ``a + b`` whose speed is the copy bandwidth of the
machine (GB/s of memory traffic: two reads and one write).  Medians of repeats, numpy
timed in turns with tensorlang.

    python benchmarks/bench_elementwise.py [--size 16777216]
"""
from __future__ import annotations

import argparse

# bench_common first: it runs the script again without OpenBLAS kernel pins, if set
from bench_common import interleaved_seconds, machine_description, print_table

import numpy as np

import tensorlang as tl
from tensorlang import te
from tensorlang.schedule.recipes import elementwise_fused


def vector_add(n: int, vector_width: int = 16):
    """``C = A + B``, chunks of ``vector_width`` vectorized, chunks in parallel."""
    A = te.placeholder((n,), name="A")
    B = te.placeholder((n,), name="B")
    C = te.compute((n,), lambda i: A[i] + B[i], name="C")
    s = tl.create_schedule(C)
    outer, inner = s[C].split(C.op.axis[0], factor=vector_width)
    s[C].vectorize(inner)
    s[C].parallel(outer)
    return s, [A, B, C]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16 * 1024 * 1024)
    parser.add_argument("--repeat", type=int, default=11)
    args = parser.parse_args()
    n = args.size
    print(machine_description())
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(n, dtype=np.float32) for _ in range(3))
    out = np.empty(n, np.float32)
    rows = []

    fused = tl.build(*elementwise_fused(n), name="exp_mul_add")
    fused(a, b, c, out)
    np.testing.assert_allclose(out, np.exp(a) * b + c, rtol=2e-6, atol=1e-6)
    seconds = interleaved_seconds({"tensorlang": lambda: fused(a, b, c, out),
                                   "numpy": lambda: np.exp(a) * b + c}, repeat=args.repeat)
    traffic = 4 * n * 4  # three arrays read, one written
    for who in ("numpy", "tensorlang"):
        rows.append([f"exp(a) * b + c, {who}", f"{seconds[who] * 1e3:.2f}",
                     f"{traffic / seconds[who] / 1e9:.1f}",
                     f"{seconds['numpy'] / seconds[who]:.2f}"])

    add = tl.build(*vector_add(n), name="vector_add")
    add(a, b, out)
    np.testing.assert_array_equal(out, a + b)
    seconds = interleaved_seconds({"tensorlang": lambda: add(a, b, out),
                                   "numpy": lambda: np.add(a, b, out=out)}, repeat=args.repeat)
    traffic = 3 * n * 4
    for who in ("numpy", "tensorlang"):
        rows.append([f"a + b (copy bandwidth), {who}", f"{seconds[who] * 1e3:.2f}",
                     f"{traffic / seconds[who] / 1e9:.1f}",
                     f"{seconds['numpy'] / seconds[who]:.2f}"])
    print_table(f"Element-wise over {n} float32 (medians; GB/s of memory traffic)",
                ["kernel", "ms", "GB/s", "x numpy"], rows)


if __name__ == "__main__":
    main()
