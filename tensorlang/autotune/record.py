"""Tuning records: one JSON line per measured candidate, appended to a log that survives
crashes, and the workload key that names what was tuned.

A record is a *trial* (a candidate measured once by the search; ``trials`` budgets these)
or a *re-timing*: at the end of tuning the fastest few candidates as first measured are
timed again side by side, in turns, as one numbered *round*.  The fastest of the latest
round is the best (:func:`select_best`): the lowest of hundreds of noisy first
measurements flatters its candidate, and a round corrects that.

A log is append-only.  Each record is written with a single ``write`` on a descriptor
opened with ``O_APPEND`` and then ``fsync``-ed, so several processes may append to one log
and a reader only ever sees whole lines, except for a line torn by a crash (power loss,
``kill -9`` in the middle of a write), which :meth:`RecordLog.load` skips with a warning.

>>> log = RecordLog("matmul.jsonl")
>>> log.append(TuningRecord(key, {"name": "matmul"}, "llvm", steps, costs=[1.2e-3]))
>>> log.best(key, "llvm").config
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from ..errors import TensorLangValueError
from .workload import canonical_te_text, workload_description, workload_key  # noqa: F401

#: format version written into every record
RECORD_VERSION = 1
#: the kinds of failure a record can carry (None: the candidate ran and was correct)
ERROR_KINDS = (None, "build_error", "runtime_error", "timeout", "wrong_result", "crash")
#: what a record is: a search trial, or a candidate re-timed beside others in a round
RECORD_KINDS = ("trial", "retime")


class RecordWarning(UserWarning):
    """A line of a tuning log could not be read and was skipped."""


def canonical_config(config) -> str:
    """The canonical JSON text of a config (sorted keys, no spaces): equal configs give
    equal strings, so it serves to tell whether a config was measured already."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def normalize_target(target) -> str:
    """The target as the string records store (``str`` of a Target, spaces collapsed)."""
    return " ".join(str(target).split())


