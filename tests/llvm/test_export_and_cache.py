"""Shared-library export and loading, and the on-disk compile cache."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tensorlang.target as target_pkg
from tensorlang.errors import TensorLangValueError
from tensorlang.target.disk_cache import CacheWarning
from tensorlang.target.llvm import build, cache, load_module
from tensorlang.target.llvm import codegen as codegen_module

from damage_child import run as run_damage_child
from llvm_testing import saxpy as _saxpy


def _args(n=100):
    rng = np.random.default_rng(0)
    return rng.random(n).astype("float32"), rng.random(n).astype("float32"), \
        np.zeros(n, "float32"), 2.5


def test_export_and_load_roundtrip(tmp_path):
    mod = build(_saxpy(), "llvm", use_cache=False)
    path = tmp_path / "saxpy.so"
    mod.export_library(str(path))
    loaded = target_pkg.load_module(str(path))
    x, y, out, alpha = _args()
    loaded(x, y, out, alpha)
    np.testing.assert_allclose(out, alpha * x + y, rtol=1e-6)
    # the argument checks and the sources travel with the library
    with pytest.raises(ValueError, match="argument 'Y'"):
        loaded(x, y[:5], out, alpha)
    assert "define i32 @saxpy" in loaded.get_source("ll")
    assert "saxpy:" in loaded.get_source("asm")


def test_exported_library_loads_in_a_fresh_process(tmp_path):
    path = tmp_path / "fresh.so"
    build(_saxpy(), "llvm", use_cache=False).export_library(str(path))
    script = textwrap.dedent(f"""
        import numpy as np
        from tensorlang.target.llvm import load_module
        mod = load_module({str(path)!r})
        x = np.arange(1000, dtype="float32"); out = np.zeros(1000, "float32")
        mod(x, x, out, 3.0)
        assert np.array_equal(out, 4 * x), out[:4]
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, cwd=os.getcwd())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_load_module_errors(tmp_path):
    with pytest.raises(TensorLangValueError, match="no file"):
        load_module(str(tmp_path / "missing.so"))
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"not a library")
    with pytest.raises(TensorLangValueError, match="not written by export_library"):
        load_module(str(junk))


def test_cache_hit_skips_code_generation(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path))
    first = build(_saxpy(), "llvm")
    entries = [name for _, _, files in os.walk(tmp_path) for name in files]
    assert len(entries) == 1 and entries[0].endswith(".tlo")

    def fail(*args, **kwargs):
        raise AssertionError("code generation ran despite a cached entry")
    monkeypatch.setattr(codegen_module.CodeGenLLVM, "generate", fail)
    second = build(_saxpy(), "llvm")  # a structurally equal, separately built function
    x, y, out, alpha = _args()
    second(x, y, out, alpha)
    np.testing.assert_allclose(out, alpha * x + y, rtol=1e-6)
    assert second.get_source("ll") == first.get_source("ll")
    # different options are a different entry
    with pytest.raises(AssertionError, match="code generation ran"):
        build(_saxpy(), "llvm", bounds_check=True)


def test_damaged_cache_entries_are_misses(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path))
    build(_saxpy(), "llvm")
    for root, _, files in os.walk(tmp_path):
        for name in files:
            with open(os.path.join(root, name), "r+b") as f:
                f.truncate(40)
    with pytest.warns(CacheWarning, match="damaged"):
        mod = build(_saxpy(), "llvm")
    x, y, out, alpha = _args()
    mod(x, y, out, alpha)
    np.testing.assert_allclose(out, alpha * x + y, rtol=1e-6)
    assert cache.load("0" * 64) is None


def test_concurrent_processes_share_the_cache(tmp_path):
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, "tests/llvm")
        import numpy as np
        from llvm_testing import buffer, func, loop, store
        from tensorlang import tir
        from tensorlang.target.llvm import build
        A, Out = buffer("A", (64,)), buffer("Out", (64,))
        i = tir.var("i")
        mod = build(func("shared", [A, Out], loop(i, 64, store(Out, A[i] + 1.0, i))), "llvm")
        a = np.arange(64, dtype="float32"); out = np.zeros(64, "float32")
        mod(a, out)
        assert np.array_equal(out, a + 1)
    """)
    env = dict(os.environ, TL_CACHE_DIR=str(tmp_path), PYTHONPATH=os.getcwd())
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, cwd=os.getcwd(),
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    entries = [n for _, _, files in os.walk(tmp_path) for n in files]
    assert len(entries) == 1 and not entries[0].startswith(".tmp")


def test_damaged_libraries_are_refused_before_loading(tmp_path):
    """40 random single-bit flips, truncations, a zeroed tail and an extra byte of an
    exported library: load_module refuses each copy with an error naming it, before
    the dynamic loader or compiled code sees it (in a child process, so that a crash
    is reported as such)."""
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    results = run_damage_child(["--seed", "99", "--flips", "40", "--library", str(tmp_path)],
                               env)
    assert len(results) >= 45
    bad = [r for r in results if not r["refused"]]
    assert not bad, f"{len(bad)} of {len(results)} damaged libraries were not refused: " \
                    f"{bad[:5]}"
