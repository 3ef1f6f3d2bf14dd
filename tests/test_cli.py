"""The command line: `tensorlang demo` tunes, checks and times a matmul; `version`."""
from __future__ import annotations

import sys

import pytest

import tensorlang
from tensorlang.autotune import RecordLog
from tensorlang.cli import main


def test_demo_tunes_checks_and_compares_with_numpy(tmp_path, capsys):
    log = tmp_path / "demo.jsonl"
    args = ["demo", "--size", "64", "--trials", "4", "--log", str(log), "--quiet",
            "--repeat", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "numpy (OpenBLAS)" in out and "tensorlang, tuned" in out
    assert out.startswith("numpy reference: ")  # the BLAS kernel, named before anything
    assert "\nmachine peaks, measured now: float32 FMA " in out and "of peak" in out
    assert "4 candidates measured now, 4 in the log" in out
    lines = log.read_text().splitlines()
    assert RecordLog(log).count() == 4 and len(lines) >= 4  # and the closing round
    # a second run resumes: nothing left to measure, no round to repeat
    assert main(args) == 0
    assert "0 candidates measured now, 4 in the log" in capsys.readouterr().out
    assert log.read_text().splitlines() == lines


def test_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == tensorlang.__version__


def test_only_the_demo_command_runs_again_for_numpys_best_kernel(monkeypatch):
    import tensorlang.cli as cli

    class RanAgain(Exception):
        pass

    def ensure_best_blas():
        raise RanAgain

    monkeypatch.setattr(cli, "ensure_best_blas", ensure_best_blas)
    monkeypatch.setattr(sys, "argv", ["tensorlang", "demo", "--trials", "1"])
    with pytest.raises(RanAgain):  # from the command line: first thing it does
        main()
    monkeypatch.setattr(sys, "argv", ["tensorlang", "version"])
    assert main() == 0
