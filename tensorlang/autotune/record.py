"""Tuning records: one JSON line per measured candidate, appended to a log that survives
crashes (or kept in memory, :class:`MemoryLog`, when tuning has no log file).

A record is a *trial* (a candidate measured once by the search; ``trials`` budgets these)
or a *re-timing*: at the end of tuning the fastest few candidates as first measured are
timed again side by side, in turns, as one numbered *round*.  The fastest of the latest
round is the best (:func:`select_best`): the lowest of hundreds of noisy first
measurements flatters its candidate, and a round corrects that.  A record's figure is the
median of its samples (:attr:`TuningRecord.median_cost`, see :mod:`.timing`).

A log is append-only.  Each record is written as one complete line with a single
``write`` on a descriptor opened with ``O_APPEND``, under the log's lock (an ``flock`` of
the log file itself, which :meth:`RecordLog.locked` also lends to whole tuning rounds, so
that several processes can share one log), and then ``fsync``-ed: once ``append``
returns, the record survives a ``kill -9`` and a power loss.  A write that fails (a full
disk) is cut back to the previous length, so no torn line is left behind; a line torn by
a crash in the middle of a write (power loss) is skipped with a warning by
:meth:`RecordLog.load`.

Lines that parse but do not hold a well-formed record (a field of the wrong type, costs
that are not positive finite seconds, an unknown error kind, ...) are skipped with a
:class:`RecordWarning` naming the file and line (:func:`record_problem`); the checks that
need the workload (its search space, a plausible cost) are passed to
:meth:`RecordLog.records_for` as ``check``.

>>> log = RecordLog("matmul.jsonl")
>>> log.append(TuningRecord(key, {"name": "matmul"}, "llvm", steps, costs=[1.2e-3]))
>>> log.best(key, "llvm").config
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import TensorLangValueError, TuneError
from .config import Config
from .timing import median
from .tune_warnings import RecordWarning

#: format version written into every record
RECORD_VERSION = 1
#: the kinds of failure a record can carry (None: the candidate ran and was correct)
ERROR_KINDS = (None, "build_error", "runtime_error", "timeout", "wrong_result", "crash")
#: what a record is: a search trial, or a candidate re-timed beside others in a round
RECORD_KINDS = ("trial", "retime")


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
    def median_cost(self) -> float:
        """The record's figure: the median of its samples (seconds per call, see
        :mod:`.timing`); infinity for a failed candidate.  The best is chosen, and
        reported, by this figure."""
        return median(self.costs) if self.is_valid else math.inf

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
        """Parse a line written by :meth:`to_json`; a line that is not a well-formed
        record raises ValueError saying what is wrong (:func:`record_problem`).  Unknown
        fields are ignored, so newer logs stay readable."""
        data = json.loads(text)
        problem = record_problem(data)
        if problem is not None:
            raise ValueError(problem)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def record_config(record: TuningRecord) -> Config | None:
    """The search-space config a record measured (None for records without one)."""
    config = record.config
    if isinstance(config, dict) and "sketch" in config and "decisions" in config:
        return Config.make(config["sketch"], config["decisions"])
    return None


def record_config_key(record: TuningRecord) -> str | None:
    """The :meth:`Config.key` of the config a record measured."""
    config = record_config(record)
    return None if config is None else config.key()


# -- what a well-formed record holds -----------------------------------------------------------

def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value) -> str | None:
    return None if isinstance(value, str) else "is not a string"


def _any_json(value) -> str | None:
    return None


def _config(value) -> str | None:
    return None if isinstance(value, (dict, list)) else "is not a JSON object or list"


def _costs(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        return "is not a non-empty list of seconds (or null)"
    for cost in value:
        if not _is_number(cost) or not math.isfinite(cost) or cost <= 0:
            return f"holds {cost!r}, not a positive finite number of seconds"
    return None


def _one_of(allowed: tuple) -> Callable:
    def check(value) -> str | None:
        return None if value in allowed and (value is None or isinstance(value, str)) \
            else f"is {value!r}, not one of {list(allowed)}"
    return check


def _finite_number(value) -> str | None:
    return None if _is_number(value) and math.isfinite(value) else "is not a finite number"


def _version(value) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) and value >= 1 \
        else "is not a positive integer"


def _features(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list) or \
            not all(_is_number(x) and math.isfinite(x) for x in value):
        return "is not a list of finite numbers (or null)"
    return None


def _round(value) -> str | None:
    if value is None:
        return None
    return None if isinstance(value, int) and not isinstance(value, bool) and value >= 1 \
        else "is not a positive integer (or null)"


#: every field of a record as read from a log: (required, check) where ``check(value)``
#: says what is wrong with a value, or None.  A field without an entry is read unchecked;
#: a new field gets one line here.
FIELD_CHECKS: dict[str, tuple[bool, Callable]] = {
    "workload_key": (True, _text),
    "workload": (True, _any_json),
    "target": (True, _text),
    "config": (True, _config),
    "costs": (False, _costs),
    "error_kind": (False, _one_of(ERROR_KINDS)),
    "error_msg": (False, _text),
    "timestamp": (False, _finite_number),
    "version": (False, _version),
    "features": (False, _features),
    "kind": (False, _one_of(RECORD_KINDS)),
    "round": (False, _round),
}


def record_problem(data) -> str | None:
    """What makes ``data`` (a parsed JSON line) not a well-formed record, or None: a
    field missing or of the wrong type (:data:`FIELD_CHECKS`), or fields that contradict
    each other (a re-timing without its round number)."""
    if not isinstance(data, dict):
        return "a record is a JSON object"
    missing = sorted(name for name, (required, _) in FIELD_CHECKS.items()
                     if required and name not in data)
    if missing:
        return f"missing field(s) {missing}"
    for name, (_, check) in FIELD_CHECKS.items():
        if name in data:
            problem = check(data[name])
            if problem is not None:
                return f"field '{name}' {problem}"
    if (data.get("kind", "trial") == "retime") != (data.get("round") is not None):
        return "a re-timing record needs its round number, and only a re-timing has one"
    return None


#: free bytes a log's file system must have before tuning starts (room for some records)
MIN_FREE_BYTES = 64 * 1024


class RecordLog:
    """An append-only JSON-lines file of :class:`TuningRecord` s.

    Reads are incremental: :meth:`load` parses only what was appended since the last call
    (by this or any other process).  :meth:`locked` holds the log's lock, so that a
    tuning process can read what others appended, choose, measure and append its own
    records while no other process does the same."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._records: list[TuningRecord] = []
        self._lines: list[int] = []  # the line number of each record
        self._offset = 0          # bytes of the file already parsed
        self._line_number = 0     # lines already parsed
        self._warned: set[int] = set()
        self._lock_fd: int | None = None
        self._lock_depth = 0
        #: per check given to records_for, what it found wrong with each line (or None)
        self._checked: dict[Callable, dict[int, str | None]] = {}

    # -- writing ---------------------------------------------------------------------------
    def check_writable(self) -> None:
        """Raise :class:`TuneError` naming the log unless records can be appended to it
        (the file can be opened for appending, created if missing, and its file system
        has :data:`MIN_FREE_BYTES` free)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            raise TuneError(f"tuning log {self.path!r} cannot be written "
                            f"({error.strerror}); pass a log_file in a writable directory"
                            ) from None
        try:
            stat = os.fstatvfs(fd)
        finally:
            os.close(fd)
        free = stat.f_bavail * stat.f_frsize
        if free < MIN_FREE_BYTES:
            raise TuneError(f"tuning log {self.path!r}: its disk is full ({free} bytes "
                            f"free); free some space or pass a log_file on another disk")

    @contextlib.contextmanager
    def locked(self):
        """Hold the log's exclusive lock (an ``flock`` of the log file, released by the
        kernel when a holder dies) for the block; re-entrant.  Every append takes it."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield self
            finally:
                self._lock_depth -= 1
            return
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._lock_fd, self._lock_depth = fd, 1
            yield self
        finally:
            self._lock_fd, self._lock_depth = None, 0
            os.close(fd)  # releases the lock

    def append(self, record: TuningRecord) -> None:
        """Append one record as one line, durably (written whole and fsync-ed, under the
        lock).  A failed write (a full disk) leaves the file as it was and raises
        :class:`TuneError` naming the log."""
        line = record.to_json().encode() + b"\n"
        with self.locked():
            fd = self._lock_fd
            size = os.fstat(fd).st_size
            # A line torn by a crash has no newline: end it, or this record would be
            # glued to it and lost too.
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            try:
                written = os.write(fd, line)
                while written < len(line):  # a short write: a disk filling up
                    written += os.write(fd, line[written:])
                os.fsync(fd)
            except OSError as error:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)  # no torn line for the next reader
                raise TuneError(f"tuning log {self.path!r}: a record could not be written "
                                f"({error.strerror}); the log keeps every record before "
                                f"it. Free some space (or pass another log_file) and run "
                                f"again to resume") from None

    # -- reading ---------------------------------------------------------------------------
    def load(self) -> list[TuningRecord]:
        """All readable records in file order; unreadable lines are skipped with a
        :class:`RecordWarning` naming the file and the line."""
        return [record for record, _ in self._load()]

    def _load(self) -> list[tuple[TuningRecord, int]]:
        """``(record, line number)`` of every readable record, in file order."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return list(zip(self._records, self._lines))
        except OSError as error:
            raise TuneError(f"tuning log {self.path!r} cannot be read ({error.strerror}); "
                            f"pass the path of a JSON-lines file") from None
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
        return list(zip(self._records, self._lines))

    def _parse(self, raw: bytes, line_number: int) -> None:
        if not raw.strip():
            return
        try:
            record = TuningRecord.from_json(raw.decode())
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            self._warn(line_number, f"is not a valid record ({err})")
            return
        self._records.append(record)
        self._lines.append(line_number)

    def _warn(self, line_number: int, what: str) -> None:
        if line_number in self._warned:
            return
        self._warned.add(line_number)
        warnings.warn(f"tuning log {self.path}: line {line_number} {what}; skipped",
                      RecordWarning, stacklevel=4)

    def records_for(self, workload_key: str, target, kind: str | None = "trial",
                    check: Callable | None = None) -> list[TuningRecord]:
        """Records of one workload on one target, in file order: its trials, its
        re-timings (``kind="retime"``) or both (``kind=None``).  ``check(record)`` says
        what is wrong with a record of the workload (None: nothing); such records are
        skipped with a :class:`RecordWarning` naming the line."""
        target = normalize_target(target)
        checked = None if check is None else self._checked.setdefault(check, {})
        out = []
        for record, line in self._load():
            if record.workload_key != workload_key or record.target != target or \
                    (kind is not None and record.kind != kind):
                continue
            problem = None
            if checked is not None:  # each line checked once: a log is read every round
                if line not in checked:
                    checked[line] = check(record)
                problem = checked[line]
            if problem is not None:
                self._warn(line, f"is not a usable record of this workload ({problem})")
                continue
            out.append(record)
        return out

    def best(self, workload_key: str, target, check: Callable | None = None
             ) -> TuningRecord | None:
        """The best record (:func:`select_best`), or None if no trial is valid."""
        records = self.records_for(workload_key, target, kind=None, check=check)
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



class MemoryLog(RecordLog):
    """A record log kept in memory (tuning without ``log_file``)."""

    def __init__(self):
        super().__init__("<memory>")

    def check_writable(self) -> None:
        pass

    @contextlib.contextmanager
    def locked(self):
        yield self  # no other process can see this log

    def append(self, record: TuningRecord) -> None:
        self._records.append(record)
        self._lines.append(len(self._records))

    def _load(self) -> list:
        return list(zip(self._records, self._lines))


def last_round(retimes: list) -> list[TuningRecord]:
    """The records of the highest-numbered re-timing round among ``retimes``."""
    if not retimes:
        return []
    number = max(r.round for r in retimes)
    return [r for r in retimes if r.round == number]


def select_best(trials: list, retimes: list = ()) -> TuningRecord | None:
    """The best of one workload's records on one target: the fastest valid candidate of
    the latest re-timing round (that record, with its re-timed samples), unless trials
    measured after that round beat the round winner's first measurement; then the
    fastest of those.  Without a (valid) round, the fastest trial.  "Fastest" is by
    :attr:`TuningRecord.median_cost`.  None when no trial is valid."""
    valid = [r for r in trials if r.is_valid]
    if not valid:
        return None
    fastest = min(valid, key=lambda r: r.median_cost)
    members = last_round(list(retimes))
    ranked = [r for r in members if r.is_valid]
    if not ranked:
        return fastest
    winner = min(ranked, key=lambda r: r.median_cost)
    first = [r.median_cost for r in valid if r.config_key == winner.config_key]
    first_cost = min(first) if first else winner.median_cost
    started = min(r.timestamp for r in members)
    later = [r for r in valid if r.timestamp > started and r.median_cost < first_cost]
    return min(later, key=lambda r: r.median_cost) if later else winner
