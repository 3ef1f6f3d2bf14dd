"""Measurement: parallel builds, isolated runs, correctness checks against the reference,
and containment of candidates that crash, hang or compute wrong values."""
from __future__ import annotations

import numpy as np
import pytest

from tensorlang.autotune import Config, LocalBuilder, LocalRunner, MeasureOptions
from tensorlang.autotune.measure import ArgSpec, MeasureTask, pickle_space
from tensorlang.autotune.measure_worker import (RunnerState, compare, empty_output, placed,
                                                random_array)

from tiny_spaces import MatmulTileSpace, fault_hook

BASE = {"tile_i": 4, "tile_j": 8, "tile_k": 2, "order": 0, "vectorize": True,
        "parallel": False}


def _task(space, seed=0) -> MeasureTask:
    specs = [ArgSpec(t.name, tuple(int(d.value) for d in t.shape), str(t.dtype),
                     t is space.C) for t in space.args]
    return MeasureTask("matmul|llvm", "llvm", specs, pickle_space(space), space, seed)


def _config(**changes) -> Config:
    return Config.make("tile", {**BASE, **changes})


@pytest.fixture(scope="module")
def faulty():
    """A space with faults, a builder and a runner with the fault hook, shared by the
    tests of this module (starting processes is the slow part)."""
    space = MatmulTileSpace(16, 16, 16, faults=("segfault", "abort", "hang", "wrong",
                                                "bad_schedule", "build_crash"))
    task = _task(space)
    options = MeasureOptions(timeout=2.0, min_timeout=2.0, fault_hook=fault_hook)
    with LocalBuilder(n_parallel=2) as builder, LocalRunner(options) as runner:
        task.reference = builder.build(task, [], reference=True)[0]
        runner.prepare(task)
        yield space, task, builder, runner


def test_correct_candidates_are_timed(faulty):
    _, task, builder, runner = faulty
    configs = [_config(fault="none"), _config(fault="none", tile_i=2, order=1)]
    builds = builder.build(task, configs)
    assert all(b.error_kind is None and b.artifact["kind"] == "object" for b in builds)
    assert all(len(b.features) > 100 and b.steps for b in builds)
    assert builds[0].steps != builds[1].steps
    results = runner.run(task, builds)
    for result in results:
        assert result.error_kind is None, result.error_msg
        assert len(result.costs) >= 3 and all(0 < c < 0.1 for c in result.costs)


def test_faults_are_recorded_and_measuring_goes_on(faulty):
    _, task, builder, runner = faulty
    faults = ["segfault", "none", "hang", "abort", "wrong", "bad_schedule", "none"]
    builds = builder.build(task, [_config(fault=f, tile_j=1 + k % 2)
                                  for k, f in enumerate(faults)])
    restarts = runner.restarts
    results = runner.run(task, builds)
    kinds = [r.error_kind for r in results]
    assert kinds == ["crash", None, "timeout", "crash", "wrong_result", "build_error", None]
    assert "SIGSEGV" in results[0].error_msg and "SIGABRT" in results[3].error_msg
    assert "differs from the reference" in results[4].error_msg
    assert "ScheduleError" in results[5].error_msg
    assert results[1].costs and results[6].costs
    assert runner.restarts == restarts + 3


def test_a_crashing_build_is_blamed_alone(faulty):
    _, task, builder, _ = faulty
    configs = [_config(fault="none"), _config(fault="build_crash"),
               _config(fault="none", tile_k=4)]
    builds = builder.build(task, configs)
    assert [b.error_kind for b in builds] == [None, "build_error", None]
    assert "crashed" in builds[1].error_msg
    assert builder.build(task, [_config(fault="none", tile_k=8)])[0].error_kind is None


def test_featurize_matches_build_features(faulty):
    _, task, builder, _ = faulty
    configs = [_config(fault="none"), _config(fault="bad_schedule"), _config(tile_i=1)]
    vectors = builder.featurize(task, configs)
    assert vectors[1] is None
    built = builder.build(task, [configs[0]])[0]
    np.testing.assert_array_equal(vectors[0], built.features)
    assert vectors[0] != vectors[2]


