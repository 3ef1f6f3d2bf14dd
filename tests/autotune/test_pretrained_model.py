"""The pretrained cost model: the shipped file loads and scores held-out workloads, files
that cannot be used warn and fall back to a fresh model, training round-trips through
the file format, tuning starts from the prior and goes on learning, and the script's
train step works on a small log."""
from __future__ import annotations

import importlib.util
import base64
import json
import os
import warnings

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.autotune import (CostModel, FEATURE_NAMES, MeasureOptions,
                                 PretrainedCostModel, RecordLog, TuneWarning, TuningRecord,
                                 XGBoostCostModel, extract_features)
from tensorlang.autotune import pretrained as P
from tensorlang.autotune.session import default_cost_model
from tensorlang.autotune.workload_space import make_space
from tensorlang.errors import TensorLangValueError, TuneError

from tiny_spaces import MatmulTileSpace

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WIDTH = len(FEATURE_NAMES)


def _conv1d(c=8, length=64, k=16, width=3):
    data = te.placeholder((c, length), name="data")
    weight = te.placeholder((k, c, width), name="kernel")
    rc = te.reduce_axis((0, c), name="rc")
    rx = te.reduce_axis((0, width), name="rx")
    return [te.compute((k, length - width + 1),
                       lambda f, x: te.sum(data[rc, x + rx] * weight[f, rc, rx],
                                           axis=[rc, rx]), name="conv1d")]


def _matmul(n=32):
    A = te.placeholder((n, n), name="A")
    B = te.placeholder((n, n), name="B")
    return [tl.ops.matmul(A, B)]


def _space_features(outputs, count=12, seed=0):
    """``(space, configs, features)`` of ``count`` random configs of the workload."""
    space = make_space(outputs, "llvm")
    rng = np.random.default_rng(seed)
    configs, rows = [], []
    while len(configs) < count:
        config = space.sample(rng)
        if config.key() in {c.key() for c in configs}:
            continue
        schedule, args = space.apply(config)
        configs.append(config)
        rows.append(extract_features(tl.lower(schedule, args)))
    return space, configs, np.asarray(rows, dtype=np.float32)


