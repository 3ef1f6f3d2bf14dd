"""Batched attention, softmax(Q K^T / sqrt(d)) V over 8 heads of 64 float32 values (the
``attention`` workload of ``tensorlang tune``), tuned with a small budget and timed
against numpy (two batched BLAS products and its softmax) and a short hand schedule, all
in turns in the same run.

    python benchmarks/bench_attention.py [--trials 64] [--tokens 512]

GFLOPS count the two products only (2 * heads * tokens^2 * d each); the softmax's
(a few operations per score, one exp) are left out.  The hand schedule
(:func:`hand_attention`) is the few dozen lines a user would write; the tuned schedule
must reach it.  Every figure is measured in this run.
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
from tensorlang.autotune.op_workloads import make_workload, numpy_equivalent

HEADS, DIM = 8, 64


def _stages(out):
    """The tensors of the attention chain, from the output back to the scores."""
    weights = out.op.input_tensors[0]
    exp, expsum = weights.op.input_tensors
    scaled, maxelem = exp.op.input_tensors
    scores = scaled.op.input_tensors[0]
    return weights, exp, expsum, scaled, maxelem, scores


def _accumulate_in_registers(acc, kfactor: int) -> None:
    """A batched product's accumulator tile (rows x columns, in registers): the reduction
    split by ``kfactor`` outside the tile, its inner steps and the rows unrolled, the
    columns vectorized."""
    _, rows, columns = acc.op.axis
    ko, ki = acc.split(acc.op.reduce_axis[0], factor=kfactor)
    acc.reorder(ko, ki, rows, columns)
    acc.unroll(ki)
    acc.unroll(rows)
    acc.vectorize(columns)


def hand_attention(out, lanes: int | None = None, rows: int = 4, vectors: int = 2):
    """Register-tiled products, the softmax fused per row into the second one.

    ``lanes``: float32 lanes of a SIMD register (default: the host target's, 8 on AVX2);
    the tiles are sized for 16 vector registers (AVX2): 8 accumulators for the scores
    (4 rows x 2 vectors by default), 12 for the output (6 rows x 2 vectors).

    * scores = Q K^T: ``rows`` rows x ``vectors`` vectors of columns accumulated in
      registers over d; each panel of K's rows copied once, transposed
      (``cache_read(..., axes=(0, 2, 1))``: the columns of a panel contiguous), and used
      by every row of Q; the (head, panel) pairs in parallel;
    * the softmax of a block of 6 rows computed right before the second product reads it
      (at its block of rows), a row at a time: max and sum in vector partials
      (``rfactor``), the exponentials in memory once;
    * out = P V: 6 rows x two vectors of d accumulated over the tokens; the (head, block
      of rows) pairs in parallel.
    """
    lanes = lanes or tl.Target("llvm").float32_lanes
    weights, exp, expsum, scaled, maxelem, scores = _stages(out)
    s = tl.create_schedule(out.op)
    s[scaled].compute_inline()

    acc = s.cache_write(scores, "local")
    b, i, j = scores.op.axis
    jo, ji = s[scores].split(j, factor=vectors * lanes)
    io, ii = s[scores].split(i, factor=rows)
    s[scores].reorder(b, jo, io, ii, ji)
    panel = s[scores].fuse(b, jo)
    s[scores].parallel(panel)
    s[scores].vectorize(ji)
    packed = s.cache_read(scores.op.input_tensors[1], "global", [acc], axes=(0, 2, 1))
    s[packed].compute_at(s[scores], panel)
    s[acc].compute_at(s[scores], io)
    _accumulate_in_registers(s[acc], 8)

    oacc = s.cache_write(out, "local")
    b, i, j = out.op.axis
    io, ii = s[out].split(i, factor=6)
    jo, ji = s[out].split(j, factor=2 * lanes)
    s[out].reorder(b, io, jo, ii, ji)
    rows = s[out].fuse(b, io)
    s[out].parallel(rows)
    s[out].vectorize(ji)
    s[oacc].compute_at(s[out], jo)
    _accumulate_in_registers(s[oacc], 4)

    s[weights].compute_at(s[out], rows)
    row = weights.op.axis[1]
    s[weights].vectorize(s[weights].split(weights.op.axis[2], factor=lanes)[1])
    s[exp].compute_at(s[weights], row)
    s[exp].vectorize(s[exp].split(exp.op.axis[2], factor=lanes)[1])
    for reduction in (maxelem, expsum):
        _, k_lanes = s[reduction].split(reduction.op.reduce_axis[0], factor=lanes)
        partial = s.rfactor(reduction, k_lanes)
        s[reduction].compute_at(s[weights], row)
        s[partial].compute_at(s[weights], row)
        s[partial].reorder(s[partial].op.reduce_axis[0], s[partial].op.axis[0])
        s[partial].vectorize(s[partial].op.axis[0])
    return s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=512)
    args = parser.parse_args()
    print(machine_description())
    work = tempfile.mkdtemp(prefix="bench-attention-")
    outputs = make_workload("attention", args.tokens)
    params = default_args(outputs)
    start = time.perf_counter()
    result = tl.autotune(outputs, trials=args.trials, verbose=0, seed=0,
                         log_file=os.path.join(work, "attention.jsonl"))
    seconds = time.perf_counter() - start
    tuned = result.build()
    hand = tl.build(hand_attention(outputs[0]), params)
    arrays = workload_arrays(outputs)
    reference = numpy_equivalent("attention")
    expected = np.empty_like(arrays[-1])
    reference(*arrays[:3], out=expected)
    for label, mod in (("hand", hand), ("tuned", tuned)):
        got = [a.copy() for a in arrays]
        mod(*got)
        np.testing.assert_allclose(got[-1], expected, rtol=1e-3, atol=1e-4,
                                   err_msg=f"attention: the {label} schedule")
    numpy_out = np.empty_like(expected)
    tuned_out, hand_out = [a.copy() for a in arrays], [a.copy() for a in arrays]
    times = interleaved_seconds({"numpy": lambda: reference(*arrays[:3], out=numpy_out),
                                 "hand": lambda: hand(*hand_out),
                                 "tuned": lambda: tuned(*tuned_out)},
                                repeat=15, number=3, settle=0.05, rewarm=0.05)
    flops = 2 * 2 * HEADS * args.tokens * args.tokens * DIM
    print(f"\nattention: tuned in {seconds:.0f} s ({result.num_trials} trials), best "
          f"schedule:\n{result.schedule_code}", flush=True)
    rows = [["attention", label, f"{times[label] * 1e3:.3f}",
             f"{flops / times[label] / 1e9:.1f}", f"{times['numpy'] / times[label]:.2f}",
             f"{times['hand'] / times[label]:.2f}"] for label in ("numpy", "hand", "tuned")]
    print_table(f"attention, {HEADS} heads x {args.tokens} tokens x d {DIM} float32: numpy, "
                f"hand schedule and tuned ({args.trials} trials), in turns, median of 15; "
                f"GFLOPS of the two products ({flops / 1e9:.3f} GFLOP), softmax not counted",
                ["workload", "version", "ms", "GFLOPS", "x numpy", "x hand"], rows)


if __name__ == "__main__":
    main()
