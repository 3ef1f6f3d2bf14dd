"""The command line: `tensorlang demo` tunes, checks and times a matmul; `version`."""
from __future__ import annotations

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
