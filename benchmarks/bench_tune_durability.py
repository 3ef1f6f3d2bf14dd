"""Tuning logs under kill -9 and shared by two processes: how many measured candidates a
killed 64-trial tuning (batch 32) loses, and how many configs two processes tuning one
workload into one log measure twice.

    python benchmarks/bench_tune_durability.py [--trials 64] [--batch 32] [--size 32]

Part 1 kills fresh tunings of a matmul with SIGKILL at several points -- while a batch
is compiled, while its candidates are measured (mid-batch), between two batches, and at
random moments -- and resumes the last to the end of its budget.  The runner process notes every candidate in a journal once it has run it (it is
then in flight: measured, not yet reported); *lost* is the candidates of the journal
missing from the log after the kill, and must be at most the one in flight.  Part 2 runs
two tuners of the same workload, seed and budget into one log at once and counts the
configs measured twice (0) and whether both report the same best.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorlang as tl  # noqa: E402
from tensorlang import te  # noqa: E402
from tensorlang.autotune import LocalBuilder, MeasureOptions, RecordLog  # noqa: E402
from tensorlang.autotune.record import record_config_key  # noqa: E402
from tensorlang.autotune.session import Session  # noqa: E402


def journal_hook(config, outputs):
    """Runner hook: note the candidate (it has run once: it is in flight)."""
    with open(os.environ["DURABILITY_JOURNAL"], "a") as f:
        f.write(json.dumps(config["decisions"], sort_keys=True) + "\n")


def _importable_hook():
    """``journal_hook`` as a function of this file imported as a module: the runner's
    worker process starts from tensorlang's entry point and can import that, not
    ``__main__``."""
    import bench_tune_durability
    return bench_tune_durability.journal_hook


def _matmul(n: int):
    A = te.placeholder((n, n), name="A")
    B = te.placeholder((n, n), name="B")
    k = te.reduce_axis((0, n), name="k")
    return te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")


def _phase(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def child(args) -> None:
    """One tuning process: notes its phase in ``log.phase``; kills itself at a phase
    when ``--kill-phase`` says so (``build``: 0.1 s into compiling batch ``--kill-at``;
    ``between``: right after batch ``--kill-at`` is recorded)."""
    phase_file, batches = args.log + ".phase", []
    build = LocalBuilder.build

    def building(self, task, configs, reference=False):
        if not reference:
            batches.append(1)
            _phase(phase_file, f"build {len(batches)}")
            if args.kill_phase == "build" and len(batches) == args.kill_at:
                threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGKILL)).start()
        result = build(self, task, configs, reference)
        if not reference:
            _phase(phase_file, f"run {len(batches)}")
        return result

    measure_round = Session._round

    def measuring(self, *a):
        count = measure_round(self, *a)
        _phase(phase_file, f"between {len(batches)}")
        if args.kill_phase == "between" and len(batches) == args.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return count

    LocalBuilder.build, Session._round = building, measuring
    result = tl.autotune(_matmul(args.size), trials=args.trials, batch_size=args.batch,
                         log_file=args.log, verbose=0, n_parallel=2, retime=0,
                         measure_options=MeasureOptions(min_measure_seconds=0.02,
                                                        fault_hook=_importable_hook()))
    print(json.dumps({"best": result.best_config, "time": result.best_time,
                      "measured": result.measured_now, "trials": result.num_trials}))


def _command(args, log: str, kill_phase: str = "", kill_at: int = 0) -> list:
    return [sys.executable, os.path.abspath(__file__), "--child", "--log", log,
            "--trials", str(args.trials), "--batch", str(args.batch), "--size",
            str(args.size), "--kill-phase", kill_phase, "--kill-at", str(kill_at)]


def _trials(log: str) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [r for r in RecordLog(log).load() if r.kind == "trial"]


def _lines(path: str) -> int:
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return sum(1 for _ in f)


def _kill_once(args, log: str, journal: str, how: str, at) -> tuple:
    """Start a tuning into ``log`` and kill it: ``build``/``between`` (it kills itself
    while compiling / right after recording batch ``at``), ``candidate`` (once the
    runner has run ``at`` candidates: mid-measurement), ``random`` (a random moment of
    the second after that)."""
    env = dict(os.environ, DURABILITY_JOURNAL=journal)
    if how in ("build", "between"):
        subprocess.run(_command(args, log, how, at), env=env, capture_output=True)
    else:
        process = subprocess.Popen(_command(args, log), env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        while process.poll() is None and _lines(journal) < at:
            time.sleep(0.005)
        if how == "random":  # then anywhere in the next second: timing, recording,
            time.sleep(random.Random(at).uniform(0.0, 1.0))  # the next batch's search
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    phase = open(log + ".phase").read() if os.path.exists(log + ".phase") else "start-up"
    measured, logged = _lines(journal), len(_trials(log))
    return phase, measured, logged


def kills(args, work: str) -> list:
    """Kill a fresh tuning at each point of the plan; resume the last to the end."""
    rng = random.Random(args.seed)
    half = args.batch // 2
    plan = [("build", 1), ("candidate", half), ("between", 1),
            ("candidate", args.batch + half)]
    plan += [("random", rng.randrange(1, args.trials)) for _ in range(args.random_kills)]
    rows = []
    for number, (how, at) in enumerate(plan):
        log = os.path.join(work, f"killed-{number}.jsonl")
        journal = os.path.join(work, f"journal-{number}")
        phase, measured, logged = _kill_once(args, log, journal, how, at)
        in_flight = 1 if phase.startswith("run") else 0
        rows.append((f"{how} {at}", phase, measured, logged, measured - logged, in_flight))
    env = dict(os.environ, DURABILITY_JOURNAL=journal)
    final = subprocess.run(_command(args, log), env=env, capture_output=True, text=True)
    keys = [record_config_key(r) for r in _trials(log)]
    rows.append(("resume the last", "done" if final.returncode == 0 else "failed",
                 _lines(journal), len(keys), len(keys) - len(set(keys)), 0))
    return rows


def shared(args, work: str) -> dict:
    """Two tuners of one workload, seed and budget into one log at once."""
    log = os.path.join(work, "shared.jsonl")
    env = dict(os.environ, DURABILITY_JOURNAL=os.path.join(work, "shared-journal"))
    processes = [subprocess.Popen(_command(args, log), env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = []
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"a tuning process failed:\n{err}")
        outputs.append(json.loads(out.splitlines()[-1]))
    keys = [record_config_key(r) for r in _trials(log)]
    return {"trials": len(keys), "duplicates": len(keys) - len(set(keys)),
            "measured": [o["measured"] for o in outputs],
            "agree": outputs[0]["best"] == outputs[1]["best"] and
            outputs[0]["time"] == outputs[1]["time"],
            "best_ms": [o["time"] * 1e3 for o in outputs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=32, help="matmul size")
    parser.add_argument("--seed", type=int, default=0, help="of the random kill points")
    parser.add_argument("--random-kills", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    parser.add_argument("--kill-phase", default="", help=argparse.SUPPRESS)
    parser.add_argument("--kill-at", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="bench-durability-") as work:
        rows = kills(args, work)
        print(f"kill -9 of a {args.trials}-trial tuning, batch {args.batch} "
              f"(matmul {args.size}^3), at each point:")
        print(f"{'kill point':<20} {'phase at kill':<14} {'measured':>8} {'logged':>7} "
              f"{'lost':>5} {'in flight':>9}")
        for point, phase, measured, logged, lost, in_flight in rows[:-1]:
            print(f"{point:<20} {phase:<14} {measured:>8} {logged:>7} {lost:>5} "
                  f"{in_flight:>9}")
        point, phase, measured, logged, duplicates, _ = rows[-1]
        print(f"{point:<20} {phase:<14} {measured:>8} {logged:>7}  (configs measured "
              f"twice: {duplicates})")
        worst = max(r[4] for r in rows[:-1])
        print(f"most measured candidates lost by one kill: {worst} (the bound: the "
              f"candidates in flight, 1 while measuring, 0 otherwise)\n")
        two = shared(args, work)
        print(f"two processes, one log, {args.trials} trials each, batch {args.batch}:")
        print(f"  trials in the log {two['trials']}, configs measured twice "
              f"{two['duplicates']}, measured by each {two['measured']}, "
              f"best {['%.4f ms' % t for t in two['best_ms']]}, agree: {two['agree']}")


if __name__ == "__main__":
    main()
