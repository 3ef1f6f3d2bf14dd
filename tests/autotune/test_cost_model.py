"""Cost models: the ranking model learns an obvious ordering, pairwise accuracy, relative
throughput, warm start from records (other workloads included), persistence."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tensorlang.autotune import (RandomModel, TuningRecord, XGBoostCostModel,
                                 pairwise_accuracy, relative_throughput)
from tensorlang.errors import TensorLangValueError


def _data(n, seed=0, scale=1.0, width=6):
    """Features and costs where cost grows with feature 0 and shrinks with feature 1."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, width)).astype(np.float32)
    costs = scale * np.exp(2.0 * x[:, 0] - 1.5 * x[:, 1])
    return x, costs


def test_pairwise_accuracy_counts_ordered_pairs():
    costs = [1.0, 2.0, 3.0, 4.0]
    assert pairwise_accuracy([4, 3, 2, 1], costs) == 1.0
    assert pairwise_accuracy([1, 2, 3, 4], costs) == 0.0
    assert pairwise_accuracy([0, 0, 0, 0], costs) == 0.5
    # one of the six pairs (first two) misordered
    assert pairwise_accuracy([3, 4, 2, 1], costs) == pytest.approx(5 / 6)
    # failed candidates are the slowest; equal costs make no pair
    assert pairwise_accuracy([2, 1], [1.0, math.inf]) == 1.0
    assert pairwise_accuracy([2, 1], [None, 1.0]) == 0.0
    assert math.isnan(pairwise_accuracy([1, 2], [1.0, 1.0]))
    # pairs only within a workload
    assert pairwise_accuracy([1, 2, 3, 4], [1.0, 2.0, 30.0, 40.0],
                             workload_keys=["a", "b", "a", "b"]) == 0.0
    with pytest.raises(TensorLangValueError):
        pairwise_accuracy([1, 2], [1.0])


def test_relative_throughput_per_workload():
    out = relative_throughput([2.0, 4.0, math.inf, 10.0, 5.0], ["a", "a", "a", "b", "b"])
    np.testing.assert_allclose(out, [1.0, 0.5, 0.0, 0.5, 1.0])


def test_ranking_model_learns_an_obvious_ordering():
    x, costs = _data(300)
    held_x, held_costs = _data(200, seed=1)
    model = XGBoostCostModel(seed=0, num_threads=1)
    model.fit(x, costs)
    assert pairwise_accuracy(model.predict(held_x), held_costs) > 0.85
    baseline = RandomModel(seed=0)
    baseline.fit(x, costs)
    assert abs(pairwise_accuracy(baseline.predict(held_x), held_costs) - 0.5) < 0.1


def test_ndcg_model_puts_fast_candidates_on_top():
    x, costs = _data(300)
    held_x, held_costs = _data(200, seed=1)
    model = XGBoostCostModel(seed=0, objective="rank:ndcg", num_threads=1)
    model.fit(x, costs)
    top = np.argsort(-model.predict(held_x))[:20]
    assert np.median(held_costs[top]) < np.quantile(held_costs, 0.25)


def test_untrained_model_scores_at_random_and_training_is_deterministic():
    x, costs = _data(100)
    model = XGBoostCostModel(seed=3, num_threads=1)
    scores = model.predict(x)
    assert scores.shape == (100,) and len(set(scores.tolist())) > 90
    other = XGBoostCostModel(seed=3, num_threads=1)
    model.fit(x, costs)
    other.fit(x, costs)
    np.testing.assert_array_equal(model.predict(x), other.predict(x))


def test_update_adds_samples_and_checks_width():
    x, costs = _data(60)
    model = XGBoostCostModel(seed=0, num_threads=1)
    model.update(x[:30], costs[:30])
    model.update(x[30:], costs[30:], workload_keys="w")
    assert model.num_samples == 60
    with pytest.raises(TensorLangValueError, match="features have 3 entries"):
        model.update(x[:5, :3], costs[:5])
    with pytest.raises(TensorLangValueError):
        model.fit(x[:5], costs[:4])


def test_warm_start_from_other_workloads_transfers():
    """Records of a workload with 10x larger costs teach the ordering of another one."""
    x, costs = _data(300, scale=10.0)
    records = [TuningRecord("other", {}, "llvm", [], costs=[float(c)], features=list(row))
               for row, c in zip(x, costs)]
    records.append(TuningRecord("other", {}, "llvm", [], error_kind="crash",
                                features=list(x[0])))
    records.append(TuningRecord("other", {}, "cuda", [], costs=[1.0], features=list(x[1])))
    records.append(TuningRecord("other", {}, "llvm", [], costs=[1.0]))  # no features
    records.append(TuningRecord("other", {}, "llvm", [], costs=[1.0], features=[1.0]))
    model = XGBoostCostModel(seed=0, num_threads=1)
    used = model.warm_start(records, target="llvm")
    assert used == 301 == model.num_samples
    held_x, held_costs = _data(150, seed=2, scale=0.1)
    assert pairwise_accuracy(model.predict(held_x), held_costs) > 0.85
    # features computed on demand for records that carry none
    fresh = XGBoostCostModel(seed=0, num_threads=1)
    assert fresh.warm_start(records[:-1], featurize=lambda r: [0.0] * 6) == 303


def test_save_and_load_keep_predictions(tmp_path):
    x, costs = _data(80)
    model = XGBoostCostModel(seed=0, num_rounds=30, num_threads=1)
    model.fit(x, costs, workload_keys=["a"] * 40 + ["b"] * 40)
    path = tmp_path / "model.npz"
    model.save(path)
    again = XGBoostCostModel.load(path)
    assert isinstance(again, XGBoostCostModel) and again.num_samples == 80
    np.testing.assert_allclose(again.predict(x), model.predict(x))
    RandomModel(seed=1).save(tmp_path / "random.npz")
    assert isinstance(XGBoostCostModel.load(tmp_path / "random.npz"), RandomModel)
    with pytest.raises(TensorLangValueError, match="objective"):
        XGBoostCostModel(objective="reg:squarederror")
