"""How well the cost model picks out the fastest candidates it has not seen, from tuning
logs (no timing: every figure comes from costs already measured).

    python benchmarks/bench_cost_model.py LOG.jsonl [LOG.jsonl ...] [--train 150] [--folds 20]

For each workload in the logs (configs measured several times count once, at their median
cost), the model trains on ``--train`` random candidates and scores the rest, over
``--folds`` random splits.  Printed per workload: pairwise accuracy on the held-out ones,
the share of the truly fastest 5% that the model puts in its top 5% (recall), and where
the model's 10 best-scored candidates rank in true speed (0: fastest, 0.5: as random).
Logs of ``search="random"`` runs (``bench_autotune.py --compare-random`` writes them)
sample the space evenly, which is what a search asks of the model.
"""
from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict

# bench_common first: it runs the script again without OpenBLAS kernel pins, if set
from bench_common import print_table

import numpy as np

from tensorlang.autotune import XGBoostCostModel, pairwise_accuracy
from tensorlang.autotune.record import RecordLog


def load(paths) -> dict:
    """workload name -> (features, median costs) of its distinct measured configs."""
    costs, features, names = defaultdict(list), {}, {}
    for path in paths:
        for record in RecordLog(path).load():
            if record.features is None or not isinstance(record.config, dict):
                continue
            key = (record.workload_key, json.dumps(record.config.get("decisions"),
                                                   sort_keys=True))
            costs[key].append(record.mean_cost)
            features[key] = record.features
            names[record.workload_key] = (record.workload or {}).get("name", "workload")
    out: dict = defaultdict(lambda: ([], []))
    for key, values in costs.items():
        label = f"{names[key[0]]} ({key[0][:8]})"
        out[label][0].append(features[key])
        out[label][1].append(float(np.median(values)))
    return {k: (np.asarray(x, dtype=np.float32), np.asarray(c)) for k, (x, c) in out.items()}


def evaluate(x, costs, train: int, folds: int) -> dict:
    accuracy, recall, percentile = [], [], []
    for seed in range(folds):
        order = np.random.default_rng(seed).permutation(len(costs))
        fit, held = order[:train], order[train:]
        model = XGBoostCostModel(seed=seed, num_threads=1, params={"max_bin": 64})
        model.fit(x[fit], costs[fit])
        scores = model.predict(x[held])
        accuracy.append(pairwise_accuracy(scores, costs[held]))
        by_score = held[np.argsort(-scores, kind="stable")]
        by_cost = held[np.argsort(costs[held], kind="stable")]
        top = max(1, len(held) // 20)
        recall.append(len(set(by_score[:top]) & set(by_cost[:top])) / top)
        rank = {k: r / len(held) for r, k in enumerate(by_cost)}
        percentile.append(float(np.mean([rank[k] for k in by_score[:10]])))
    return {"accuracy": statistics.mean(accuracy), "recall": statistics.mean(recall),
            "percentile": statistics.mean(percentile)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+")
    parser.add_argument("--train", type=int, default=150)
    parser.add_argument("--folds", type=int, default=20)
    args = parser.parse_args()
    rows = []
    for name, (x, costs) in sorted(load(args.logs).items()):
        if len(costs) < args.train + 20:
            rows.append([name, str(len(costs)), "-", "-", "-"])
            continue
        result = evaluate(x, costs, args.train, args.folds)
        rows.append([name, str(len(costs)), f"{result['accuracy']:.3f}",
                     f"{result['recall']:.2f}", f"{result['percentile']:.2f}"])
    print_table(f"cost model on held-out candidates (trained on {args.train}, "
                f"{args.folds} splits)", ["workload", "configs", "pairwise accuracy",
                                          "top-5% recall", "top-10 percentile"], rows)


if __name__ == "__main__":
    main()
