"""Damage a compile cache entry (or, with ``--library``, an exported library) in many
ways and use it after each: run by the tests in a child process, so that compiled code
crashing on a damaged file ends the child (whose last output line names the case), not
the test run.

Each cache case starts from the good entry, damages it, builds the function again and
prints one JSON line: whether the module computed the right result and had its IR,
whether a CacheWarning named the entry's file, and whether the entry was replaced by a
good one.  Each library case prints whether ``load_module`` refused the damaged copy
with a TensorLangValueError naming it.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tensorlang.errors import TensorLangValueError  # noqa: E402
from tensorlang.target.llvm import build, load_module  # noqa: E402

from llvm_testing import saxpy  # noqa: E402


def check(mod):
    """Raise unless ``mod`` is a correct saxpy with its LLVM IR."""
    x = np.linspace(-3, 3, 1000, dtype="float32")
    y = np.linspace(1, 2, 1000, dtype="float32")
    out = np.zeros(1000, "float32")
    mod(x, y, out, 2.5)
    np.testing.assert_allclose(out, np.float32(2.5) * x + y, rtol=1e-6)
    assert "define i32 @saxpy" in mod.get_source("ll")


def only_entry(root):
    entries = [os.path.join(d, n) for d, _, files in os.walk(root) for n in files]
    assert len(entries) == 1, entries
    return entries[0]


def damages(good: bytes, seed: int, flips: int):
    """(description, damaged bytes): random single-bit flips anywhere, flips in the
    first 64 bytes (magic, checksum, sizes) and the last 256 (the IR), truncations, a
    zeroed tail, an extra byte."""
    rng = random.Random(seed)
    bits = [rng.randrange(8 * len(good)) for _ in range(flips)]
    bits += [rng.randrange(8 * 64) for _ in range(4)]
    bits += [8 * len(good) - 1 - rng.randrange(8 * 256) for _ in range(4)]
    for bit in bits:
        data = bytearray(good)
        data[bit // 8] ^= 1 << (bit % 8)
        yield f"flip bit {bit}", bytes(data)
    for length in sorted({0, 7, 30, 60, len(good) // 3, len(good) // 2, len(good) - 1}):
        yield f"truncate to {length} bytes", good[:length]
    yield "zero the last 32 bytes", good[:-32] + bytes(32)
    yield "append a byte", good + b"\0"


def damaged_libraries(directory: str, args) -> None:
    good_path = os.path.join(directory, "good.so")
    build(saxpy(), "llvm", use_cache=False).export_library(good_path)
    check(load_module(good_path))
    with open(good_path, "rb") as f:
        good = f.read()
    for index, (name, data) in enumerate(damages(good, args.seed, args.flips)):
        if args.only is not None and index != args.only:
            continue
        print(json.dumps({"start": name}), flush=True)
        path = os.path.join(directory, f"damaged{index}.so")
        with open(path, "wb") as f:
            f.write(data)
        result = {"case": name}
        try:
            check(load_module(path))
            result["refused"] = False
        except TensorLangValueError as error:
            result["refused"] = path in str(error)
            result["error"] = str(error)[:300]
        except Exception as error:  # noqa: BLE001 - reported, the next case runs
            result["refused"] = False
            result["error"] = f"{type(error).__name__}: {error}"[:300]
        print(json.dumps(result), flush=True)


def run(args: list, env: dict) -> list:
    """Run this file as a child with ``args`` (a crash kills only the child) and return
    the result of each damaged case; fails if the child died, naming its last case."""
    child = subprocess.run([sys.executable, os.path.abspath(__file__), *args],
                           capture_output=True, text=True, env=env, cwd=os.getcwd(),
                           timeout=300)
    lines = [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]
    assert child.returncode == 0, (f"the child died (status {child.returncode}) in case "
                                   f"{lines[-1] if lines else None}:\n{child.stderr[-2000:]}")
    return [line for line in lines if "case" in line]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--flips", type=int, default=40)
    parser.add_argument("--only", type=int, default=None, help="run just this case")
    parser.add_argument("--library", default=None,
                        help="damage an exported library in this directory instead")
    args = parser.parse_args()
    if args.library:
        damaged_libraries(args.library, args)
        return
    check(build(saxpy(), "llvm"))
    path = only_entry(os.environ["TL_CACHE_DIR"])
    with open(path, "rb") as f:
        good = f.read()
    for index, (name, data) in enumerate(damages(good, args.seed, args.flips)):
        if args.only is not None and index != args.only:
            continue
        print(json.dumps({"start": name}), flush=True)
        with open(path, "wb") as f:
            f.write(data)
        result = {"case": name}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                check(build(saxpy(), "llvm"))
                result["ok"] = True
            except Exception as error:  # noqa: BLE001 - reported, the next case runs
                result["ok"] = False
                result["error"] = f"{type(error).__name__}: {error}"[:300]
        # by name, so that the script also reports on code without the class
        result["warned"] = any(type(w.message).__name__ == "CacheWarning" and
                               path in str(w.message) for w in caught)
        with open(path, "rb") as f:
            result["replaced"] = f.read() == good
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
