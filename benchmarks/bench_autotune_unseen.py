"""Operators the search-space rules were not written for: tune each, check that the tuned
schedule is correct (every candidate is checked against the unscheduled build while
tuning; here the best is checked once more against the default schedule's output) and
print its speed against the default schedule, measured in the same run.

    python benchmarks/bench_autotune_unseen.py [--trials 100] [--workloads softmax,...] [--seed 0]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

# bench_common first: it runs the script again without OpenBLAS kernel pins, if set
from bench_common import (interleaved_module_seconds, machine_description, print_table,
                          workload_arrays)

import numpy as np

import tensorlang as tl
from tensorlang.autotune.dispatch import default_args
from tensorlang.autotune.op_workloads import make_workload

WORKLOADS = ("softmax", "layer_norm", "pool2d", "batch_matmul")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--seed", type=int, default=0, help="the search's random seed")
    parser.add_argument("--span", type=float, default=20.0,
                        help="seconds to time tuned against default, in turns, per operator")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="candidates per search round (default: the tuner's)")
    args = parser.parse_args()
    print(machine_description())
    work = tempfile.mkdtemp(prefix="bench-unseen-")
    rows = []
    for name in args.workloads.split(","):
        outputs = make_workload(name, None)
        params = default_args(outputs)
        start = time.perf_counter()
        extra = {} if args.batch_size is None else {"batch_size": args.batch_size}
        result = tl.autotune(outputs, trials=args.trials, verbose=0, seed=args.seed, **extra,
                             log_file=os.path.join(work, f"{name}.jsonl"))
        seconds = time.perf_counter() - start
        tuned = result.build()
        default = tl.build(tl.create_schedule([t.op for t in outputs]), params)
        inputs = workload_arrays(outputs)
        expected = [a.copy() for a in inputs]
        default(*expected)
        got = [a.copy() for a in inputs]
        tuned(*got)
        for out_index in range(len(params) - len(outputs), len(params)):
            np.testing.assert_allclose(got[out_index], expected[out_index], rtol=1e-4,
                                       atol=1e-5)
        t_default, t_tuned = interleaved_module_seconds([default, tuned], inputs, span=args.span)
        rows.append([name, str(result.num_trials), f"{seconds:.0f}",
                     f"{t_default * 1e3:.3f}", f"{t_tuned * 1e3:.3f}",
                     f"{t_default / t_tuned:.1f}",
                     ", ".join(f"{k} {v}" for k, v in result.errors.items()) or "none"])
        print(f"  {name}: {t_default / t_tuned:.1f}x the default schedule", flush=True)
    print_table(f"tuned against the default schedule ({args.trials} trials each)",
                ["workload", "trials", "tuning s", "default ms", "tuned ms", "speed-up",
                 "failed candidates"], rows)


if __name__ == "__main__":
    main()
