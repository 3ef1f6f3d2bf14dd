"""The ``tensorlang`` command line.

    tensorlang demo [--size N]    build a scheduled float32 matmul, check it against numpy
                                  and print its speed against numpy
    tensorlang tune WORKLOAD [--size N] [--trials T] [--log FILE] [--target llvm]
                                  tune an operator of tensorlang.ops (matmul, conv2d,
                                  softmax, layer_norm, pool2d, batch_matmul, relu) and
                                  print the best schedule as Python
    tensorlang version            print the version
"""
from __future__ import annotations

import argparse
import sys
import time


def _median_seconds(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return samples[len(samples) // 2]


def demo(size: int, repeat: int) -> int:
    """Declare, schedule, build and time a matmul against numpy in one run."""
    import numpy as np

    import tensorlang as tl
    from tensorlang.schedule.recipes import gemm_register_tiled

    n = size
    s, (A, B, C) = gemm_register_tiled(n, n, n)
    print(f"building a {n}x{n}x{n} float32 matmul (register-tiled, vectorized, parallel)...")
    start = time.perf_counter()
    mod = tl.build(s, [A, B, C], target="llvm", name="matmul")
    print(f"  built in {time.perf_counter() - start:.2f} s")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    mod(a, b, c)
    expected = a @ b
    error = float(np.max(np.abs(c - expected)) / np.max(np.abs(expected)))
    print(f"  max relative error against numpy: {error:.2e}")
    if error > 1e-4:
        print("  result differs from numpy", file=sys.stderr)
        return 1
    flops = 2.0 * n ** 3
    t_tl = _median_seconds(lambda: mod(a, b, c), repeat)
    t_np = _median_seconds(lambda: np.matmul(a, b, out=c), repeat)
    print(f"  tensorlang: {flops / t_tl / 1e9:8.1f} GFLOPS  ({t_tl * 1e3:.2f} ms)")
    print(f"  numpy:      {flops / t_np / 1e9:8.1f} GFLOPS  ({t_np * 1e3:.2f} ms)")
    print(f"  speed against numpy: {t_np / t_tl:.2f}x")
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
    p_demo = sub.add_parser("demo", help="build and time a matmul against numpy")
    p_demo.add_argument("--size", type=int, default=1024)
    p_demo.add_argument("--repeat", type=int, default=11)
    p_tune = sub.add_parser("tune", help="tune an operator of tensorlang.ops")
    p_tune.add_argument("workload", help="matmul, conv2d, softmax, layer_norm, pool2d, "
                                         "batch_matmul or relu")
    p_tune.add_argument("--size", type=int, default=None,
                        help="problem size (matmul: N of NxNxN; conv2d: image side)")
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
        return demo(args.size, args.repeat)
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
