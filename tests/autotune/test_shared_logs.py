"""Tuning logs that tuning must not trust blindly or lose: two processes tuning into one
log, records that parse but are wrong, logs that cannot be written, a full disk."""
from __future__ import annotations

import errno
import json
import math
import os
import subprocess
import sys
import warnings

import pytest

import tensorlang as tl
from tensorlang.autotune import Config, MeasureOptions, RecordLog, RecordWarning, TuningRecord
from tensorlang.autotune.record import record_config_key
from tensorlang.errors import TuneError

from tiny_spaces import MatmulTileSpace

FAST = dict(verbose=0, n_parallel=2, population_size=32, num_generations=2)
OPTIONS = MeasureOptions(min_measure_seconds=0.01, min_timeout=1.0)

_SHARED_SCRIPT = """
import json, sys
sys.path.insert(0, {tests!r})
import tensorlang as tl
from tensorlang.autotune import MeasureOptions
from tiny_spaces import MatmulTileSpace
result = tl.autotune(MatmulTileSpace(8, 8, 8), trials=24, batch_size=4, log_file={log!r},
                     verbose=0, population_size=32, num_generations=2, n_parallel=1,
                     retime=4, measure_options=MeasureOptions(min_measure_seconds=0.01,
                                                              min_timeout=1.0))
print(json.dumps({{"best": result.best_config, "time": result.best_time,
                  "measured": result.measured_now, "trials": result.num_trials}}))
"""


def test_two_processes_tuning_one_log_measure_nothing_twice_and_agree(tmp_path):
    # the same workload, seed and budget: on their own, both would measure the same
    # configs in the same order
    log = tmp_path / "shared.jsonl"
    script = _SHARED_SCRIPT.format(tests=os.path.dirname(__file__), log=str(log))
    processes = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    outputs = [json.loads(p.communicate(timeout=300)[0].splitlines()[-1])
               for p in processes]
    assert all(p.returncode == 0 for p in processes)
    records = RecordLog(log).load()
    trials = [record_config_key(r) for r in records if r.kind == "trial"]
    assert len(trials) == 24 and len(set(trials)) == 24  # none measured twice
    assert sum(o["measured"] for o in outputs) == 24
    assert all(o["trials"] == 24 for o in outputs)
    assert outputs[0]["best"] == outputs[1]["best"] and outputs[0]["time"] == outputs[1]["time"]
    rounds = {r.round for r in records if r.kind == "retime"}
    assert len(rounds) <= 1  # one closing round covers both processes' candidates


def test_log_lock_excludes_other_writers(tmp_path):
    import threading
    import time
    path = tmp_path / "locked.jsonl"
    holder, other = RecordLog(path), RecordLog(path)
    record = TuningRecord("w", {}, "llvm", {"steps": []}, costs=[1.0])
    done = []
    with holder.locked():
        with holder.locked():  # re-entrant
            holder.append(record)
        writer = threading.Thread(target=lambda: (other.append(record), done.append(1)))
        writer.start()
        time.sleep(0.3)
        assert not done  # waits for the lock
    writer.join(10)
    assert done and len(RecordLog(path).load()) == 2


# -- records that parse but are wrong ------------------------------------------------------

GOOD = {"tile_i": 2, "tile_j": 4, "tile_k": 2, "order": 0, "vectorize": True,
        "parallel": False}


def _line(space, decisions=GOOD, cost=1e-4, **fields) -> str:
    config = Config.make("tile", decisions)
    schedule, _ = space.apply(config) if space.contains(config) else space.apply(
        Config.make("tile", GOOD))
    steps = json.loads(json.dumps([step.to_json() for step in schedule.steps]))
    record = TuningRecord(space.workload_key, {"name": "C"}, "llvm",
                          {**config.to_json(), "steps": steps}, costs=[cost])
    data = json.loads(record.to_json())
    data.update(fields)
    return json.dumps(data)


def _bad_lines(space) -> dict:
    """Lines that parse as JSON, each wrong in one way, and the words that must say so."""
    good = json.loads(_line(space))
    missing_config = {k: v for k, v in good.items() if k != "config"}
    return {
        "out_of_range": (_line(space, {**GOOD, "tile_i": 3}, cost=1e-7), "tile_i"),
        "unknown_knob": (_line(space, {**GOOD, "warp": 2}, cost=1e-7), "warp"),
        "missing_knob": (_line(space, {k: v for k, v in GOOD.items() if k != "order"},
                               cost=1e-7), "order"),
        "implausible": (_line(space, {**GOOD, "tile_j": 8}, cost=1e-9), "implausible"),
        "negative": (_line(space, cost=1e-4, costs=[-1.0]), "costs"),
        "nan": (_line(space).replace("0.0001", "NaN"), "costs"),
        "inf": (_line(space).replace("0.0001", "Infinity"), "costs"),
        "costs_text": (_line(space, costs="fast"), "costs"),
        "timestamp_text": (_line(space, timestamp="yesterday"), "timestamp"),
        "decisions_list": (_line(space, config={"sketch": "tile", "decisions": [1, 2]}),
                           "config"),
        "missing_config": (json.dumps(missing_config), "config"),
        "key_number": (_line(space, workload_key=12), "workload_key"),
        "kind": (_line(space, kind="winner"), "kind"),
        "round_on_trial": (_line(space, round=2), "round"),
        "steps_text": (_line(space, config={**good["config"], "steps": "split"}), "steps"),
    }


