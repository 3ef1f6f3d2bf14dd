"""Row softmax of a ``rows x 1024`` float32 matrix (``recipes.softmax_rows``: row maximum
and sum reduced a vector at a time, exponentials and division vectorized, rows in
parallel, the row temporaries in cache) against a numpy softmax, numpy timed in turns
with tensorlang (medians of repeats).

    python benchmarks/bench_softmax.py [--rows 4096,16384] [--cols 1024]
"""
from __future__ import annotations

import argparse

# bench_common first: it runs the script again without OpenBLAS kernel pins, if set
from bench_common import interleaved_seconds, machine_description, print_table

import numpy as np

import tensorlang as tl
from tensorlang.schedule.recipes import softmax_rows


def numpy_softmax(x: np.ndarray) -> np.ndarray:
    """The usual numpy softmax over the last axis."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="256,4096,16384")
    parser.add_argument("--cols", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=11)
    args = parser.parse_args()
    print(machine_description())
    rows = []
    for count in (int(r) for r in args.rows.split(",")):
        x = np.random.default_rng(0).standard_normal((count, args.cols), dtype=np.float32)
        y = np.empty_like(x)
        mod = tl.build(*softmax_rows(count, args.cols), name="softmax")
        mod(x, y)
        np.testing.assert_allclose(y, numpy_softmax(x), rtol=1e-5, atol=1e-8)
        number = max(1, 2 ** 22 // x.size)
        seconds = interleaved_seconds({"tensorlang": lambda: mod(x, y),
                                       "numpy": lambda: numpy_softmax(x)},
                                      repeat=args.repeat, number=number)
        traffic = 2 * x.nbytes  # one read, one write
        rows.append([f"{count} x {args.cols}", f"{seconds['numpy'] * 1e3:.3f}",
                     f"{seconds['tensorlang'] * 1e3:.3f}",
                     f"{traffic / seconds['tensorlang'] / 1e9:.1f}",
                     f"{seconds['numpy'] / seconds['tensorlang']:.2f}"])
    print_table("Softmax over rows, float32 (medians)",
                ["shape", "numpy ms", "tensorlang ms", "tensorlang GB/s", "x numpy"], rows)


if __name__ == "__main__":
    main()
