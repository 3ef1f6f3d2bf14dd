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
                                  conv1d, attention) and
                                  print the best schedule as Python, with the order of
                                  the module's parameters (the inputs as the operator
                                  declares them, then the output), then, as comments,
                                  its speed against numpy's computation of the same
                                  operator (runs again for numpy's best kernel as demo)
    tensorlang version            print the version

Both print the tuned speed as the tuning's one figure, ``res.best_time`` (the median of
the winner's samples re-timed at the end of tuning), and time numpy the same way now
(``tensorlang.autotune.timing``): as many samples, of calls lasting at least a
millisecond, their median.
"""
from __future__ import annotations

import argparse
import os
import sys

from .benchmarking import ensure_best_blas


def _time_like_tuning(fns, count: int) -> list[float]:
    """Seconds per call of each function, timed the way the tuner times its best
    (``tensorlang.autotune.timing``): ``count`` samples (as many as the tuned figure
    has) of back-to-back calls lasting at least ``MeasureOptions.min_sample_seconds``,
    their median; the functions one after another, each after an idle pause and an
    untimed warm-up (OpenBLAS's threads spin for a while after numpy's calls)."""
    from tensorlang.autotune import MeasureOptions
    from tensorlang.autotune.timing import median, time_samples
    minimum = MeasureOptions().min_sample_seconds
    return [median(time_samples(fn, max(count, 3), minimum)) for fn in fns]


def _speed_line(name: str, seconds: float, flops: float, reference: float | None,
                peak: float | None = None, note: str = "") -> str:
    """A row of the speed tables: time per call as ``print(res)`` writes it, GFLOPS,
    the speed-up over ``reference`` seconds, the fraction of the ``peak`` GFLOPS."""
    from tensorlang.autotune.progress import time_text
    gflops = f"{flops / seconds / 1e9:8.1f}" if flops else f"{'-':>8s}"
    ratio = f"{reference / seconds:8.2f}" if reference else f"{'-':>8s}"
    line = f"  {name:28s} {time_text(seconds):>10s} {gflops} {ratio}"
    if peak:
        line += f" {flops / seconds / 1e9 / peak:8.0%}"
    return line + (f"  {note}" if note else "")


def default_demo_log(size: int) -> str | None:
    """Where ``tensorlang demo`` keeps its tuning log, so a second run resumes: in the
    cache directory, or nowhere (None) when there is none."""
    from tensorlang.target.disk_cache import cache_root
    root = cache_root()
    return None if root is None else os.path.join(root, f"demo_matmul_{size}.jsonl")


def demo(size: int, trials: int, log_file: str | None, verbose: int) -> int:
    """Tune a float32 matmul for this CPU, check it against numpy and print its speed
    (``res.best_time``) beside numpy's, the register-tiled hand schedule's and the classic
    tutorial's final schedule's, timed the same way, and
    the machine's float32 FMA peak and memory bandwidth measured in the same run."""
    import numpy as np

    import tensorlang as tl
    from tensorlang import ops, te
    from tensorlang.benchmarking import blas_report, measure_peaks
    from tensorlang.schedule.recipes import gemm_parallel, gemm_register_tiled

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
    lanes = tl.Target("llvm").float32_lanes
    hand_schedule, hand_args = gemm_register_tiled(n, n, n, lanes=lanes) \
        if n % (4 * lanes) == 0 else (None, None)
    hand = tl.build(hand_schedule, hand_args, name="matmul_hand") if hand_schedule else None
    # the classic tutorial's final schedule (blocks of 32, packed B, write cache, parallel)
    tutorial_schedule, tutorial_args = gemm_parallel(n, n, n) if n % 32 == 0 else (None, None)
    tutorial = tl.build(tutorial_schedule, tutorial_args, name="matmul_tutorial") \
        if tutorial_schedule else None

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    expected = a.astype(np.float64) @ b
    c = np.empty((n, n), dtype=np.float32)
    runs = [("numpy (OpenBLAS)", lambda: np.matmul(a, b, out=c)),
            ("tensorlang, tuned", lambda: tuned(a, b, c))]
    if hand is not None:
        runs.append(("tensorlang, hand schedule", lambda: hand(a, b, c)))
    if tutorial is not None:
        runs.append(("tensorlang, tutorial", lambda: tutorial(a, b, c)))
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
    # the tuned row is the tuning's own figure, res.best_time; the others are timed now
    # the same way
    count = len(result.best_samples)
    others = _time_like_tuning([fn for name, fn in runs if name != "tensorlang, tuned"],
                               count)
    seconds = [others[0], result.best_time] + others[1:]
    flops = 2.0 * n ** 3
    print(f"\n  {'':28s} {'time':>10s} {'GFLOPS':>8s} {'x numpy':>8s} {'of peak':>8s}")
    for (name, _), t in zip(runs, seconds):
        print(_speed_line(name, t, flops, seconds[0], peaks.fma_gflops))
    print(f"\n  tensorlang, tuned: res.best_time ({result.best_measured});\n  the others "
          f"timed now the same way, {max(count, 3)} samples each, their medians")
    return 0


def numpy_comparison(workload: str, result) -> list[str]:
    """Lines comparing the tuned speed of ``workload`` (a name of ``tensorlang tune``)
    with numpy's computation of it timed now the same way (after the line naming numpy's
    BLAS), or saying there is no numpy reference."""
    import numpy as np

    from tensorlang.autotune.op_workloads import numpy_equivalent
    from tensorlang.benchmarking import blas_report
    from tensorlang.te.graph import PlaceholderOp

    equivalent = numpy_equivalent(workload)
    if equivalent is None:
        return [f"no numpy reference: numpy has no equivalent of {workload!r}"]
    if not str(result.target).startswith("llvm"):
        return [f"no numpy reference on {result.target}: numpy runs on the CPU"]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal([int(d.value) for d in t.shape]).astype(str(t.dtype))
              for t in result.params]
    inputs = [a for a, t in zip(arrays, result.params) if isinstance(t.op, PlaceholderOp)]
    out = arrays[-1]
    expected = np.empty_like(out)
    equivalent(*inputs, out=expected)
    result.build()(*arrays)
    scale = float(np.max(np.abs(expected))) or 1.0
    if not np.allclose(out, expected, rtol=1e-3, atol=1e-4 * scale):
        return [f"no numpy reference: numpy's {workload} differs from the tuned module's "
                f"result, so its time says nothing"]
    seconds = _time_like_tuning([lambda: equivalent(*inputs, out=expected)],
                                len(result.best_samples))[0]
    flops = result.flops
    return [blas_report(),
            f"  {'':28s} {'time':>10s} {'GFLOPS':>8s} {'x numpy':>8s}",
            _speed_line("tensorlang, tuned", result.best_time, flops, seconds,
                        note=f"res.best_time: {result.best_measured}"),
            _speed_line(f"numpy ({workload})", seconds, flops, seconds,
                        note=f"timed now the same way, {max(len(result.best_samples), 3)} "
                             f"samples, their median")]


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
    for line in numpy_comparison(args.workload, result):  # comments: the output stays Python
        print(f"# {line}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="tensorlang", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    p_demo = sub.add_parser("demo", help="tune a matmul and time it against numpy")
    p_demo.add_argument("--size", type=int, default=1024)
    p_demo.add_argument("--trials", type=int, default=100)
    p_demo.add_argument("--log", default=None, help="tuning log (default: in the cache "
                                                    "directory, so a second run resumes)")
    p_demo.add_argument("--quiet", action="store_true", help="no progress bar")
    p_tune = sub.add_parser("tune", help="tune an operator of tensorlang.ops")
    p_tune.add_argument("workload", help="matmul, conv2d, softmax, layer_norm, pool2d, "
                                         "batch_matmul, relu, gemv, conv1d or attention")
    p_tune.add_argument("--size", type=int, default=None,
                        help="problem size (matmul: N of NxNxN; conv2d: image side; "
                             "gemv: N of an NxN matrix; conv1d: sequence length; "
                             "attention: tokens of 8 heads of 64)")
    p_tune.add_argument("--trials", type=int, default=200)
    p_tune.add_argument("--log", default=None, help="JSON-lines tuning log to resume")
    p_tune.add_argument("--target", default="llvm")
    p_tune.add_argument("--seed", type=int, default=0)
    p_tune.add_argument("--batch-size", type=int, default=32)
    p_tune.add_argument("--early-stopping", type=int, default=None)
    p_tune.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("version", help="print the version")
    args = parser.parse_args(argv)
    if args.command in ("demo", "tune") and argv is None:
        # the command line, not a call from Python: numpy at its best
        ensure_best_blas()
    if args.command == "demo":
        return demo(args.size, args.trials, args.log, 0 if args.quiet else 1)
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
