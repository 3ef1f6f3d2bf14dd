"""The command line: `tensorlang demo` tunes, checks and times a matmul; `tensorlang tune`
tunes an operator and prints its speed against numpy's; `version`.  Both print the tuning's
one figure, ``res.best_time``."""
from __future__ import annotations

import os
import re
import sys

import pytest

import tensorlang
import tensorlang.autotune as autotune_package
from tensorlang.autotune import RecordLog, op_workloads
from tensorlang.autotune.progress import time_text
from tensorlang.benchmarking import REEXEC_MARKER
from tensorlang.cli import main


@pytest.fixture
def results(monkeypatch):
    """The TuneResults of the tunings the command runs."""
    found = []
    real = autotune_package.autotune

    def spy(*args, **kwargs):
        found.append(real(*args, **kwargs))
        return found[-1]

    monkeypatch.setattr(autotune_package, "autotune", spy)
    return found


def row(out: str, name: str) -> list[str]:
    """The cells of the table row ``name`` (time as two cells: number and unit)."""
    line = next(line for line in out.splitlines() if line.lstrip("# ").startswith(name))
    return line.lstrip("# ")[len(name):].split()


def test_demo_tunes_checks_and_compares_with_numpy(tmp_path, capsys, results):
    log = tmp_path / "demo.jsonl"
    args = ["demo", "--size", "64", "--trials", "4", "--log", str(log), "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "numpy (OpenBLAS)" in out and "tensorlang, tuned" in out
    assert out.startswith("numpy reference: ")  # the BLAS kernel, named before anything
    assert "\nmachine peaks, measured now: float32 FMA " in out and "of peak" in out
    assert "4 candidates measured now, 4 in the log" in out
    # the tuned row is the tuning's own figure, and says how it was measured
    res = results[-1]
    tuned = row(out, "tensorlang, tuned")
    assert " ".join(tuned[:2]) == time_text(res.best_time)
    assert tuned[2] == f"{res.best_gflops:.1f}"
    assert f"tensorlang, tuned: res.best_time ({res.best_measured})" in out
    assert res.best_time == RecordLog(log).best(res.workload_key, "llvm").median_cost
    lines = log.read_text().splitlines()
    assert RecordLog(log).count() == 4 and len(lines) >= 4  # and the closing round
    # a second run resumes: nothing left to measure, no round to repeat, the same figure
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "0 candidates measured now, 4 in the log" in out
    assert log.read_text().splitlines() == lines
    assert results[-1].best_time == res.best_time
    assert " ".join(row(out, "tensorlang, tuned")[:2]) == time_text(res.best_time)


def test_tune_prints_the_speed_against_numpy(tmp_path, capsys, results):
    log = tmp_path / "matmul.jsonl"
    assert main(["tune", "matmul", "--size", "32", "--trials", "3", "--batch-size", "3",
                 "--log", str(log)]) == 0
    out = capsys.readouterr().out
    res = results[-1]
    lines = out.splitlines()
    # print(res) and the table tell one figure
    assert lines[0].startswith("T_matmul on llvm: ") and res.best_text in lines[0]
    assert "\n# numpy reference: " in out  # the BLAS kernel numpy ran
    tuned, numpy = row(out, "tensorlang, tuned"), row(out, "numpy (matmul)")
    assert " ".join(tuned[:2]) == time_text(res.best_time)
    assert tuned[2] == f"{res.best_gflops:.1f}" and numpy[3] == "1.00"
    numpy_seconds = 2 * 32 ** 3 / float(numpy[2]) / 1e9
    assert float(tuned[3]) == pytest.approx(numpy_seconds / res.best_time, rel=0.05)
    assert f"res.best_time: {res.best_measured}" in out
    # every line after the schedule is a comment: the output stays Python
    code = out[out.index("s = tl.create_schedule"):]
    compile(code, "tuned.py", "exec")


def test_tune_says_when_numpy_has_no_equivalent(tmp_path, capsys, monkeypatch):
    monkeypatch.delitem(op_workloads._NUMPY, "relu")
    assert main(["tune", "relu", "--size", "16", "--trials", "2", "--batch-size", "2",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "# no numpy reference: numpy has no equivalent of 'relu'" in out
    assert "numpy reference: OpenBLAS" not in out


def test_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == tensorlang.__version__


def test_demo_and_tune_run_again_for_numpys_best_kernel(monkeypatch):
    import tensorlang.cli as cli

    class RanAgain(Exception):
        pass

    def ensure_best_blas():
        raise RanAgain

    monkeypatch.setattr(cli, "ensure_best_blas", ensure_best_blas)
    for command in (["demo", "--trials", "1"], ["tune", "relu", "--trials", "1"]):
        monkeypatch.setattr(sys, "argv", ["tensorlang", *command])
        with pytest.raises(RanAgain):  # from the command line: first thing it does
            main()
    monkeypatch.setattr(sys, "argv", ["tensorlang", "version"])
    assert main() == 0


def test_no_test_process_runs_again(monkeypatch):
    # the test suite sets the marker, so benchmark code called by a test never replaces
    # the test process (nor a process a test starts), even with the pins set
    assert REEXEC_MARKER in os.environ
    from tensorlang.benchmarking import ensure_best_blas
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    ensure_best_blas(["-c", "raise SystemExit(3)"])  # returns: nothing runs again
    assert re.search("OPENBLAS_CORETYPE=Haswell set in this process",
                     tensorlang.benchmarking.blas_report())
