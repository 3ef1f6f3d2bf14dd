"""Tuning records and logs: JSON round trips, append-only logs that survive torn lines,
incremental loading, best records, workload keys."""
from __future__ import annotations

import json
import threading

import pytest

from tensorlang import te
from tensorlang.autotune import (ERROR_KINDS, RECORD_VERSION, RecordLog, RecordWarning,
                                 TuningRecord, canonical_config, workload_key)
from tensorlang.errors import TensorLangValueError

from tiny_spaces import matmul


def _record(key="w1", cost=1.0, config=None, **kw) -> TuningRecord:
    return TuningRecord(key, {"name": "C"}, "llvm", config or {"steps": [cost]},
                        costs=None if cost is None else [cost, cost * 1.5], **kw)


def test_record_round_trip():
    record = _record(cost=2e-3, features=[1, 2.5])
    line = record.to_json()
    assert "\n" not in line
    again = TuningRecord.from_json(line)
    assert again == record
    assert again.version == RECORD_VERSION and again.features == [1.0, 2.5]
    assert again.mean_cost == pytest.approx(2.5e-3)
    data = json.loads(line)
    data["field_from_the_future"] = 1
    assert TuningRecord.from_json(json.dumps(data)) == record


def test_failed_records_are_infinitely_slow():
    record = _record(cost=None, error_kind="crash", error_msg="SIGSEGV")
    assert not record.is_valid and record.mean_cost == float("inf")
    assert not _record(cost=1.0, error_kind="wrong_result").is_valid
    assert set(ERROR_KINDS) >= {"crash", "timeout", "wrong_result", "build_error"}
    with pytest.raises(TensorLangValueError, match="error_kind"):
        _record(error_kind="exploded")
    with pytest.raises(ValueError, match="missing"):
        TuningRecord.from_json('{"workload_key": "w"}')


def test_target_is_normalised():
    assert TuningRecord("w", {}, "llvm   -mcpu=x", []).target == "llvm -mcpu=x"


def test_log_appends_and_finds_the_best(tmp_path):
    log = RecordLog(tmp_path / "log.jsonl")
    assert log.load() == [] and log.best("w1", "llvm") is None
    for cost in (3.0, 1.0, 2.0):
        log.append(_record(cost=cost))
    log.append(_record(cost=0.5, error_kind="wrong_result"))  # never the best
    log.append(_record(key="w2", cost=0.1))
    assert log.count() == 5 and log.count("w1") == 4 and log.count("w1", "cuda") == 0
    assert log.best("w1", "llvm").costs == [1.0, 1.5]
    assert len(log.records_for("w1", "llvm")) == 4
    assert canonical_config({"steps": [2.0]}) in log.measured_configs("w1", "llvm")
    # a second reader sees the same; the first reader picks up later appends
    other = RecordLog(tmp_path / "log.jsonl")
    assert [r.to_json() for r in other.load()] == [r.to_json() for r in log.load()]
    other.append(_record(cost=0.25))
    assert log.best("w1", "llvm").costs == [0.25, 0.375]


def test_torn_last_line_is_skipped_and_healed(tmp_path):
    path = tmp_path / "torn.jsonl"
    log = RecordLog(path)
    log.append(_record(cost=1.0))
    log.append(_record(cost=2.0))
    text = path.read_bytes()
    path.write_bytes(text[:-25])  # killed in the middle of writing the second line
    reader = RecordLog(path)
    with pytest.warns(RecordWarning, match="line 2 is incomplete"):
        assert len(reader.load()) == 1
    reader.append(_record(cost=3.0))  # ends the torn line first
    with pytest.warns(RecordWarning, match="line 2 is not a valid record"):
        records = RecordLog(path).load()
    assert [r.costs[0] for r in records] == [1.0, 3.0]


def test_garbage_lines_are_skipped(tmp_path):
    path = tmp_path / "garbage.jsonl"
    path.write_text(_record(cost=1.0).to_json() + "\nnot json\n[1, 2]\n\n" +
                    _record(cost=2.0).to_json() + "\n")
    with pytest.warns(RecordWarning):
        assert [r.costs[0] for r in RecordLog(path).load()] == [1.0, 2.0]


def test_concurrent_appends_keep_whole_lines(tmp_path):
    path = tmp_path / "shared.jsonl"

    def writer(k):
        log = RecordLog(path)
        for i in range(25):
            log.append(_record(key=f"w{k}", cost=float(i + 1), features=[float(i)] * 50))
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = RecordLog(path).load()
    assert len(records) == 100
    assert all(RecordLog(path).count(f"w{k}") == 25 for k in range(4))


def test_workload_key_is_structural():
    _, _, C1 = matmul(16, 16, 16)
    _, _, C2 = matmul(16, 16, 16)
    _, _, C3 = matmul(16, 16, 8)
    _, _, C4 = matmul(16, 16, 16, dtype="float64")
    assert workload_key(C1) == workload_key(C2)
    assert len({workload_key(C1), workload_key(C3), workload_key(C4)}) == 3
    A = te.placeholder((16, 16), name="renamed")
    B = te.placeholder((16, 16), name="other")
    k = te.reduce_axis((0, 16), name="r")
    D = te.compute((16, 16), lambda x, y: te.sum(A[x, k] * B[k, y], axis=k), name="D")
    assert workload_key(D) == workload_key(C1)
    n = te.var("n")
    X = te.placeholder((n,), name="X")
    Y = te.compute((n,), lambda i: X[i] + 1.0, name="Y")
    assert workload_key(Y, {n: 8}) == workload_key(Y, {"n": 8}) != workload_key(Y)
    assert workload_key(Y, {n: 8}) != workload_key(Y, {n: 9})
