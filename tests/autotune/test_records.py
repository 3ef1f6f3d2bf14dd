"""Tuning records and logs: JSON round trips, append-only logs that survive torn lines,
incremental loading, best records, workload keys."""
from __future__ import annotations

import json
import math
import threading
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorlang import te
from tensorlang.autotune import (ERROR_KINDS, RECORD_VERSION, RecordLog, RecordWarning,
                                 TuningRecord, canonical_config, workload_key)
from tensorlang.autotune.record import FIELD_CHECKS, record_problem, select_best
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


def _retimed(cost, round_number=1, config=None, **kw) -> TuningRecord:
    return _record(cost=cost, config=config, kind="retime", round=round_number, **kw)


def test_retime_records_round_trip_and_are_not_trials(tmp_path):
    record = _retimed(2.0, round_number=3, config={"steps": [1.0]})
    again = TuningRecord.from_json(record.to_json())
    assert again == record and again.kind == "retime" and again.round == 3
    assert "round" not in json.loads(_record().to_json())
    with pytest.raises(TensorLangValueError, match="kind"):
        _record(kind="rerun")
    with pytest.raises(TensorLangValueError, match="round"):
        _record(kind="retime")
    with pytest.raises(TensorLangValueError, match="round"):
        _record(round=1)
    log = RecordLog(tmp_path / "log.jsonl")
    log.append(_record(cost=1.0))
    log.append(_retimed(1.2, config={"steps": [1.0]}))
    assert log.count() == 1 and len(log.records_for("w1", "llvm")) == 1
    assert len(log.records_for("w1", "llvm", kind="retime")) == 1
    assert len(log.records_for("w1", "llvm", kind=None)) == 2


def test_the_fastest_of_the_latest_round_is_the_best(tmp_path):
    lucky, steady = {"steps": ["lucky"]}, {"steps": ["steady"]}
    trials = [_record(cost=1.0, config=lucky), _record(cost=1.1, config=steady),
              _record(cost=5.0, config={"steps": ["slow"]})]
    # first measured, the lucky one looks fastest; side by side, the steady one is
    first_round = [_retimed(1.4, 1, lucky), _retimed(1.2, 1, steady)]
    assert select_best(trials, []) is trials[0]
    best = select_best(trials, first_round)
    assert best is first_round[1] and best.config == steady
    # only the latest round counts
    second_round = [_retimed(1.1, 2, lucky), _retimed(1.3, 2, steady)]
    assert select_best(trials, first_round + second_round) is second_round[0]
    # a round whose candidates all failed decides nothing
    failed = [_retimed(None, 3, lucky, error_kind="timeout")]
    assert select_best(trials, first_round + failed) is trials[0]
    # a trial measured after the round that beats the winner's first measurement wins
    later = _record(cost=1.2, config={"steps": ["later"]})
    later.timestamp = first_round[0].timestamp + 1.0
    assert select_best(trials + [later], first_round) is first_round[1]
    later.costs = [1.0, 1.05]
    assert select_best(trials + [later], first_round) is later
    # no valid trial: nothing to build
    assert select_best([_record(cost=None, error_kind="crash")], first_round) is None
    # the log's best follows the same rule
    log = RecordLog(tmp_path / "log.jsonl")
    for record in trials + first_round:
        log.append(record)
    assert log.best("w1", "llvm").config == steady


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


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.0, -1.0, 1e-300])
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=3),
    max_leaves=5)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(field=st.sampled_from(sorted(FIELD_CHECKS) + ["from_the_future"]), value=_JSON,
       drop=st.booleans())
def test_any_json_in_any_field_is_read_or_skipped_with_its_line(tmp_path_factory, field,
                                                                 value, drop):
    """Whatever JSON a field holds (or its absence), loading and choosing the best never
    raise: the record is read, well formed, or skipped with a warning naming its line."""
    data = json.loads(_record(cost=1e-3).to_json())
    if drop:
        data.pop(field, None)
    else:
        data[field] = value
    path = tmp_path_factory.mktemp("log") / "log.jsonl"
    path.write_text(json.dumps(data) + "\n" + _record(cost=2e-3).to_json() + "\n")
    log = RecordLog(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = log.load()
        best = log.best("w1", "llvm")
        log.measured_configs("w1", "llvm")
    said = [str(w.message) for w in caught if issubclass(w.category, RecordWarning)]
    if record_problem(json.loads(json.dumps(data))) is None:
        assert len(records) == 2 and not said
        first = records[0]
        assert first.costs is None or all(math.isfinite(c) and c > 0 for c in first.costs)
        assert math.isfinite(first.timestamp) and isinstance(first.is_valid, bool)
    else:
        assert len(records) == 1 and len(said) == 1 and "line 1 " in said[0]
        assert best is records[0]
