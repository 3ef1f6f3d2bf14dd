"""Regenerate the pretrained cost model shipped in the package: tune a corpus of
operators and shapes (``pretrain_corpus.CORPUS``) into ordinary tuning logs, then train
the model from them and write it to ``tensorlang/autotune/data/pretrained_llvm.json``.

    python benchmarks/make_pretrained_model.py tune  [--logs DIR] [--trials 96] [--only a,b]
    python benchmarks/make_pretrained_model.py train [--logs DIR] [--out FILE] [--only a,b]
    python benchmarks/make_pretrained_model.py all   [...]       # both, in turn

``tune`` tunes each workload with a fresh model (``pretrained=False``: the corpus does
not depend on the model it regenerates) and no re-timing, one log per workload
(``DIR/<name>.jsonl``); a log already holding ``--trials`` trials is left as it is, so
an interrupted run resumes.  ``train`` recomputes every trial's features from its
config with the current feature extractor (so the model matches the features the
tuner computes, whichever version wrote the logs), labels each by its throughput
relative to the best of its workload, and trains a ranking model with one group per
workload; the file records the feature version, CPU, corpus and xgboost version.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from pretrain_corpus import CORPUS, HELD_OUT  # noqa: E402

import tensorlang as tl  # noqa: E402
from tensorlang.autotune.pretrained import (DEFAULT_MODEL_PATH, featurize_records,  # noqa: E402
                                            model_document, train_prior, write_model_file)
from tensorlang.autotune.record import RecordLog  # noqa: E402
from tensorlang.autotune.workload_space import make_space  # noqa: E402

DEFAULT_LOGS = os.path.join(HERE, "pretrain_logs")


def selected(only: str | None, corpus: dict = CORPUS) -> dict:
    if not only:
        return dict(corpus)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in corpus]
    if unknown:
        raise SystemExit(f"unknown corpus workload(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(corpus)}")
    return {n: corpus[n] for n in names}


def tune(corpus: dict, logs: str, trials: int, seed: int = 0, verbose: int = 0) -> None:
    os.makedirs(logs, exist_ok=True)
    for name, (build, description) in corpus.items():
        start = time.perf_counter()
        result = tl.autotune(build(), target="llvm", trials=trials, verbose=verbose,
                             seed=seed, retime=0, pretrained=False,
                             log_file=os.path.join(logs, f"{name}.jsonl"))
        speed = f"{result.best_gflops:.1f} GFLOPS" if result.best_gflops else \
            f"{result.best_time * 1e3:.3f} ms"
        print(f"  {name} ({description}): {result.num_trials} trials, best {speed}, "
              f"{time.perf_counter() - start:.0f} s", flush=True)


def corpus_samples(corpus: dict, logs: str) -> tuple:
    """``(features, costs, keys, corpus entries)`` of the corpus's logs in ``logs``."""
    import numpy as np
    rows, costs, keys, entries = [], [], [], []
    for name, (build, description) in corpus.items():
        path = os.path.join(logs, f"{name}.jsonl")
        if not os.path.exists(path):
            print(f"  {name}: no log ({path}), left out", flush=True)
            continue
        space = make_space(build(), "llvm")
        records = RecordLog(path).records_for(space.workload_key, "llvm")
        features, measured = featurize_records(space, records)
        if not len(measured):
            print(f"  {name}: no usable trial in {path}, left out", flush=True)
            continue
        rows.append(features)
        costs += measured
        keys += [space.workload_key] * len(measured)
        valid = sum(1 for c in measured if c is not None and np.isfinite(c))
        entries.append({"name": name, "description": description,
                        "workload_key": space.workload_key, "samples": len(measured),
                        "valid": valid})
    if not rows:
        raise SystemExit(f"no corpus log with usable trials in {logs}; run the tune step")
    return np.concatenate(rows), costs, keys, entries


def train(corpus: dict, logs: str, out: str, seed: int = 0, num_rounds: int = 200,
          max_depth: int = 4) -> dict:
    held_keys = {make_space(build(), "llvm").workload_key for build, _ in HELD_OUT.values()}
    features, costs, keys, entries = corpus_samples(corpus, logs)
    leaked = sorted(e["name"] for e in entries if e["workload_key"] in held_keys)
    if leaked:
        raise SystemExit(f"corpus workload(s) {', '.join(leaked)} are held-out workloads")
    start = time.perf_counter()
    model = train_prior(features, costs, keys, seed=seed, num_rounds=num_rounds,
                        max_depth=max_depth)
    document = model_document(model, entries, notes=(
        f"trained by benchmarks/make_pretrained_model.py on {len(costs)} trials of "
        f"{len(entries)} workloads; held out: {', '.join(HELD_OUT)}"))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    write_model_file(document, out)
    print(f"trained on {len(costs)} trials of {len(entries)} workloads in "
          f"{time.perf_counter() - start:.1f} s; wrote {out} "
          f"({os.path.getsize(out) / 1024:.0f} KiB)", flush=True)
    return document


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("tune", "train", "all"))
    parser.add_argument("--logs", default=DEFAULT_LOGS, help="folder of the corpus logs")
    parser.add_argument("--out", default=DEFAULT_MODEL_PATH, help="model file to write")
    parser.add_argument("--trials", type=int, default=96, help="trials per workload")
    parser.add_argument("--only", default=None, help="comma-separated corpus workloads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=200, help="trees of the model")
    parser.add_argument("--depth", type=int, default=4, help="depth of its trees")
    parser.add_argument("--verbose", type=int, default=0)
    args = parser.parse_args(argv)
    corpus = selected(args.only)
    if args.step in ("tune", "all"):
        tune(corpus, args.logs, args.trials, args.seed, args.verbose)
    if args.step in ("train", "all"):
        train(corpus, args.logs, args.out, args.seed, args.rounds, args.depth)


if __name__ == "__main__":
    main()