def _synthetic(n=60, groups=3, seed=0):
    """Features of the current width whose cost grows with entry 0, in ``groups``."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, WIDTH)).astype(np.float32)
    costs = np.exp(2.0 * x[:, 0]) * (1 + np.arange(n) % groups)
    keys = [f"w{k % groups}" for k in range(n)]
    return x, costs, keys


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory):
    x, costs, keys = _synthetic()
    model = P.train_prior(x, costs, keys, num_rounds=20)
    path = tmp_path_factory.mktemp("model") / "tiny.json"
    P.write_model_file(P.model_document(model, [{"name": "synthetic"}]), path)
    return path, model, x


def test_shipped_model_loads_and_scores_held_out_workloads():
    booster, meta = P.read_model_file(P.DEFAULT_MODEL_PATH)
    assert meta["feature_version"] == P.FEATURE_VERSION and meta["target"] == "llvm"
    assert {"corpus", "cpu", "xgboost_version", "samples"} <= set(meta)
    assert "conv1d" not in {entry["name"] for entry in meta["corpus"]}
    assert os.path.getsize(P.DEFAULT_MODEL_PATH) < 2 * 1024 * 1024
    model = P.pretrained_cost_model("llvm", seed=0)
    assert isinstance(model, PretrainedCostModel) and model.is_trained
    _, _, features = _space_features(_conv1d())
    scores = model.predict(features)
    assert scores.shape == (len(features),) and np.isfinite(scores).all()
    assert np.ptp(scores) > 0  # it tells candidates apart before any measurement


def test_training_round_trips_through_the_file(tiny_model_file):
    path, model, x = tiny_model_file
    booster, meta = P.read_model_file(path)
    prior = PretrainedCostModel(booster, meta=meta)
    np.testing.assert_allclose(prior.predict(x), model.predict(x), rtol=1e-6)
    assert meta["samples"] == len(x) and meta["corpus"] == [{"name": "synthetic"}]
    # the ranking learned transfers: lower entry 0 is faster in every workload
    order = np.argsort(-prior.predict(x))
    assert x[order[:10], 0].mean() < x[order[-10:], 0].mean()
    # saved with the online model and loaded as a CostModel, the prior comes along
    prior.fit(x[:10], np.exp(-x[:10, 1]))
    saved = path.parent / "online.npz"
    prior.save(saved)
    loaded = CostModel.load(saved)
    assert isinstance(loaded, PretrainedCostModel)
    np.testing.assert_allclose(loaded.predict(x), prior.predict(x), rtol=1e-6)
    np.testing.assert_allclose(loaded.prior.predict(__import__("xgboost").DMatrix(x)),
                               model.predict(x), rtol=1e-6)


def test_online_samples_change_predictions_and_not_the_prior(tiny_model_file):
    path, model, x = tiny_model_file
    online = P.pretrained_cost_model("llvm", path, seed=0)
    before = online.predict(x)
    # the run's own workload ranks by entry 1 instead: the online trees follow it
    online.fit(x[:40], np.exp(3.0 * x[:40, 1]))
    after = online.predict(x)
    assert not np.allclose(before, after)
    assert np.corrcoef(after, -x[:, 1])[0, 1] > np.corrcoef(before, -x[:, 1])[0, 1]
    np.testing.assert_allclose(P.pretrained_cost_model("llvm", path).predict(x), before)


def _write(path, document):
    path.write_text(json.dumps(document))
    return path


def test_version_mismatch_warns_once_and_tunes_with_a_fresh_model(tiny_model_file,
                                                                  tmp_path):
    document = json.loads(tiny_model_file[0].read_text())
    stale = _write(tmp_path / "stale.json", {**document, "feature_version": "0123abcd"})
    with pytest.warns(TuneWarning, match="features of version '0123abcd'.*regenerate"):
        model = default_cost_model(0, "llvm", stale)
    assert type(model) is XGBoostCostModel
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert type(default_cost_model(0, "llvm", stale)) is XGBoostCostModel  # once
    other_cpu = _write(tmp_path / "arm.json",
                       {**document, "cpu": {"triple": "aarch64-unknown-linux-gnu"}})
    with pytest.warns(TuneWarning, match="aarch64 CPU"):
        assert P.pretrained_cost_model("llvm", other_cpu) is None


@pytest.mark.parametrize("content", [b"\x00\xffnot json", b'{"format": "something else"}',
                                     None])
def test_corrupt_or_missing_file_warns(tiny_model_file, tmp_path, content):
    path = tmp_path / "model.json"
    if content is None:  # valid JSON, damaged booster
        document = json.loads(tiny_model_file[0].read_text())
        path.write_text(json.dumps({**document, "booster": document["booster"][:200]}))
    else:
        path.write_bytes(content)
    with pytest.warns(TuneWarning, match="fresh cost model"):
        assert P.pretrained_cost_model("llvm", path) is None
    with pytest.warns(TuneWarning, match="does not exist"):
        assert P.pretrained_cost_model("llvm", tmp_path / "nowhere.json") is None


@pytest.mark.parametrize("damage", ["flipped", "no digest"])
def test_damaged_booster_bytes_are_caught_before_xgboost_reads_them(tiny_model_file,
                                                                   tmp_path, damage):
    # xgboost may crash the process on damaged model bytes: the digest check comes first
    document = json.loads(tiny_model_file[0].read_text())
    raw = bytearray(base64.b64decode(document["booster"]))
    if damage == "flipped":
        raw[len(raw) // 2] ^= 0xFF
        document["booster"] = base64.b64encode(bytes(raw)).decode()
    else:
        del document["booster_sha256"]
    path = tmp_path / "model.json"
    path.write_text(json.dumps(document))
    with pytest.warns(TuneWarning, match="sha256 digest"):
        assert P.pretrained_cost_model("llvm", path) is None


def test_turning_it_off(tiny_model_file, monkeypatch):
    path = tiny_model_file[0]
    assert isinstance(default_cost_model(0, "llvm", path), PretrainedCostModel)
    assert type(default_cost_model(0, "llvm", False)) is XGBoostCostModel
    monkeypatch.setenv(P.MODEL_ENV, "off")
    assert type(default_cost_model(0, "llvm")) is XGBoostCostModel
    monkeypatch.setenv(P.MODEL_ENV, str(path))
    assert isinstance(default_cost_model(0, "llvm"), PretrainedCostModel)
    with pytest.raises(TuneError, match="either cost_model= .* or pretrained="):
        tl.autotune(_matmul(), trials=1, cost_model=XGBoostCostModel(), pretrained=path)
    with pytest.raises(TensorLangValueError, match="pretrained must be"):
        tl.autotune(_matmul(), trials=1, pretrained=3)


def test_tuning_starts_from_the_prior_and_keeps_learning(tiny_model_file):
    booster, meta = P.read_model_file(tiny_model_file[0])
    model = PretrainedCostModel(booster, meta=meta, num_threads=1)
    space = MatmulTileSpace(16, 16, 16)
    rng = np.random.default_rng(1)
    probe = []
    for config in (space.sample(rng) for _ in range(8)):
        schedule, args = space.apply(config)
        probe.append(extract_features(tl.lower(schedule, args)))
    before = model.predict(np.asarray(probe))
    with warnings.catch_warnings():
        warnings.simplefilter("error", TuneWarning)
        result = tl.autotune(space, trials=6, batch_size=3, verbose=0, retime=0,
                             n_parallel=2, population_size=32, num_generations=2,
                             measure_options=MeasureOptions(min_measure_seconds=0.01,
                                                            min_timeout=1.0),
                             cost_model=model)
    assert result.best_record is not None
    assert model.num_samples == 6
    assert not np.allclose(model.predict(probe), before)  # learned from the run


def _load_script():
    path = os.path.join(ROOT, "benchmarks", "make_pretrained_model.py")
    spec = importlib.util.spec_from_file_location("make_pretrained_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_train_step_on_a_small_log(tmp_path):
    script = _load_script()
    corpus = {"tiny_matmul": (_matmul, "matmul 32x32"),
              "tiny_conv1d": (_conv1d, "conv1d 8x64")}
    for name, (build, _) in corpus.items():
        space, configs, features = _space_features(build(), count=10)
        log = RecordLog(tmp_path / f"{name}.jsonl")
        for k, config in enumerate(configs):
            # stored features of another length: the train step recomputes them
            log.append(TuningRecord(space.workload_key, {"name": name}, "llvm",
                                    config.to_json(), costs=[1e-3 * (1 + k)],
                                    features=[0.0, 1.0]))
        log.append(TuningRecord(space.workload_key, {"name": name}, "llvm",
                                configs[0].to_json(), error_kind="runtime_error"))
    out = tmp_path / "model.json"
    document = script.train(corpus, str(tmp_path), str(out), num_rounds=10)
    booster, meta = P.read_model_file(out)
    assert [e["name"] for e in meta["corpus"]] == list(corpus)
    assert [e["samples"] for e in meta["corpus"]] == [11, 11]
    assert meta["samples"] == 22 and document["feature_count"] == WIDTH
    assert script.selected("tiny_conv1d", corpus) == {"tiny_conv1d": corpus["tiny_conv1d"]}
    with pytest.raises(SystemExit, match="unknown corpus workload"):
        script.selected("nope", corpus)
