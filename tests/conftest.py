"""Shared pytest configuration: golden-text comparisons for every test area.

``golden(name, text)`` compares ``text`` with ``tests/golden/<name>.txt``.  A missing file
is written (and the test passes); a difference fails with a diff.  After an intended
change of printed IR, refresh the files with ``python -m pytest --update-golden`` and
review the diff of ``tests/golden`` before committing it.

Every test runs with the IR verified after each compiler pass (``verify_passes``).

No test process runs itself again for numpy's best BLAS kernel
(``tensorlang.benchmarking.ensure_best_blas``, which benchmark programs and the
``tensorlang demo`` / ``tune`` commands call): its marker is set here, before any test
runs, in this process and so in every process a test starts.
"""
from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest

from tensorlang.benchmarking import REEXEC_MARKER
from tensorlang.settings import settings

os.environ.setdefault(REEXEC_MARKER, "")

GOLDEN_DIR = Path(__file__).parent / "golden"
_VALID_NAME = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")


@pytest.fixture(autouse=True, scope="session")
def _verify_after_every_pass():
    """A pass that breaks an IR invariant fails the test that ran it."""
    with settings.override(verify_passes=True):
        yield


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/*.txt with the text the tests produce")


def _normalise(text: str) -> str:
    """Text as stored: no trailing spaces, exactly one final newline."""
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    return "\n".join(lines) + "\n"


class GoldenChecker:
    """Callable fixture value: ``golden(name, text)``."""

    def __init__(self, update: bool, directory: Path = GOLDEN_DIR):
        self.update = update
        self.directory = directory

    def path(self, name: str) -> Path:
        if not _VALID_NAME.match(name) or ".." in name.split("/"):
            raise ValueError(f"golden name {name!r} must be a relative path of letters, "
                             f"digits, '_', '-' and '.' (e.g. 'tir/printer_matmul')")
        return self.directory / f"{name}.txt"

    def __call__(self, name: str, text) -> None:
        path = self.path(name)
        actual = _normalise(str(text))
        if self.update or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual)
            return
        expected = path.read_text()
        if expected == actual:
            return
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True),
            fromfile=f"{path} (expected)", tofile="produced by the test"))
        pytest.fail(f"text differs from the golden file {path}:\n{diff}\n"
                    f"If the change is intended, run `python -m pytest --update-golden` and "
                    f"review the diff of tests/golden.", pytrace=False)


@pytest.fixture
def golden(request) -> GoldenChecker:
    """``golden(name, text)``: compare ``text`` with ``tests/golden/<name>.txt``."""
    return GoldenChecker(request.config.getoption("--update-golden"))
