"""Cost models that rank candidate schedules from their feature vectors.

A model learns from measured candidates (features, seconds) and scores new ones, higher
meaning faster.  Costs are turned into relative throughput per workload, ``best / cost``
(1 for the best candidate, 0 for a failed one), as TVM does, so workloads of very different
sizes can be learned together: :class:`XGBoostCostModel` trains with a ranking objective
with one group per workload, which is what lets records of other workloads warm-start it.

>>> model = XGBoostCostModel(seed=0)
>>> model.fit(features, costs)                 # features: (n, d); costs: seconds or inf
>>> model.update(new_features, new_costs)      # retrains on everything seen so far
>>> order = np.argsort(-model.predict(candidate_features))
>>> pairwise_accuracy(model.predict(held_out), held_out_costs)
"""
from __future__ import annotations

import json
import math

import numpy as np

from ..errors import TensorLangValueError
from .record import normalize_target

#: workload key given to samples fitted without one
DEFAULT_WORKLOAD = "_"


def relative_throughput(costs, workload_keys=None) -> np.ndarray:
    """``best_cost / cost`` within each workload; 0 for failed (inf / nan / None) costs."""
    costs = _as_costs(costs)
    keys = np.asarray(_as_keys(workload_keys, len(costs)), dtype=object)
    out = np.zeros(len(costs), dtype=np.float64)
    finite = np.isfinite(costs) & (costs > 0)
    for key in dict.fromkeys(keys.tolist()):
        rows = (keys == key) & finite
        if rows.any():
            out[rows] = costs[rows].min() / costs[rows]
    return out


def pairwise_accuracy(predicted_scores, actual_costs, workload_keys=None,
                      max_pairs: int = 2_000_000, seed: int = 0) -> float:
    """Fraction of pairs of candidates (of the same workload) with different measured
    costs that the scores order correctly: a higher score for the lower cost.  A tie in
    the scores counts as half right; failed candidates (infinite cost) are the slowest.
    Above ``max_pairs`` pairs, a seeded random sample of pairs is used."""
    scores = np.asarray(predicted_scores, dtype=np.float64).ravel()
    costs = _as_costs(actual_costs)
    if len(scores) != len(costs):
        raise TensorLangValueError(
            f"pairwise_accuracy: {len(scores)} scores for {len(costs)} costs")
    costs = np.where(np.isfinite(costs), costs, np.inf)
    keys = np.asarray(_as_keys(workload_keys, len(costs)), dtype=object)
    n = len(costs)
    if n * (n - 1) // 2 <= max_pairs:
        first, second = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(seed)
        first, second = rng.integers(0, n, max_pairs), rng.integers(0, n, max_pairs)
    keep = (keys[first] == keys[second]) & (costs[first] != costs[second])
    first, second = first[keep], second[keep]
    if len(first) == 0:
        return math.nan
    faster_first = costs[first] < costs[second]
    score_diff = scores[first] - scores[second]
    right = np.where(faster_first, score_diff > 0, score_diff < 0)
    return float((right.sum() + 0.5 * (score_diff == 0).sum()) / len(first))


def _as_costs(costs) -> np.ndarray:
    return np.array([math.inf if c is None else float(c) for c in costs], dtype=np.float64)


def _as_keys(workload_keys, n: int) -> list[str]:
    if workload_keys is None:
        return [DEFAULT_WORKLOAD] * n
    if isinstance(workload_keys, str):
        return [workload_keys] * n
    keys = [str(k) for k in workload_keys]
    if len(keys) != n:
        raise TensorLangValueError(f"cost model: {len(keys)} workload keys for {n} samples")
    return keys