def test_malformed_records_are_skipped_naming_the_line(tmp_path):
    space = MatmulTileSpace(8, 8, 8)
    bad = _bad_lines(space)
    log = tmp_path / "malformed.jsonl"
    good = _line(space, {**GOOD, "vectorize": False}, cost=1e-4)
    lines = [good] + [line for line, _ in bad.values()]
    log.write_text("\n".join(lines) + "\n" + _line(space)[:50])  # and a torn last line
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = tl.autotune(space, trials=3, batch_size=2, log_file=log, retime=0,
                             measure_options=OPTIONS, **FAST)
    messages = [str(w.message) for w in caught if issubclass(w.category, RecordWarning)]
    for number, (name, (_, words)) in enumerate(bad.items(), start=2):
        said = [m for m in messages if f"line {number} " in m]
        assert said and words in said[0] and str(log) in said[0], (name, messages)
    assert any(f"line {len(lines) + 1} is incomplete" in m for m in messages)
    # none of them is a trial: the good one and two measured now
    assert result.num_trials == 3 and result.measured_now == 2
    assert math.isfinite(result.best_time) and result.best_time >= 1e-8
    assert result.best_config["decisions"]["tile_i"] in (1, 2, 4, 8, 16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with tl.autotune.apply_history_best(str(log)):
            s, _ = tl.autotune.best_schedule(space.C, "llvm")
    messages = [str(w.message) for w in caught if issubclass(w.category, RecordWarning)]
    assert any("implausible" in m for m in messages)
    assert not [w for w in caught if issubclass(w.category, tl.autotune.TuneWarning)]
    assert s.steps  # the best valid record, not a default nor a bad one


def test_implausible_costs_never_win_history_best(tmp_path):
    from tiny_spaces import matmul
    A, B, C = matmul(32, 32, 32)
    space = tl.autotune.sketch_space([C], "llvm")
    import numpy as np
    rng = np.random.default_rng(0)
    configs = [space.sample(rng) for _ in range(3)]
    log = tmp_path / "cheat.jsonl"
    for config, cost in zip(configs, (1e-4, 2e-4, 1e-9)):
        schedule, _ = space.apply(config)
        steps = json.loads(json.dumps([step.to_json() for step in schedule.steps]))
        RecordLog(log).append(TuningRecord(space.workload_key, {"name": "C"}, "llvm",
                                           {**config.to_json(), "steps": steps},
                                           costs=[cost]))
    # a decision outside its domain in the automatic space: skipped too
    data = json.loads(log.read_text().splitlines()[0])
    name = next(n for n, v in data["config"]["decisions"].items() if isinstance(v, list))
    data["config"]["decisions"][name] = [7777] * len(data["config"]["decisions"][name])
    data["costs"] = [1e-6]
    with open(log, "a") as f:
        f.write(json.dumps(data) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with tl.autotune.apply_history_best(str(log)):
            s, _ = tl.autotune.best_schedule(C, "llvm")
    messages = [str(w.message) for w in caught if issubclass(w.category, RecordWarning)]
    assert any("line 3" in m and "implausible" in m for m in messages), messages
    assert any("line 4" in m and name in m for m in messages), messages
    fastest = space.apply(configs[0])[0]
    assert json.dumps([x.to_json() for x in s.steps]) == \
        json.dumps([x.to_json() for x in fastest.steps])


# -- logs that cannot be written -----------------------------------------------------------

def test_an_unwritable_log_fails_before_measuring(tmp_path):
    space = MatmulTileSpace(8, 8, 8)
    for path in (tmp_path / "no" / "such" / "dir.jsonl", tmp_path):
        with pytest.raises(TuneError, match=str(path)):
            tl.autotune(space, trials=2, log_file=path, measure_options=OPTIONS, **FAST)
    assert not (tmp_path / "no").exists()


def test_a_full_disk_stops_tuning_and_leaves_no_torn_line(tmp_path, monkeypatch):
    from tensorlang.autotune import record as record_module
    log = tmp_path / "full.jsonl"
    space = MatmulTileSpace(8, 8, 8)
    tl.autotune(space, trials=2, batch_size=2, log_file=log, retime=0,
                measure_options=OPTIONS, **FAST)
    before = log.read_bytes()
    real_write = os.write

    def full_disk(fd, data):
        if fd > 2 and b'"workload_key"' in data:  # a record: half of it fits
            real_write(fd, data[:len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)
    monkeypatch.setattr(record_module.os, "write", full_disk)
    with pytest.raises(TuneError, match=f"{log}.*No space left on device"):
        tl.autotune(space, trials=4, batch_size=2, log_file=log, retime=0,
                    measure_options=OPTIONS, **FAST)
    assert log.read_bytes() == before  # cut back: no torn line
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecordWarning)
        result = tl.autotune(space, trials=4, batch_size=2, log_file=log, retime=0,
                             measure_options=OPTIONS, **FAST)
    assert result.num_trials == 4 and result.measured_now == 2
