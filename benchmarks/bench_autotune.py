"""Autotuning a float32 matmul (or another ``tensorlang.ops`` workload): tuning throughput,
the tuned speed against numpy measured in the same run, model-guided against random
search, and the cost model's ranking accuracy on held-out measured candidates.

    python benchmarks/bench_autotune.py [--workload matmul] [--size 1024] [--trials 1000]
                                        [--compare-random] [--compare-trials 200] [--seeds 3]

Every figure is measured in this run; nothing is compared with stored numbers.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

# bench_common first: it runs the script again without OpenBLAS kernel pins, if set
from bench_common import (interleaved_module_seconds, interleaved_seconds,
                          machine_description, print_table, workload_arrays)

import numpy as np

import tensorlang as tl
from tensorlang.autotune import XGBoostCostModel, pairwise_accuracy

#: float32 lanes of this CPU's vectors, which the hand schedules are blocked for
LANES = tl.Target("llvm").float32_lanes
from tensorlang.autotune.op_workloads import make_workload
from tensorlang.benchmarking import measure_peaks


def _numpy_baseline(workload: str, size: int):
    """(numpy's version of the workload as a function, description) where one exists."""
    rng = np.random.default_rng(0)
    if workload == "matmul":
        a = rng.random((size, size), dtype=np.float32)
        b = rng.random((size, size), dtype=np.float32)
        return (lambda: np.matmul(a, b)), "numpy matmul"
    if workload == "conv2d":
        data = rng.random((64, size + 2, size + 2), dtype=np.float32)
        kernel = rng.random((64, 64 * 9), dtype=np.float32)

        def im2col_matmul():
            cols = np.lib.stride_tricks.sliding_window_view(data, (3, 3), axis=(1, 2))
            cols = cols.transpose(0, 3, 4, 1, 2).reshape(64 * 9, size * size)
            return kernel @ cols
        return im2col_matmul, "numpy im2col + matmul"
    return None, None


def _hand_schedules(workload: str, size: int) -> dict:
    """name -> built module of the hand schedules of ``workload`` (the recipes of
    ``tensorlang.schedule.recipes``), taking the tuned module's arguments."""
    from tensorlang.schedule.recipes import conv2d_nchw_3x3, gemm_parallel, gemm_register_tiled
    if workload == "matmul" and size % 64 == 0:
        return {"hand (register-tiled recipe)":
                tl.build(*gemm_register_tiled(size, size, size, lanes=LANES)),
                "tutorial (classic final schedule)": tl.build(*gemm_parallel(size, size, size))}
    if workload == "conv2d":
        return {"hand (conv2d_nchw_3x3 recipe)":
                tl.build(*conv2d_nchw_3x3(height=size, width=size, lanes=LANES))}
    return {}


def _best_cost(records) -> float:
    costs = [r.mean_cost for r in records if r.is_valid]
    return min(costs) if costs else float("inf")


def held_out_accuracy(records, seed: int = 0, held_out: float = 0.2) -> float:
    """Pairwise ranking accuracy of a model trained on a random part of the measured
    candidates, on the rest (valid and failed candidates alike)."""
    rows = [r for r in records if r.features is not None]
    if len(rows) < 10:
        return float("nan")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(rows))
    cut = int(len(rows) * (1 - held_out))
    train, test = [rows[k] for k in order[:cut]], [rows[k] for k in order[cut:]]
    model = XGBoostCostModel(seed=seed, num_threads=1, params={"max_bin": 64})
    model.fit(np.array([r.features for r in train], dtype=np.float32),
              [r.mean_cost for r in train])
    scores = model.predict(np.array([r.features for r in test], dtype=np.float32))
    return pairwise_accuracy(scores, [r.mean_cost for r in test])