@dataclass
class TuningRecord:
    """One measured candidate of one workload on one target.

    ``config`` is the JSON-serialisable list of schedule steps; ``costs`` the measured
    seconds per run (None when the candidate failed, with ``error_kind`` saying how).
    ``kind`` is ``"trial"`` or ``"retime"`` (then ``round`` numbers the re-timing round,
    1, 2, ... per workload and target)."""

    workload_key: str
    workload: Any
    target: str
    config: Any
    costs: list[float] | None = None
    error_kind: str | None = None
    error_msg: str = ""
    timestamp: float = field(default_factory=time.time)
    version: int = RECORD_VERSION
    features: list[float] | None = None
    kind: str = "trial"
    round: int | None = None

    def __post_init__(self):
        if self.error_kind not in ERROR_KINDS:
            raise TensorLangValueError(
                f"tuning record: unknown error_kind {self.error_kind!r}; use one of "
                f"{ERROR_KINDS}")
        if self.kind not in RECORD_KINDS:
            raise TensorLangValueError(f"tuning record: unknown kind {self.kind!r}; use one "
                                       f"of {RECORD_KINDS}")
        if (self.kind == "retime") != isinstance(self.round, int):
            raise TensorLangValueError("tuning record: a re-timing record needs its round "
                                       "number, and only a re-timing record has one")
        self.target = normalize_target(self.target)
        if self.costs is not None:
            self.costs = [float(c) for c in self.costs]
        if self.features is not None:
            self.features = [float(x) for x in self.features]

    @property
    def is_valid(self) -> bool:
        """Whether the candidate ran correctly and has a finite measured cost."""
        return self.error_kind is None and bool(self.costs) and \
            all(math.isfinite(c) and c > 0 for c in self.costs)

    @property
    def mean_cost(self) -> float:
        """Mean of the measured seconds; infinity for a failed candidate."""
        if not self.is_valid:
            return math.inf
        return sum(self.costs) / len(self.costs)

    @property
    def config_key(self) -> str:
        return canonical_config(self.config)

    def to_json(self) -> str:
        """The record as one line of JSON (no newline)."""
        data = dataclasses.asdict(self)
        for name in ("features", "round"):
            if data[name] is None:
                del data[name]
        return json.dumps(data, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "TuningRecord":
        """Parse a line written by :meth:`to_json` (unknown fields are ignored, so newer
        logs stay readable)."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a record is a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        missing = {"workload_key", "target", "config"} - data.keys()
        if missing:
            raise ValueError(f"missing field(s) {sorted(missing)}")
        return cls(**{k: v for k, v in data.items() if k in known})


class RecordLog:
    """An append-only JSON-lines file of :class:`TuningRecord` s.

    Reads are incremental: :meth:`load` parses only what was appended since the last call
    (by this or any other process)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._records: list[TuningRecord] = []
        self._offset = 0          # bytes of the file already parsed
        self._line_number = 0     # lines already parsed
        self._warned: set[int] = set()

    def append(self, record: TuningRecord) -> None:
        """Append one record as one line, durably (flushed and fsync-ed)."""
        line = record.to_json().encode() + b"\n"
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            # A line torn by a crash has no newline: end it, or this record would be
            # glued to it and lost too.
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            written = os.write(fd, line)
            while written < len(line):  # only on exotic file systems; never seen locally
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)

    def load(self) -> list[TuningRecord]:
        """All readable records in file order; unreadable lines are skipped with a
        :class:`RecordWarning` naming the file and the line."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return list(self._records)
        complete = data.rfind(b"\n") + 1
        for raw in data[:complete].split(b"\n")[:-1]:
            self._line_number += 1
            self._parse(raw, self._line_number)
        self._offset += complete
        tail = data[complete:]
        if tail.strip():
            # Left unparsed: the next append ends it with a newline and a later load
            # reports it as a corrupt line.
            self._warn(self._line_number + 1, "is incomplete (torn by an interrupted write)")
        return list(self._records)

    def _parse(self, raw: bytes, line_number: int) -> None:
        if not raw.strip():
            return
        try:
            self._records.append(TuningRecord.from_json(raw.decode()))
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            self._warn(line_number, f"is not a valid record ({err})")

    def _warn(self, line_number: int, what: str) -> None:
        if line_number in self._warned:
            return
        self._warned.add(line_number)
        warnings.warn(f"tuning log {self.path}: line {line_number} {what}; skipped",
                      RecordWarning, stacklevel=3)

    def records_for(self, workload_key: str, target, kind: str | None = "trial"
                    ) -> list[TuningRecord]:
        """Records of one workload on one target, in file order: its trials, its
        re-timings (``kind="retime"``) or both (``kind=None``)."""
        target = normalize_target(target)
        return [r for r in self.load()
                if r.workload_key == workload_key and r.target == target
                and (kind is None or r.kind == kind)]

    def best(self, workload_key: str, target) -> TuningRecord | None:
        """The best record (:func:`select_best`), or None if no trial is valid."""
        records = self.records_for(workload_key, target, kind=None)
        return select_best([r for r in records if r.kind == "trial"],
                           [r for r in records if r.kind == "retime"])

    def measured_configs(self, workload_key: str, target) -> set[str]:
        """Canonical JSON (:func:`canonical_config`) of every config tried so far,
        failed ones included, so that no trial measures a config twice."""
        return {r.config_key for r in self.records_for(workload_key, target)}

    def count(self, workload_key: str | None = None, target=None) -> int:
        """Number of trials, of one workload and/or target when given."""
        target = None if target is None else normalize_target(target)
        return sum(1 for r in self.load()
                   if r.kind == "trial"
                   and (workload_key is None or r.workload_key == workload_key)
                   and (target is None or r.target == target))


def last_round(retimes: list) -> list[TuningRecord]:
    """The records of the highest-numbered re-timing round among ``retimes``."""
    if not retimes:
        return []
    number = max(r.round for r in retimes)
    return [r for r in retimes if r.round == number]


def select_best(trials: list, retimes: list = ()) -> TuningRecord | None:
    """The best of one workload's records on one target: the fastest valid candidate of
    the latest re-timing round (that record, with its re-timed costs), unless trials
    measured after that round beat the round winner's first measurement; then the
    fastest of those.  Without a (valid) round, the trial with the lowest mean cost.
    None when no trial is valid."""
    valid = [r for r in trials if r.is_valid]
    if not valid:
        return None
    fastest = min(valid, key=lambda r: r.mean_cost)
    members = last_round(list(retimes))
    ranked = [r for r in members if r.is_valid]
    if not ranked:
        return fastest
    winner = min(ranked, key=lambda r: r.mean_cost)
    first = [r.mean_cost for r in valid if r.config_key == winner.config_key]
    first_cost = min(first) if first else winner.mean_cost
    started = min(r.timestamp for r in members)
    later = [r for r in valid if r.timestamp > started and r.mean_cost < first_cost]
    return min(later, key=lambda r: r.mean_cost) if later else winner