class CostModel:
    """Interface of cost models: learn from measured candidates, score new ones.

    Subclasses implement :meth:`_train` and :meth:`predict`; the base keeps the training
    data so that :meth:`update` can retrain on everything seen so far."""

    kind = "base"
    #: kind -> class, for :meth:`load` (every subclass registers itself)
    _KINDS: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        CostModel._KINDS[cls.kind] = cls

    def __init__(self, seed: int = 0):
        self.seed = seed
        self._features = np.zeros((0, 0), dtype=np.float32)
        self._costs = np.zeros(0, dtype=np.float64)
        self._keys: list[str] = []

    @property
    def num_samples(self) -> int:
        return len(self._costs)

    @property
    def is_trained(self) -> bool:
        """Whether :meth:`predict` means anything yet (else the search samples at random)."""
        return self.num_samples > 0

    def fit(self, features, costs, workload_keys=None) -> None:
        """Train on exactly these samples (seconds; inf or None for failed candidates)."""
        features = self._check(features, costs)
        self._features = features
        self._costs = _as_costs(costs)
        self._keys = _as_keys(workload_keys, len(self._costs))
        self._train()

    def update(self, new_features, new_costs, workload_keys=None) -> None:
        """Add samples and retrain on all samples so far."""
        new_features = self._check(new_features, new_costs)
        if self.num_samples and new_features.shape[1] != self._features.shape[1]:
            raise TensorLangValueError(
                f"cost model update: features have {new_features.shape[1]} entries but the "
                f"model was trained on {self._features.shape[1]}")
        self._features = new_features if not self.num_samples else \
            np.concatenate([self._features, new_features])
        self._costs = np.concatenate([self._costs, _as_costs(new_costs)])
        self._keys = self._keys + _as_keys(workload_keys, len(new_features))
        self._train()

    def warm_start(self, records, featurize=None, target=None) -> int:
        """Train on tuning records (of any workload: transfer learning).

        A record's features come from ``record.features`` or, when absent,
        ``featurize(record)`` (None skips it); records whose vectors do not have the
        length of the first one (an older feature version) are skipped, as are records of
        other targets when ``target`` is given.  Returns the number of records used."""
        target = None if target is None else normalize_target(target)
        rows, costs, keys = [], [], []
        width = self._features.shape[1] if self.num_samples else None
        for record in records:
            if target is not None and record.target != target:
                continue
            vector = record.features
            if vector is None and featurize is not None:
                vector = featurize(record)
            if vector is None:
                continue
            vector = np.asarray(vector, dtype=np.float32).ravel()
            width = len(vector) if width is None else width
            if len(vector) != width:
                continue
            rows.append(vector)
            costs.append(record.mean_cost)
            keys.append(record.workload_key)
        if rows:
            self.update(np.stack(rows), costs, keys)
        return len(rows)

    def predict(self, features) -> np.ndarray:
        """Scores of candidates (higher: expected faster)."""
        raise NotImplementedError

    def _train(self) -> None:
        raise NotImplementedError

    def _check(self, features, costs) -> np.ndarray:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim == 1:
            features = features[None, :]
        if features.ndim != 2 or len(features) != len(costs):
            raise TensorLangValueError(
                f"cost model: features must be an (n, d) array matching {len(costs)} costs, "
                f"got shape {features.shape}")
        return features

    # -- persistence -------------------------------------------------------------------
    def _state(self) -> dict:
        return {}

    def save(self, path) -> None:
        """Write the model and its training data to one ``.npz`` file."""
        meta = {"kind": self.kind, "seed": self.seed, **self._state_meta()}
        arrays = {"features": self._features, "costs": self._costs,
                  "keys": np.array(self._keys, dtype=str),
                  "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        arrays.update(self._state())
        with open(path, "wb") as f:
            np.savez(f, **arrays)

    def _state_meta(self) -> dict:
        return {}

    @staticmethod
    def load(path) -> "CostModel":
        """Read a model written by :meth:`save` (of whichever kind it was)."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            classes = CostModel._KINDS
            if meta.get("kind") not in classes:
                raise TensorLangValueError(
                    f"cost model file {path}: unknown model kind {meta.get('kind')!r}")
            model = classes[meta["kind"]]._from_meta(meta)
            model._features = data["features"].astype(np.float32)
            model._costs = data["costs"].astype(np.float64)
            model._keys = [str(k) for k in data["keys"]]
            model._restore({name: data[name] for name in data.files})
        return model

    @classmethod
    def _from_meta(cls, meta: dict) -> "CostModel":
        return cls(seed=meta["seed"])

    def _restore(self, arrays: dict) -> None:
        pass


class RandomModel(CostModel):
    """Scores candidates at random (seeded): the baseline a learned model must beat."""

    kind = "random"

    def __init__(self, seed: int = 0):
        super().__init__(seed)
        self._rng = np.random.default_rng(seed)

    def _train(self) -> None:
        pass

    def predict(self, features) -> np.ndarray:
        features = np.asarray(features)
        return self._rng.random(1 if features.ndim == 1 else len(features))


class XGBoostCostModel(CostModel):
    """Gradient-boosted trees (xgboost) trained to rank candidates within each workload.

    ``objective`` is ``"rank:pairwise"`` (default) or ``"rank:ndcg"``.  Training is
    deterministic for a given seed.  Before any training, :meth:`predict` gives seeded
    random scores, so a search starts as random sampling.

    The defaults (trees of depth 3, 128 sampled pairs per candidate) were chosen on the
    first 500 candidates of 15 tuning logs of matmul and conv2d, 5 held-out splits each:
    pairwise accuracy 0.833 (matmul) and 0.851 (conv2d) against 0.795 and 0.822 with
    depth 6 and 8 pairs, no worse among the fastest quarter, and training in half the
    time."""

    kind = "xgboost"

    def __init__(self, seed: int = 0, num_rounds: int = 120, objective: str = "rank:pairwise",
                 max_depth: int = 3, learning_rate: float = 0.2, num_threads: int = 0,
                 params: dict | None = None):
        super().__init__(seed)
        if objective not in ("rank:pairwise", "rank:ndcg"):
            raise TensorLangValueError(
                f"XGBoostCostModel: objective must be 'rank:pairwise' or 'rank:ndcg', got "
                f"{objective!r}")
        self.num_rounds = num_rounds
        self.objective = objective
        self.params = {"max_depth": max_depth, "eta": learning_rate, "gamma": 1e-4,
                       "min_child_weight": 1, "subsample": 1.0, "lambda": 1.0,
                       "tree_method": "hist",
                       # ndcg learns nothing from "mean" pairs or from the top 8 alone
                       # (constant predictions): it ranks the top 32 instead
                       "lambdarank_pair_method": "mean" if objective == "rank:pairwise"
                       else "topk",
                       "lambdarank_num_pair_per_sample":
                           128 if objective == "rank:pairwise" else 32,
                       **({"nthread": num_threads} if num_threads else {}),
                       **(params or {})}
        self._booster = None
        self._rng = np.random.default_rng(seed)

    def _train(self) -> None:
        self._booster = self._boost(self.num_rounds)

    def _boost(self, rounds: int, base=None):
        """A booster of ``rounds`` trees fitted to the samples (added to the trees of
        booster ``base``, which is left as it is, when given)."""
        import xgboost
        labels = relative_throughput(self._costs, self._keys)
        if self.objective == "rank:ndcg":
            # ndcg wants small integer relevance grades
            labels = np.round(labels * 30)
        group_ids = {key: k for k, key in enumerate(dict.fromkeys(self._keys))}
        qid = np.array([group_ids[k] for k in self._keys], dtype=np.int64)
        order = np.argsort(qid, kind="stable")  # xgboost wants each group's rows together
        matrix = xgboost.DMatrix(self._features[order], label=labels[order], qid=qid[order])
        params = {"objective": self.objective, "seed": self.seed, "verbosity": 0,
                  **self.params}
        return xgboost.train(params, matrix, num_boost_round=rounds, xgb_model=base)

    def predict(self, features) -> np.ndarray:
        import xgboost
        features = np.asarray(features, dtype=np.float32)
        if features.ndim == 1:
            features = features[None, :]
        if self._booster is None:
            return self._rng.random(len(features))
        return self._booster.predict(xgboost.DMatrix(features)).astype(np.float64)

    # -- persistence -------------------------------------------------------------------
    def _state_meta(self) -> dict:
        return {"num_rounds": self.num_rounds, "objective": self.objective,
                "params": self.params}

    def _state(self) -> dict:
        if self._booster is None:
            return {}
        return {"booster": np.frombuffer(bytes(self._booster.save_raw("json")),
                                         dtype=np.uint8)}

    @classmethod
    def _from_meta(cls, meta: dict) -> "XGBoostCostModel":
        model = cls(seed=meta["seed"], num_rounds=meta["num_rounds"],
                    objective=meta["objective"])
        model.params = dict(meta["params"])
        return model

    def _restore(self, arrays: dict) -> None:
        if "booster" in arrays:
            import xgboost
            self._booster = xgboost.Booster()
            self._booster.load_model(bytearray(arrays["booster"].tobytes()))

