"""Run every benchmark in sequence, each in its own process (so one's threads and
memory do not disturb the next), and print their tables.

    python benchmarks/run_all.py [--quick]

``--quick`` uses small sizes: a smoke test of the scripts, not figures to quote.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

#: script -> (arguments for a full run, arguments for a quick run)
BENCHMARKS = {
    "bench_gemm.py": ([], ["--size", "256", "--repeat", "3"]),
    "bench_elementwise.py": ([], ["--size", "1048576", "--repeat", "3"]),
    "bench_softmax.py": ([], ["--rows", "256", "--repeat", "3"]),
    "bench_conv2d.py": ([], ["--channels", "16", "--size", "28", "--repeat", "3"]),
    "bench_build.py": ([], ["--repeat", "3"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--only", default="", help="comma-separated script names to run")
    args = parser.parse_args()
    selected = [name for name in BENCHMARKS
                if not args.only or name in args.only.split(",")]
    failures = []
    for name in selected:
        full, quick = BENCHMARKS[name]
        command = [sys.executable, os.path.join(HERE, name), *(quick if args.quick else full)]
        print(f"\n## {name}", flush=True)
        start = time.perf_counter()
        result = subprocess.run(command, cwd=HERE)
        print(f"({name} took {time.perf_counter() - start:.0f} s)", flush=True)
        if result.returncode:
            failures.append(name)
    if failures:
        print(f"\nfailed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
