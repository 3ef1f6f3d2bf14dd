"""Integrity of the on-disk compile cache: damaged entries are found and rebuilt, never
run; the key covers everything that shapes the code."""
import json
import os
import subprocess
import sys
import threading
import warnings

import pytest

from tensorlang.target import disk_cache
from tensorlang.target.disk_cache import CacheWarning
from tensorlang.target.llvm import build, cache

from damage_child import check as _check, only_entry as _entry, run as run_damage_child
from llvm_testing import saxpy as _saxpy


def test_damaged_entries_are_rebuilt_never_run(tmp_path):
    """40 random single-bit flips, truncations, a zeroed IR blob and an extra byte: every
    next build warns, naming the entry, compiles again, computes the right result and
    replaces the entry."""
    env = dict(os.environ, TL_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=os.getcwd())
    results = run_damage_child(["--seed", "1234", "--flips", "40"], env)
    assert len(results) >= 45
    bad = [r for r in results if not (r["ok"] and r["warned"] and r["replaced"])]
    assert not bad, f"{len(bad)} of {len(results)} damaged entries were mishandled: {bad[:5]}"


# -- headers that pass the checksum but lack a field or hold one of the wrong type ------

def _wrong_type(value):
    if isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return 7
    if isinstance(value, list):
        return {"0": value}
    return [value]


def _paths(node, prefix=()):
    """Every (path, value) of a JSON tree below its root."""
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, value in items:
        yield prefix + (key,), value
        yield from _paths(value, prefix + (key,))


def _edited(header, path, delete):
    header = json.loads(json.dumps(header))
    parent = header
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = _wrong_type(parent[path[-1]])
    return header


def test_checksummed_headers_are_validated_field_by_field(tmp_path, monkeypatch):
    """Rewrite the entry with a valid checksum but one header field removed or of the
    wrong type (every field, at every depth): loading it warns and misses (a miss
    compiles again, as the fuzz test above checks)."""
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path))
    _check(build(_saxpy(), "llvm"))
    path = _entry(tmp_path)
    good = open(path, "rb").read()
    header, (object_code, ir_blob) = disk_cache.unpack_entry(good, cache._MAGIC, 2)
    key = os.path.basename(path)[:-len(".tlo")]
    edits = [(p, True) for p, _ in _paths(header) if isinstance(p[-1], str)]
    edits += [(p, False) for p, _ in _paths(header)]
    assert len(edits) > 40
    missed = []
    for edit_path, delete in edits:
        edited = _edited(header, edit_path, delete)
        with open(path, "wb") as f:
            f.write(disk_cache.pack_entry(cache._MAGIC, edited, [object_code, ir_blob]))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            entry = cache.load(key)
        if entry is not None or not any(
                issubclass(w.category, CacheWarning) and path in str(w.message) and
                "damaged" in str(w.message) for w in caught):
            missed.append(("delete" if delete else "retype", edit_path))
    assert missed == []
    with pytest.warns(CacheWarning, match="damaged"):
        _check(build(_saxpy(), "llvm"))
    assert open(path, "rb").read() == good
    # an entry renamed to another key is another function's code
    other = "f" * 64
    os.makedirs(os.path.join(tmp_path, "llvm", "ff"))
    with open(os.path.join(tmp_path, "llvm", "ff", other + ".tlo"), "wb") as f:
        f.write(good)
    with pytest.warns(CacheWarning, match="another function"):
        assert cache.load(other) is None
    # a checksummed entry whose IR blob is not zlib
    with open(path, "wb") as f:
        f.write(disk_cache.pack_entry(cache._MAGIC, header, [object_code, b"not zlib"]))
    with pytest.warns(CacheWarning, match="IR does not decompress"):
        _check(build(_saxpy(), "llvm"))


