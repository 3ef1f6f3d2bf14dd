"""Does the pretrained cost model make tuning win early on operators it was not trained
on?  Tunes held-out workloads (``pretrain_corpus.HELD_OUT``: an operator and shapes not
in the corpus) with the pretrained prior for ``--trials`` trials and with a fresh model
for 4x as many, then times the best schedules side by side, in the same run.

    python benchmarks/bench_pretrained.py [--workloads conv1d,dense] [--trials 64] [--seed 0]
    python benchmarks/bench_pretrained.py --replay LOGS_DIR      # offline, no timing

The fresh model's best at ``--trials`` is the best of the first ``--trials`` trials of
its long run (with the same seed, a shorter run measures those same batches).  Printed:
best GFLOPS so far at a few trial counts (as first measured), then the three best
schedules re-timed in turns, and the ratio of pretrained@N to fresh@4N (above 1: the
pretrained prior at N trials is faster than the fresh model at 4N).

``--replay`` answers how the online model should continue from the prior, from the
corpus logs alone: each corpus workload is held out of the prior in turn, ``n`` of its
measured trials stand for a run's measurements, and the models rank the rest:
fresh (none of the prior), prior (none of the run), continuation (trees fitted to the
run's samples on top of the prior's, what the tuner does) and a blend of prior and
fresh scores weighted by sample count.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

# bench_common first: it runs the script again without OpenBLAS kernel pins, if set
from bench_common import (interleaved_module_seconds, machine_description, print_table,
                          workload_arrays)

import numpy as np

import tensorlang as tl
from tensorlang.autotune import XGBoostCostModel, pairwise_accuracy
from tensorlang.autotune.pretrained import PretrainedCostModel, train_prior
from tensorlang.autotune.record import record_config

from pretrain_corpus import CORPUS, HELD_OUT


def _best_within(result, count: int):
    valid = [r for r in result.history[:count] if r.is_valid]
    return min(valid, key=lambda r: r.mean_cost) if valid else None


def _build(result, record):
    schedule, args = result.space.apply(record_config(record))
    return tl.build(schedule, args)


def compare(name: str, trials: int, seed: int, work: str, span: float) -> list:
    build, description = HELD_OUT[name]
    print(f"{name}: {description}", flush=True)
    runs = {}
    for label, count, pretrained in (("pretrained", trials, None),
                                     ("fresh", 4 * trials, False)):
        start = time.perf_counter()
        runs[label] = tl.autotune(build(), trials=count, verbose=0, seed=seed, retime=0,
                                  pretrained=pretrained,
                                  log_file=os.path.join(work, f"{name}-{label}.jsonl"))
        print(f"  {label}: {count} trials in {time.perf_counter() - start:.0f} s",
              flush=True)
    pre, fresh = runs["pretrained"], runs["fresh"]
    flops = pre.flops
    curve = []
    for count in (8, 16, 32, trials):
        cells = []
        for result in (pre, fresh):
            best = _best_within(result, count)
            cells.append("-" if best is None else f"{flops / best.mean_cost / 1e9:.1f}")
        curve.append([name, str(count), *cells])
    chosen = [_best_within(pre, trials), _best_within(fresh, trials),
              _best_within(fresh, 4 * trials)]
    outputs = build()
    modules = [_build(r, rec) for r, rec in zip((pre, fresh, fresh), chosen)]
    seconds = interleaved_module_seconds(modules, workload_arrays(outputs), span=span)
    gflops = [flops / s / 1e9 for s in seconds]
    row = [name, *(f"{g:.1f}" for g in gflops), f"{seconds[1] / seconds[0]:.2f}",
           f"{seconds[2] / seconds[0]:.2f}"]
    return curve, row


# -- replay ---------------------------------------------------------------------------------

def _blend(prior, fresh, features, n: int, half: int = 32):
    """z-scored prior and fresh scores, the fresh one weighted n / (n + half)."""
    def z(values):
        return (values - values.mean()) / (values.std() + 1e-9)
    weight = n / (n + half)
    return (1 - weight) * z(prior.predict(features)) + weight * z(fresh.predict(features))


def replay(logs: str, counts=(0, 8, 16, 32), repeats: int = 5) -> None:
    from make_pretrained_model import corpus_samples
    features, costs, keys, entries = corpus_samples(CORPUS, logs)
    costs = np.array([np.inf if c is None else c for c in costs])
    keys = np.array(keys)
    variants = ("fresh", "prior", "continue", "blend")
    scores = {(v, n): [] for v in variants for n in counts}
    top = {(v, n): [] for v in variants for n in counts}
    for entry in entries:
        mine = keys == entry["workload_key"]
        prior = train_prior(features[~mine], costs[~mine], keys[~mine])._booster
        x, c = features[mine], costs[mine]
        for n in counts:
            for seed in range(repeats):
                order = np.random.default_rng(seed).permutation(len(c))
                fit, held = order[:n], order[n:]
                if len(held) < 8:
                    continue
                fresh = XGBoostCostModel(seed=seed, num_threads=1, params={"max_bin": 64})
                cont = PretrainedCostModel(prior, seed=seed, num_threads=1,
                                           params={"max_bin": 64})
                if n:
                    fresh.fit(x[fit], c[fit])
                    cont.fit(x[fit], c[fit])
                frozen = PretrainedCostModel(prior, seed=seed)
                predicted = {"fresh": fresh.predict(x[held]),
                             "prior": frozen.predict(x[held]),
                             "continue": cont.predict(x[held]),
                             "blend": _blend(frozen, fresh, x[held], n) if n else
                             frozen.predict(x[held])}
                by_cost = held[np.argsort(c[held], kind="stable")]
                rank = {k: r / len(held) for r, k in enumerate(by_cost)}
                for variant, values in predicted.items():
                    scores[variant, n].append(pairwise_accuracy(values, c[held]))
                    picked = held[np.argsort(-values, kind="stable")[:5]]
                    top[variant, n].append(float(np.mean([rank[k] for k in picked])))
    rows = [[str(n), *(f"{statistics.mean(scores[v, n]):.3f} / "
                       f"{statistics.mean(top[v, n]):.2f}" for v in variants)]
            for n in counts]
    print_table(f"held-out corpus workloads ({len(entries)}, each left out of the prior "
                f"in turn, {repeats} splits): pairwise accuracy / true rank of the top-5 "
                f"picks (0: fastest, 0.5: random)", ["run samples", *variants], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="conv1d,dense,conv2d,batch_matmul")
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--span", type=float, default=10.0,
                        help="seconds to time the three best schedules, in turns")
    parser.add_argument("--replay", metavar="LOGS", default=None,
                        help="folder of corpus logs: the offline study instead")
    args = parser.parse_args()
    print(machine_description())
    if args.replay:
        replay(args.replay)
        return
    work = tempfile.mkdtemp(prefix="bench-pretrained-")
    curves, rows = [], []
    for name in args.workloads.split(","):
        if name not in HELD_OUT:
            raise SystemExit(f"unknown held-out workload {name!r}; choose from "
                             f"{', '.join(HELD_OUT)}")
        curve, row = compare(name, args.trials, args.seed, work, args.span)
        curves += curve
        rows.append(row)
        print(f"  pretrained@{args.trials} / fresh@{4 * args.trials}: {row[-1]}", flush=True)
    print_table("best GFLOPS so far, as first measured", ["workload", "trials", "pretrained",
                                                          "fresh"], curves)
    n, m = args.trials, 4 * args.trials
    print_table("best schedules re-timed in turns (GFLOPS)",
                ["workload", f"pretrained@{n}", f"fresh@{n}", f"fresh@{m}",
                 f"pretrained@{n} / fresh@{n}", f"pretrained@{n} / fresh@{m}"], rows)


if __name__ == "__main__":
    main()