def test_unpicklable_space_builds_in_this_process():
    space = MatmulTileSpace(8, 8, 8)
    space.unpicklable = lambda: None
    task = _task(space)
    assert task.space_bytes is None
    with LocalBuilder(n_parallel=1) as builder, LocalRunner(min_measure_seconds=0.01) as runner:
        task.reference = builder.build(task, [], reference=True)[0]
        builds = builder.build(task, [_config(tile_i=2)])
        assert builds[0].error_kind is None
        assert runner.run(task, builds)[0].costs


def test_slow_candidate_is_timed_once():
    space = MatmulTileSpace(64, 64, 64)
    task = _task(space)
    with LocalBuilder(n_parallel=1) as builder, \
            LocalRunner(slow_factor=2.0, min_measure_seconds=1e-6) as runner:
        task.reference = builder.build(task, [], reference=True)[0]
        runner.prepare(task)
        builds = builder.build(task, [_config(vectorize=False, tile_j=1, tile_i=1, tile_k=1)])
        # "best so far" far below what this candidate can reach: one sample is enough
        result = runner.run(task, builds, best_time=1e-9)[0]
        assert result.error_kind is None and len(result.costs) == 1


def test_reference_failure_is_a_tune_error():
    from tensorlang.errors import TuneError
    space = MatmulTileSpace(8, 8, 8)
    task = _task(space)
    with LocalRunner() as runner, pytest.raises(TuneError, match="reference"):
        runner.prepare(task)


def test_compare_tolerates_rounding_not_errors():
    rng = np.random.default_rng(0)
    expected = rng.standard_normal((32, 32)).astype(np.float32)
    assert compare(expected * (1 + 1e-6), expected, "C", "float32") is None
    wrong = expected.copy()
    wrong[3, 4] += 0.5
    message = compare(wrong, expected, "C", "float32")
    assert "(3, 4)" in message and "1 of 1024" in message
    assert compare(np.full_like(expected, np.nan), expected, "C", "float32") is not None
    with_nan = expected.copy()
    with_nan[0, 0] = np.nan
    assert compare(with_nan.copy(), with_nan, "C", "float32") is None
    ints = np.arange(10, dtype=np.int32)
    assert compare(ints, ints.copy(), "D", "int32") is None
    assert compare(ints + (ints == 3), ints, "D", "int32") is not None


def test_random_inputs_and_unwritten_outputs():
    rng = np.random.default_rng(0)
    ints = random_array((1000,), "int32", rng)
    assert ints.dtype == np.int32 and ints.min() >= 1 and ints.max() < 10
    floats = random_array((1000,), "float64", rng)
    assert floats.dtype == np.float64 and -1 <= floats.min() and floats.max() < 1
    assert random_array((5,), "bool", rng).dtype == np.bool_
    assert np.isnan(empty_output((3,), "float32")).all()
    sentinel = empty_output((3,), "int8")
    assert (sentinel == sentinel[0]).all() and sentinel[0] < 0


def test_run_deadline_follows_the_best_time():
    options = MeasureOptions(timeout=10.0, min_timeout=1.0, slow_factor=20.0,
                             min_measure_seconds=0.1)
    assert options.run_deadline(None) == 10.0
    assert options.run_deadline(0.01) == pytest.approx(1.0 + 0.2 + 0.2)
    assert options.run_deadline(5.0) == 10.0


def test_arrays_start_where_numpy_puts_large_ones():
    """Candidates are timed on arrays 16 bytes past a cache line, as numpy's large arrays
    usually are (a schedule fast only on aligned arrays must not win on luck)."""
    array = random_array((33, 7), "float32", np.random.default_rng(0))
    for offset in (0, 16, 48):
        copy = placed(array, offset)
        assert copy.ctypes.data % 64 == offset
        assert copy.dtype == array.dtype and np.array_equal(copy, array)
    assert RunnerState(MeasureOptions().for_runner())._placed(array).ctypes.data % 64 == 16
    assert RunnerState(MeasureOptions(array_offset=None).for_runner())._placed(array) is array
