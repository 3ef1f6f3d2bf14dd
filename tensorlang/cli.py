"""The ``tensorlang`` command line.

    tensorlang demo [--size N] [--trials T]
                                  tune a float32 matmul for this CPU, check it against
                                  numpy and print its speed against numpy's (its BLAS's
                                  own kernel: the command runs again without
                                  OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE if either is set)
                                  and against the machine's FMA peak, measured in the run
    tensorlang tune WORKLOAD [--size N] [--trials T] [--log FILE] [--target llvm]
                                  tune an operator of tensorlang.ops (matmul, conv2d,
                                  softmax, layer_norm, pool2d, batch_matmul, relu, gemv,
                                  conv1d) and
                                  print the best schedule as Python, with the order of
                                  the module's parameters (the inputs as the operator
                                  declares them, then the output)
    tensorlang version            print the version
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from .benchmarking import ensure_best_blas


def _block_medians(fns, repeat: int, rounds: int = 5) -> list[float]:
    """Median seconds per call of each function, timed in alternating blocks of
    ``repeat`` calls so all see the same machine.  Before a block the process idles a
    moment (OpenBLAS's threads keep spinning on the cores for tens of milliseconds after
    each numpy call), then calls the function untimed for 0.1 s (threads woken from an
    idle pause run slower for a while)."""
    samples = [[] for _ in fns]
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            time.sleep(0.15)
            fn()
            warm_until = time.perf_counter() + 0.1
            while time.perf_counter() < warm_until:
                fn()
            for _ in range(repeat):
                start = time.perf_counter()
                fn()
                samples[k].append(time.perf_counter() - start)
    return [sorted(s)[len(s) // 2] for s in samples]


def default_demo_log(size: int) -> str | None:
    """Where ``tensorlang demo`` keeps its tuning log, so a second run resumes: in the
    cache directory, or nowhere (None) when there is none."""
    from tensorlang.target.disk_cache import cache_root
    root = cache_root()
    return None if root is None else os.path.join(root, f"demo_matmul_{size}.jsonl")


def demo(size: int, trials: int, log_file: str | None, repeat: int, verbose: int) -> int:
    """Tune a float32 matmul for this CPU, check it against numpy and time both, beside
    the machine's float32 FMA peak and memory bandwidth measured in the same run."""
    import numpy as np

    import tensorlang as tl
    from tensorlang import ops, te
    from tensorlang.benchmarking import blas_report, measure_peaks
    from tensorlang.schedule.recipes import gemm_register_tiled

    print(blas_report())
    n = size
    log_file = log_file or default_demo_log(n)
    if log_file is not None:
        os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
    A = te.placeholder((n, n), name="A")
    B = te.placeholder((n, n), name="B")
    C = ops.matmul(A, B)
    print(f"tuning a {n}x{n}x{n} float32 matmul for this CPU: {trials} trials "
          + (f"(log: {log_file}; a second run resumes from it)" if log_file else
             "(no log: give --log FILE to keep the measurements)"))
    result = tl.autotune(C, target="llvm", trials=trials, log_file=log_file, verbose=verbose)
    if result.best_record is None:
        print("no candidate ran correctly; see the errors in the log", file=sys.stderr)
        return 1
    print(f"  {result.measured_now} candidates measured now, {result.num_trials} in the log")
    tuned = result.build()
    hand_schedule, hand_args = gemm_register_tiled(n, n, n) if n % 64 == 0 else (None, None)
    hand = tl.build(hand_schedule, hand_args, name="matmul_hand") if hand_schedule else None

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    expected = a.astype(np.float64) @ b
    c = np.empty((n, n), dtype=np.float32)
    runs = [("numpy (OpenBLAS)", lambda: np.matmul(a, b, out=c)),
            ("tensorlang, tuned", lambda: tuned(a, b, c))]
    if hand is not None:
        runs.append(("tensorlang, hand schedule", lambda: hand(a, b, c)))
    for name, fn in runs[1:]:
        c.fill(np.nan)
        fn()
        error = float(np.max(np.abs(c - expected)) / np.max(np.abs(expected)))
        if not error <= 1e-5:
            print(f"  {name}: result differs from numpy (max relative error {error:.1e})",
                  file=sys.stderr)
            return 1
    peaks = measure_peaks()
    print(peaks)
    seconds = _block_medians([fn for _, fn in runs], repeat)
    flops = 2.0 * n ** 3
    print(f"\n  {'':28s} {'ms':>8s} {'GFLOPS':>8s} {'x numpy':>8s} {'of peak':>8s}")
    for (name, _), t in zip(runs, seconds):
        gflops = flops / t / 1e9
        print(f"  {name:28s} {t * 1e3:8.2f} {gflops:8.1f} {seconds[0] / t:8.2f} "
              f"{gflops / peaks.fma_gflops:8.0%}")
    return 0


def tune(args) -> int:
    """Tune a named workload; resumable through ``--log``."""
    import tensorlang as tl
    from tensorlang.autotune.op_workloads import make_workload
    from tensorlang.errors import TensorLangError
    try:
        outputs = make_workload(args.workload, args.size)
        result = tl.autotune(outputs, target=args.target, trials=args.trials,
                             log_file=args.log, verbose=0 if args.quiet else 1,
                             seed=args.seed, batch_size=args.batch_size,
                             early_stopping=args.early_stopping)
    except TensorLangError as error:
        print(f"tensorlang tune: {error}", file=sys.stderr)
        return 2
    if args.quiet:
        print(result)
    if result.best_record is None:
        return 1
    print(f"# {result.measured_now} measured in this run, {result.num_trials} in all; "
          f"failures: {dict(result.errors) or 'none'}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="tensorlang", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    p_demo = sub.add_parser("demo", help="tune a matmul and time it against numpy")
    p_demo.add_argument("--size", type=int, default=1024)
    p_demo.add_argument("--trials", type=int, default=100)
    p_demo.add_argument("--log", default=None, help="tuning log (default: in the cache "
                                                    "directory, so a second run resumes)")
    p_demo.add_argument("--repeat", type=int, default=21)
    p_demo.add_argument("--quiet", action="store_true", help="no progress bar")
    p_tune = sub.add_parser("tune", help="tune an operator of tensorlang.ops")
    p_tune.add_argument("workload", help="matmul, conv2d, softmax, layer_norm, pool2d, "
                                         "batch_matmul, relu, gemv or conv1d")
    p_tune.add_argument("--size", type=int, default=None,
                        help="problem size (matmul: N of NxNxN; conv2d: image side; "
                             "gemv: N of an NxN matrix; conv1d: sequence length)")
    p_tune.add_argument("--trials", type=int, default=200)
    p_tune.add_argument("--log", default=None, help="JSON-lines tuning log to resume")
    p_tune.add_argument("--target", default="llvm")
    p_tune.add_argument("--seed", type=int, default=0)
    p_tune.add_argument("--batch-size", type=int, default=32)
    p_tune.add_argument("--early-stopping", type=int, default=None)
    p_tune.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("version", help="print the version")
    args = parser.parse_args(argv)
    if args.command == "demo":
        if argv is None:  # the command line, not a call from Python: numpy at its best
            ensure_best_blas()
        return demo(args.size, args.trials, args.log, args.repeat, 0 if args.quiet else 1)
    if args.command == "tune":
        return tune(args)
    if args.command == "version":
        import tensorlang
        print(tensorlang.__version__)
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
