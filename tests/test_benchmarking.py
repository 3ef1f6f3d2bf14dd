"""tensorlang.benchmarking: the process runs again without OpenBLAS's kernel pins (once),
the BLAS report, and the peak kernels' numbers.  The variables are only ever set or
removed in child processes and in dictionaries: never in this process."""
from __future__ import annotations

import platform
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import benchmarking
from tensorlang.benchmarking import (BLAS_PIN_VARIABLES, REEXEC_MARKER, MachinePeaks,
                                     best_blas_environment, blas_report, fma_chain_value,
                                     fma_peak_kernel, measure_fma_peak,
                                     measure_triad_bandwidth, triad_elements, triad_kernel)

REPO = Path(__file__).resolve().parents[1]

CHILD = f"""
import os, sys
sys.path.insert(0, {str(REPO)!r})
def seen():
    return [os.environ.get(name) for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                              "TL_BEST_BLAS_REEXEC")]
print("start", seen(), flush=True)
from tensorlang.benchmarking import ensure_best_blas
ensure_best_blas({{argv}})
print("after", seen(), sys.argv[1:], flush=True)
"""


def pinned_environment(**extra) -> dict:
    import os
    env = {k: v for k, v in os.environ.items() if k != REEXEC_MARKER}
    env.update(OPENBLAS_CORETYPE="Haswell", OPENBLAS_L2_SIZE="1048576", **extra)
    return env


def run_child(tmp_path, argv: str, env: dict, args=()) -> list[str]:
    script = tmp_path / "child.py"
    script.write_text(CHILD.replace("{argv}", argv))
    result = subprocess.run([sys.executable, str(script), *args], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_best_blas_environment_removes_only_the_pins():
    environ = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "1048576", "HOME": "/h"}
    env = best_blas_environment(environ)
    assert env == {"HOME": "/h"}
    assert environ["OPENBLAS_CORETYPE"] == "Haswell"  # a copy
    assert set(BLAS_PIN_VARIABLES) == {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}


def test_best_blas_environment_default_is_a_copy_of_os_environ():
    import os
    env = best_blas_environment()
    assert env is not os.environ
    assert {k: v for k, v in os.environ.items() if k not in BLAS_PIN_VARIABLES} == env


def test_ensure_best_blas_runs_the_script_again_once_without_the_pins(tmp_path):
    lines = run_child(tmp_path, "sys.argv", pinned_environment(), args=["--flag", "x"])
    removed = "OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=1048576"
    assert lines == [
        "start ['Haswell', '1048576', None]",
        f"start [None, None, '{removed}']",
        f"after [None, None, '{removed}'] ['--flag', 'x']",
    ]