def tune_once(args, trials: int, seed: int, search: str, log_file: str):
    outputs = make_workload(args.workload, args.size)
    start = time.perf_counter()
    result = tl.autotune(outputs, trials=trials, log_file=log_file, seed=seed,
                         search=search, batch_size=args.batch_size,
                         verbose=0 if args.quiet else 1)
    return result, time.perf_counter() - start, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="matmul")
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--log", default=None, help="tuning log (default: a fresh temp file)")
    parser.add_argument("--compare-random", action="store_true",
                        help="also compare model-guided with random search")
    parser.add_argument("--compare-trials", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    size = args.size or {"conv2d": 56}.get(args.workload, 1024)
    args.size = size
    print(machine_description())
    work = tempfile.mkdtemp(prefix="bench-autotune-")
    log = args.log or os.path.join(work, "tune.jsonl")

    result, seconds, outputs = tune_once(args, args.trials, 0, "model", log)
    rows = []
    rate = result.measured_now / seconds if seconds > 0 else float("nan")
    print(f"\ntuned {result.measured_now} candidates in {seconds:.1f} s: {rate:.2f} trials/s "
          f"(failures: {dict(result.errors) or 'none'})")
    print("time per phase: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items()))
    if result.best_record is not None:
        mod = result.build()
        # in turns, so that both see the same machine load
        arrays = workload_arrays(outputs)
        numpy_version, what = _numpy_baseline(args.workload, size)
        functions = {"tensorlang tuned": lambda: mod(*arrays)}
        for name, hand in _hand_schedules(args.workload, size).items():
            functions[name] = (lambda m: lambda: m(*arrays))(hand)
        if numpy_version is not None:
            functions[what] = numpy_version
        peaks = measure_peaks()
        print(peaks)
        # OpenBLAS's threads spin for up to about 0.2 s after a call on this kind of
        # machine: a shorter pause slows whatever runs next
        times = interleaved_seconds(functions, repeat=11, number=5, settle=0.3,
                                    rewarm=0.1)
        baseline = times.get(what)
        flops = result.flops or float("nan")
        for name, t in times.items():
            rows.append([name, f"{t * 1e3:.3f}", f"{flops / t / 1e9:.1f}",
                         f"{flops / t / 1e9 / peaks.fma_gflops:.0%}",
                         f"{baseline / t:.2f}" if baseline else "-",
                         f"{t / times['tensorlang tuned']:.2f}"])
        print_table(f"{args.workload} size {size}, {result.num_trials} trials in "
                    f"{seconds:.0f} s (in turns, medians of 11)",
                    ["", "ms", "GFLOPS", "of FMA peak", "x numpy", "tuned x this"], rows)
        print("\nbest schedule:\n" + result.schedule_code)
    if result.flops:
        checkpoints = [n for n in (64, 128, 256, 500, 1000, 2000) if n <= len(result.history)]
        print("best after N trials: " + ", ".join(
            f"{n}: {result.flops / _best_cost(result.history[:n]) / 1e9:.1f} GFLOPS"
            for n in checkpoints))
    # the first 500 candidates (the point the targets name) and all of them; each the mean
    # over 5 random splits, since one split of a few hundred moves by +-0.02
    accuracies = []
    for n in sorted({min(500, len(result.history)), len(result.history)}):
        mean = statistics.mean(held_out_accuracy(result.history[:n], seed=k) for k in range(5))
        accuracies.append(f"first {n}: {mean:.3f}")
    print("\nranking accuracy on held-out measured candidates (20% held out, mean of 5 "
          "splits): " + ", ".join(accuracies))

    if args.compare_random:
        compare_searches(args, work, outputs)


def compare_searches(args, work: str, outputs) -> None:
    """Model-guided against random search, ``args.seeds`` seeds each, run in turns (model
    seed 0, random seed 0, model seed 1, ...) so that both see the same machine load.
    Each run's best is then re-timed, all of them in turns in this process: a search that
    measures many near-identical schedules records the luckiest of their timings, so the
    best cost a log records flatters it."""
    results = {"model": [], "random": []}
    for seed in range(args.seeds):
        for search in ("model", "random"):
            path = os.path.join(work, f"{search}-{seed}.jsonl")
            res, _, _ = tune_once(args, args.compare_trials, seed, search, path)
            results[search].append(res)
    runs = [res for search in ("model", "random") for res in results[search]]
    modules = [res.build() for res in runs]
    arrays = workload_arrays(outputs)
    retimed = dict(zip(map(id, runs), interleaved_module_seconds(modules, arrays)))
    table = []
    for search in ("model", "random"):
        # the fastest first measurement of each run (its round's re-timing is left out:
        # rounds ran at different times, the re-timing below runs all bests in turns)
        logged = [_best_cost(res.history) for res in results[search]]
        now = [retimed[id(res)] for res in results[search]]
        flops = results[search][0].flops or float("nan")
        table.append([search,
                      f"{flops / statistics.median(logged) / 1e9:.1f}",
                      " ".join(f"{flops / t / 1e9:.1f}" for t in logged),
                      f"{flops / statistics.median(now) / 1e9:.1f}",
                      " ".join(f"{flops / t / 1e9:.1f}" for t in now)])
    print_table(f"model-guided vs random search, {args.compare_trials} trials, median of "
                f"{args.seeds} seeds (GFLOPS)", ["search", "logged best", "per seed",
                                                  "re-timed best", "per seed"], table)

if __name__ == "__main__":
    main()
