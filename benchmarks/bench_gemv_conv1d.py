"""Operators outside the tiled families: a float32 matrix-vector product and a 1-D
convolution (batch 1, so that the outer loop does no work in parallel), each tuned with a
small budget and timed against numpy and a short hand schedule, all in turns in the same
run.

    python benchmarks/bench_gemv_conv1d.py [--trials 64] [--gemv-size 4096]
                                           [--conv1d-length 1024] [--workloads gemv,conv1d]

The hand schedules (:func:`hand_gemv`, :func:`hand_conv1d`) are the few lines a user
would write; the tuned schedule must reach them.  Every figure is measured in this run.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

# bench_common first: it runs the script again without OpenBLAS kernel pins, if set
from bench_common import (interleaved_seconds, machine_description, print_table,
                          workload_arrays)

import numpy as np

import tensorlang as tl
from tensorlang.autotune.dispatch import default_args
from tensorlang.autotune.op_workloads import make_workload


def hand_gemv(y):
    """y[i] = sum_k A[i, k] x[k]: 16 partial sums (a vector of lanes along the contiguous
    row) of 4 rows at once, so that each vector of x serves four rows, the row tiles in
    parallel, then the sums of the partials."""
    s = tl.create_schedule(y.op)
    _, ki = s[y].split(y.op.reduce_axis[0], factor=16)
    partial = s.rfactor(y, ki)
    rows, _ = s[y].split(y.op.axis[0], factor=4)
    s[y].parallel(rows)
    s[partial].compute_at(s[y], rows)
    lanes, row = s[partial].op.axis
    s[partial].reorder(s[partial].op.reduce_axis[0], row, lanes)
    s[partial].unroll(row)
    s[partial].vectorize(lanes)
    return s


#: float32 lanes of this CPU's vectors, which the hand convolution's tile is sized for
LANES = tl.Target("llvm").float32_lanes


def hand_conv1d(out, lanes: int = LANES):
    """A register tile of 4 output channels x 4 vectors of positions (64 with AVX-512's
    16 lanes: 16 of its 32 registers; 2 vectors, 16 positions, with AVX2's 8 lanes and 16
    registers) accumulated in a local buffer over the channels and the unrolled window,
    the tiles in parallel; the padded input is written once (in parallel), so the window
    reads carry no guard."""
    s = tl.create_schedule(out.op)
    padded = s[out.op.input_tensors[0]]
    padded.parallel(padded.op.axis[1])
    acc = s.cache_write(out, "local")
    n, f, y, x = out.op.axis
    fo, fi = s[out].split(f, factor=4)
    xo, xi = s[out].split(x, factor=lanes * (4 if lanes >= 16 else 2))
    s[out].reorder(n, fo, y, xo, fi, xi)
    tile = s[out].fuse(n, fo, y, xo)
    s[out].parallel(tile)
    s[out].vectorize(xi)
    s[acc].compute_at(s[out], tile)
    af, ax = acc.op.axis[1], acc.op.axis[3]
    rc, ry, rx = acc.op.reduce_axis
    s[acc].reorder(rc, ry, rx, af, ax)
    s[acc].unroll(rx)
    s[acc].unroll(af)
    s[acc].vectorize(ax)
    return s


def numpy_version(name: str, arrays: list):
    """numpy's best version of the workload on the benchmark's own inputs."""
    if name == "gemv":
        a, x = arrays[0], arrays[1]
        return lambda: a @ x
    data, kernel = arrays[0], arrays[1]
    channels, window = kernel.shape[1], kernel.shape[3]
    padded = np.pad(data[0, :, 0, :], ((0, 0), (window // 2, window // 2)))
    weights = np.ascontiguousarray(kernel.reshape(kernel.shape[0], channels * window))

    def im2col_matmul():
        cols = np.lib.stride_tricks.sliding_window_view(padded, window, axis=1)
        return weights @ cols.transpose(0, 2, 1).reshape(channels * window, -1)
    return im2col_matmul


HAND = {"gemv": hand_gemv, "conv1d": hand_conv1d}


def bench(name: str, size: int, trials: int, work: str) -> list:
    outputs = make_workload(name, size)
    params = default_args(outputs)
    start = time.perf_counter()
    result = tl.autotune(outputs, trials=trials, verbose=0, seed=0,
                         log_file=os.path.join(work, f"{name}.jsonl"))
    seconds = time.perf_counter() - start
    tuned = result.build()
    hand = tl.build(HAND[name](outputs[0]), params)
    arrays = workload_arrays(outputs)
    expected = numpy_version(name, arrays)().reshape(arrays[-1].shape)
    for label, mod in (("hand", hand), ("tuned", tuned)):
        got = [a.copy() for a in arrays]
        mod(*got)
        np.testing.assert_allclose(got[-1], expected, rtol=1e-3, atol=1e-3,
                                   err_msg=f"{name}: the {label} schedule")
    tuned_out, hand_out = [a.copy() for a in arrays], [a.copy() for a in arrays]
    times = interleaved_seconds({"numpy": numpy_version(name, arrays),
                                 "hand": lambda: hand(*hand_out),
                                 "tuned": lambda: tuned(*tuned_out)},
                                repeat=15, number=5, settle=0.05, rewarm=0.05)
    flops = result.flops or float("nan")
    print(f"\n{name}: tuned in {seconds:.0f} s, best schedule:\n{result.schedule_code}",
          flush=True)
    return [[name, label, f"{times[label] * 1e3:.3f}",
             f"{flops / times[label] / 1e9:.1f}", f"{times['numpy'] / times[label]:.2f}",
             f"{times['hand'] / times[label]:.2f}"]
            for label in ("numpy", "hand", "tuned")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--gemv-size", type=int, default=4096)
    parser.add_argument("--conv1d-length", type=int, default=1024)
    parser.add_argument("--workloads", default="gemv,conv1d")
    args = parser.parse_args()
    print(machine_description())
    work = tempfile.mkdtemp(prefix="bench-gemv-conv1d-")
    sizes = {"gemv": args.gemv_size, "conv1d": args.conv1d_length}
    rows = []
    for name in args.workloads.split(","):
        rows += bench(name, sizes[name], args.trials, work)
    print_table(f"numpy, hand schedule and tuned ({args.trials} trials), in turns, median "
                f"of 15", ["workload", "version", "ms", "GFLOPS", "x numpy", "x hand"], rows)


if __name__ == "__main__":
    main()