def test_ensure_best_blas_default_command_keeps_interpreter_options(tmp_path):
    # python -c CODE: sys.orig_argv[1:] is ['-c', CODE], run again as such
    code = CHILD.replace("{argv}", "")
    result = subprocess.run([sys.executable, "-c", code], env=pinned_environment(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == \
        ["start", "start", "after"]
    assert result.stdout.splitlines()[-1].startswith("after [None, None, ")


def test_the_marker_prevents_a_second_run(tmp_path):
    # pins set again in a process that already ran again: no loop, the pins stay
    lines = run_child(tmp_path, "sys.argv",
                      pinned_environment(TL_BEST_BLAS_REEXEC="OPENBLAS_CORETYPE=Zen"))
    assert lines == ["start ['Haswell', '1048576', 'OPENBLAS_CORETYPE=Zen']",
                     "after ['Haswell', '1048576', 'OPENBLAS_CORETYPE=Zen'] []"]


def test_nothing_happens_without_pins(tmp_path):
    env = {k: v for k, v in best_blas_environment().items() if k != REEXEC_MARKER}
    assert run_child(tmp_path, "sys.argv", env) == ["start [None, None, None]",
                                                    "after [None, None, None] []"]


def fake_threadpoolctl(infos):
    module = types.ModuleType("threadpoolctl")
    module.threadpool_info = lambda: infos
    return module


OPENBLAS = {"user_api": "blas", "internal_api": "openblas", "num_threads": 2,
            "filepath": "/venv/site-packages/numpy.libs/libscipy_openblas64_-1.so",
            "version": "0.3.30", "architecture": "SkylakeX"}


def test_blas_report_names_library_kernel_and_threads(monkeypatch):
    other = dict(OPENBLAS, filepath="/venv/site-packages/scipy.libs/libopenblas.so",
                 architecture="Haswell", version="0.3.21")
    openmp = {"user_api": "openmp", "internal_api": "openmp", "num_threads": 2}
    monkeypatch.setitem(sys.modules, "threadpoolctl",
                        fake_threadpoolctl([openmp, other, OPENBLAS]))
    removed = {REEXEC_MARKER: "OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=1048576"}
    assert blas_report(removed) == ("numpy reference: OpenBLAS 0.3.30, kernel SkylakeX, "
                                    "2 threads (OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset "
                                    "for this process)")
    assert blas_report({}).endswith("(OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE not set)")
    pinned = blas_report({"OPENBLAS_CORETYPE": "Haswell"})
    assert pinned.endswith("(OPENBLAS_CORETYPE=Haswell set in this process: OpenBLAS may "
                           "not run its best kernel for this CPU)")


def test_blas_report_without_a_blas_library(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", fake_threadpoolctl([]))
    assert "no BLAS library found" in blas_report({})


def test_blas_report_without_threadpoolctl(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import raises ImportError
    report = blas_report({})
    assert report.startswith(f"numpy reference: numpy {np.__version__}, BLAS kernel not "
                             f"known (threadpoolctl is not installed")


def test_blas_report_with_the_real_threadpoolctl():
    pytest.importorskip("threadpoolctl")
    report = blas_report()
    assert report.startswith("numpy reference: ") and " thread" in report, report


@pytest.mark.parametrize("threads", [1, 3])
def test_fma_kernel_equals_the_closed_form(threads):
    steps = 1000
    s, (A, Out) = fma_peak_kernel(steps, threads)
    chains, lanes = (int(d.value) for d in A.shape)
    assert [int(d.value) for d in Out.shape] == [threads, chains, lanes]
    mod = tl.build(s, [A, Out], name="fma_peak_test")
    rng = np.random.default_rng(0)
    a = rng.choice(np.float32([1.0, 0.5, -1.0, 0.75, -0.5]), size=(chains, lanes))
    out = np.full((threads, chains, lanes), np.nan, dtype=np.float32)
    mod(a, out)
    expected = fma_chain_value(a, steps)
    np.testing.assert_allclose(out, np.broadcast_to(expected, out.shape), rtol=1e-6,
                               atol=1e-6)
    assert (out[:, a == 1.0] == steps).all()  # exact: integers below 2**24


def test_fma_chain_value():
    np.testing.assert_allclose(fma_chain_value([1.0, 2.0, -1.0, 0.5], 3),
                               [3.0, 14.0, -1.0, 0.875])


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 assembly")
def test_fma_kernel_compiles_to_one_fma_instruction_a_chain():
    s, (A, Out) = fma_peak_kernel(1 << 10, 2)
    asm = tl.build(s, [A, Out], name="fma_peak_asm").get_source("asm")
    assert asm.count("vfmadd") >= int(A.shape[0].value)


@pytest.mark.parametrize("n", [16 * 64, 1000 + 5])
def test_triad_kernel_is_b_times_c_plus_d(n):
    s, tensors = triad_kernel(n)
    mod = tl.build(s, tensors, name="triad_test")
    rng = np.random.default_rng(1)
    b, c, d = (rng.standard_normal(n, dtype=np.float32) for _ in range(3))
    a = np.full(n, np.nan, dtype=np.float32)
    mod(b, c, d, a)
    np.testing.assert_allclose(a, b * c + d, rtol=1e-5, atol=1e-6)


def test_triad_elements_exceed_the_caches():
    n = triad_elements()
    assert n % 4096 == 0 and 256 << 20 <= 16 * n + 16 * 4096 and 16 * n <= 1 << 30
    cache = benchmarking._last_level_cache_bytes()
    if cache is not None:
        assert 16 * n >= min(3 * cache, 1 << 30)


def test_measurements_run_and_print():
    # numbers, not speeds: performance is measured in benchmarks/, never asserted
    assert measure_fma_peak(steps=1 << 10, threads=2, repeat=1) > 0
    assert measure_triad_bandwidth(n=1 << 16, repeat=1) > 0
    text = str(MachinePeaks(fma_gflops=470.4, triad_gbs=50.04, threads=2))
    assert text == ("machine peaks, measured now: float32 FMA 470 GFLOPS on 2 threads, "
                    "triad a = b*c + d 50.0 GB/s")


@pytest.mark.parametrize("as_script", [True, False])
def test_bench_common_runs_again_only_as_a_benchmark_script(tmp_path, as_script):
    # a test that imports a benchmark (tests/cuda/test_bench_cuda.py) keeps its process
    benchmarks = REPO / "benchmarks"
    fake_argv = f"sys.argv = [{str(benchmarks / 'bench_gemm.py')!r}]\n" if as_script else ""
    code = (f"import sys\n{fake_argv}sys.path.insert(0, {str(benchmarks)!r})\n"
            "print('start', flush=True)\nimport bench_common  # noqa\nprint('done')\n")
    result = subprocess.run([sys.executable, "-c", code], env=pinned_environment(),
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["start"] * (2 if as_script else 1) + ["done"]