def test_concurrent_writers_and_readers_never_see_half_an_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path))
    key = "ab" * 32
    payloads = [(bytes([k]) * 300_000, {"signature": {"symbol": f"f{k}", "params": [],
                 "slots": [], "buffer_names": []}}, "x" * 50_000) for k in range(4)]
    stop = threading.Event()
    errors = []

    def write(k):
        while not stop.is_set():
            cache.store(key, *payloads[k])

    def read():
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheWarning)
            for _ in range(300):
                try:
                    entry = cache.load(key)
                except CacheWarning as warning:
                    errors.append(str(warning))
                    continue
                if entry is not None:
                    k = entry[0][0]
                    if entry[0] != payloads[k][0] or entry[2] != payloads[k][2]:
                        errors.append("mixed entry")
    writers = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for thread in writers:
        thread.start()
    try:
        read()
    finally:
        stop.set()
        for thread in writers:
            thread.join()
    assert errors == []
    assert not [n for _, _, files in os.walk(tmp_path) for n in files if n.startswith(".tmp")]


# -- the key -------------------------------------------------------------------------

def test_key_covers_every_code_shaping_module(tmp_path):
    """Editing any module but the autotuner and the command line changes the key."""
    import tensorlang
    package = os.path.dirname(tensorlang.__file__)
    copy = tmp_path / "tensorlang"
    import shutil
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    base = cache.source_digest(str(copy))
    for relative in ["tir/transform/simplify.py", "schedule/lower.py", "te/operation.py",
                     "driver.py", "target/llvm/codegen.py", "tir/expr.py"]:
        with open(copy / relative, "a") as f:
            f.write("\n# edited\n")
        changed = cache.source_digest(str(copy))
        assert changed != base, relative
        base = changed
    for relative in ["autotune/tuner.py", "cli.py"]:
        with open(copy / relative, "a") as f:
            f.write("\n# edited\n")
        assert cache.source_digest(str(copy)) == base, relative
    (copy / "tir" / "new_pass.py").write_text("x = 1\n")
    assert cache.source_digest(str(copy)) != base


def test_key_covers_target_and_every_build_option():
    from tensorlang.target import Target
    from tensorlang.target.llvm.build import BuildOptions
    host = Target("llvm")
    assert host.triple in host.cache_key() and host.mcpu in host.cache_key()
    assert Target("llvm -mcpu=x86-64").cache_key() != host.cache_key()
    keys = {BuildOptions().key(), BuildOptions(bounds_check=True).key(),
            BuildOptions(opt_level=2).key()}
    assert len(keys) == 3
    assert BuildOptions(use_cache=False).key() == BuildOptions().key()


def test_temporary_files_of_a_killed_writer_are_removed_by_the_next(tmp_path):
    """A writer killed between writing and renaming leaves its ``.tmp-<pid>-`` file; the
    next process that writes into the directory removes it, and only it."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = tmp_path / f".tmp-{dead.stdout.strip()}-abc.tlo"
    stale.write_bytes(b"half an entry")
    live = tmp_path / f".tmp-{os.getpid()}-def.tlo"   # a write in flight in this process
    live.write_bytes(b"being written")
    other = tmp_path / "entry.tlo"
    assert disk_cache.write_entry(str(other), b"payload")
    assert not stale.exists()
    assert live.exists() and other.read_bytes() == b"payload"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])


def test_an_entry_with_shape_expressions_is_read_back(tmp_path, monkeypatch):
    """A function whose buffer shapes are expressions of a symbolic size (``n - 2``) is
    loaded from the cache by the next build, with no warning: every variable of the
    stored signature is named, nested ones included."""
    import numpy as np

    import tensorlang as tl
    from tensorlang import te
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path))
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute((n - 2,), lambda i: A[i] + A[i + 2], name="B")
    s = tl.create_schedule(B.op)
    tl.build(s, [A, B])
    assert _entry(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        mod = tl.build(tl.create_schedule(B.op), [A, B])
    a = np.arange(9, dtype="float32")
    b = np.zeros(7, dtype="float32")
    mod(a, b)
    np.testing.assert_array_equal(b, a[:-2] + a[2:])
