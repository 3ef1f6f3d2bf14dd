"""A cost model trained offline on the tuning logs of a corpus of operators and shapes,
shipped in the package (``data/pretrained_llvm.json``), and the tuner's prior on llvm.

A fresh model knows nothing until a run has measured its first batch, so the first
rounds of every run are random samples.  :class:`PretrainedCostModel` scores candidates
with the pretrained booster from the first round, and once the run has measurements it
keeps learning from them: each retraining fits trees on the run's own samples *on top
of* the pretrained trees (xgboost training continuation), so the prior's ranking is the
starting point the run's measurements correct.

Why continuation rather than a blend of prior and fresh scores weighted by sample
count: replayed on the corpus logs (16 workloads, 16-40 trials each), each workload held
out of the prior in turn, 5 splits (``benchmarks/bench_pretrained.py --replay``),
pairwise accuracy on the held-out workload's other candidates was, for 0 / 8 / 16 / 32
samples of the run: fresh 0.508 / 0.562 / 0.602 / 0.669, prior alone 0.594 / 0.599 /
0.613 / 0.639, continuation 0.594 / 0.613 / 0.631 / 0.669, blend (weight n / (n + 32))
0.594 / 0.606 / 0.637 / 0.685; the true rank of the top 5 picks differed by at most
0.01 between the two.  Continuation is as good where the prior matters most (the first
rounds) and within 0.016 later; it needs no weight schedule and no scaling of scores
of two models to one another, and it never falls below the fresh model in this replay.

>>> model = pretrained_cost_model("llvm")      # None (with a TuneWarning) if unusable
>>> tl.autotune(C, trials=64)                  # uses it by default on llvm
>>> tl.autotune(C, trials=64, pretrained=False)            # a fresh model
>>> tl.autotune(C, trials=64, pretrained="my_model.json")  # another model file

``TENSORLANG_PRETRAINED_MODEL`` names another model file for every run, or turns the
prior off with ``off``.  A model file is used only where its feature version (a hash of
:data:`FEATURE_NAMES` and :data:`FEATURE_REVISION`) and its target (kind and CPU
architecture) match; a file that is missing, corrupt or of another version is reported
once per process with a :class:`TuneWarning`, and tuning starts from a fresh model.
``benchmarks/make_pretrained_model.py`` regenerates the corpus and the shipped model.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import platform
import warnings

import numpy as np

from ..errors import TensorLangValueError
from .cost_model import XGBoostCostModel
from .features import FEATURE_NAMES, FEATURE_REVISION, FEATURE_VERSION
from .tune_warnings import TuneWarning, user_stacklevel

#: the model file shipped with the package, for llvm targets
DEFAULT_MODEL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                                  "pretrained_llvm.json")
#: environment variable naming another model file, or ``off`` to tune without one
MODEL_ENV = "TENSORLANG_PRETRAINED_MODEL"
FORMAT = "tensorlang pretrained cost model"
FORMAT_VERSION = 1
_OFF = ("off", "0", "none", "false", "")


class PretrainedModelError(TensorLangValueError):
    """A pretrained model file that cannot be used (missing, corrupt, another version)."""


def host_cpu() -> dict:
    """The CPU models are trained on: name, triple and features, as LLVM sees them."""
    try:
        import llvmlite.binding as llvm
        return {"name": llvm.get_host_cpu_name(), "triple": llvm.get_process_triple(),
                "features": llvm.get_host_cpu_features().flatten()}
    except Exception:  # noqa: BLE001 - a description only
        return {"name": "unknown", "triple": f"{platform.machine()}-unknown", "features": ""}


def _arch(triple: str) -> str:
    return triple.split("-")[0]


# -- the model --------------------------------------------------------------------------

class PretrainedCostModel(XGBoostCostModel):
    """An :class:`XGBoostCostModel` that starts from a pretrained booster (``prior``).

    Before any sample it predicts with the prior; from then on each retraining adds
    ``online_rounds(n)`` trees fitted to the ``n`` samples of the run to the prior's
    trees (xgboost's ``xgb_model=`` continuation), never changing the prior itself.
    The default, ``min(num_rounds, 16 + n // 2)`` trees, lets a few measurements adjust
    the prior without drowning it and gives a long run as many trees as a fresh model.
    ``meta``: the model file's metadata (corpus, CPU, versions), kept for reports."""

    kind = "pretrained"

    def __init__(self, prior, seed: int = 0, meta: dict | None = None,
                 online_rounds=None, **kwargs):
        super().__init__(seed, **kwargs)
        if isinstance(prior, (bytes, bytearray)):
            prior = _booster_from_bytes(bytes(prior))
        self.prior = prior
        self.meta = dict(meta or {})
        self.online_rounds = online_rounds

    @property
    def is_trained(self) -> bool:
        return True

    def rounds_for(self, samples: int) -> int:
        """Trees added on top of the prior for ``samples`` samples of the run."""
        if self.online_rounds is not None:
            rounds = self.online_rounds(samples) if callable(self.online_rounds) \
                else int(self.online_rounds)
        else:
            rounds = 16 + samples // 2
        return max(1, min(self.num_rounds, rounds))

    def _train(self) -> None:
        self._booster = self._boost(self.rounds_for(self.num_samples), base=self.prior)

    def predict(self, features) -> np.ndarray:
        import xgboost
        features = np.asarray(features, dtype=np.float32)
        if features.ndim == 1:
            features = features[None, :]
        booster = self._booster if self._booster is not None else self.prior
        return booster.predict(xgboost.DMatrix(features)).astype(np.float64)

    # -- persistence -------------------------------------------------------------------
    def _state_meta(self) -> dict:
        rounds = self.online_rounds if not callable(self.online_rounds) else None
        return {**super()._state_meta(), "pretrained": self.meta, "online_rounds": rounds}

    def _state(self) -> dict:
        prior = np.frombuffer(bytes(self.prior.save_raw("ubj")), dtype=np.uint8)
        return {**super()._state(), "prior": prior}

    @classmethod
    def _from_meta(cls, meta: dict) -> "PretrainedCostModel":
        model = cls(None, seed=meta["seed"], meta=meta.get("pretrained"),
                    online_rounds=meta.get("online_rounds"), num_rounds=meta["num_rounds"],
                    objective=meta["objective"])
        model.params = dict(meta["params"])
        return model

    def _restore(self, arrays: dict) -> None:
        super()._restore(arrays)
        self.prior = _booster_from_bytes(arrays["prior"].tobytes())


def _booster_from_bytes(raw: bytes):
    import xgboost
    booster = xgboost.Booster()
    booster.load_model(bytearray(raw))
    return booster


# -- training and the model file ---------------------------------------------------------

def train_prior(features, costs, workload_keys, seed: int = 0, num_rounds: int = 200,
                max_depth: int = 4, num_threads: int = 1) -> XGBoostCostModel:
    """The prior: an :class:`XGBoostCostModel` ranking candidates within each workload
    (labels are relative throughput per workload, as in every model here), trained on
    samples of many workloads.  ``features`` must be of the current extractor."""
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or features.shape[1] != len(FEATURE_NAMES):
        raise TensorLangValueError(
            f"train_prior: features must be an (n, {len(FEATURE_NAMES)}) array of the "
            f"current feature extractor, got shape {features.shape}")
    model = XGBoostCostModel(seed=seed, num_rounds=num_rounds, max_depth=max_depth,
                             num_threads=num_threads, params={"max_bin": 64})
    model.fit(features, costs, workload_keys)
    return model


def featurize_records(space, records) -> tuple:
    """``(features, costs)`` of the trials among ``records`` (of ``space``'s workload),
    the features recomputed from each record's config by the current extractor (so
    that a model trained on them matches it, whatever version wrote the log).  Trials
    whose config no longer lowers are left out."""
    from ..driver import lower
    from .features import extract_features
    from .record import record_config
    rows, costs = [], []
    for record in records:
        config = record_config(record) if record.kind == "trial" else None
        if config is None:
            continue
        try:
            schedule, args = space.apply(config)
            rows.append(extract_features(lower(schedule, args, name="candidate")))
        except Exception:  # noqa: BLE001 - a config of an older space: skipped
            continue
        costs.append(record.mean_cost)
    features = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(FEATURE_NAMES))
    return features, costs


def model_document(model: XGBoostCostModel, corpus: list, target: str = "llvm",
                   notes: str = "") -> dict:
    """The JSON document of a model file: the booster (UBJSON, base64) and what it was
    trained on (``corpus``: one dict per workload, e.g. name, shape, key, samples)."""
    import xgboost
    if model._booster is None:
        raise TensorLangValueError("model_document: the model is not trained")
    return {"format": FORMAT, "format_version": FORMAT_VERSION,
            "feature_version": FEATURE_VERSION, "feature_revision": FEATURE_REVISION,
            "feature_count": len(FEATURE_NAMES), "target": target, "cpu": host_cpu(),
            "xgboost_version": xgboost.__version__, "objective": model.objective,
            "num_rounds": model.num_rounds, "params": model.params,
            "samples": model.num_samples, "corpus": list(corpus), "notes": notes,
            **_booster_fields(bytes(model._booster.save_raw("ubj")))}


def _booster_fields(raw: bytes) -> dict:
    """The booster of a model file, base64, with the sha256 digest of its bytes: xgboost
    may crash the process on damaged model bytes instead of raising, so they are checked
    against the digest before xgboost reads them."""
    return {"booster_sha256": hashlib.sha256(raw).hexdigest(),
            "booster": base64.b64encode(raw).decode()}


def write_model_file(document: dict, path) -> None:
    with open(path, "w") as f:
        json.dump(document, f, separators=(",", ":"))
        f.write("\n")


def read_model_file(path) -> tuple:
    """``(booster, metadata)`` of a model file; :class:`PretrainedModelError` saying
    what is wrong with it otherwise."""
    try:
        with open(path) as f:
            document = json.load(f)
    except FileNotFoundError:
        raise PretrainedModelError(f"pretrained cost model {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PretrainedModelError(f"pretrained cost model {path} cannot be read "
                                   f"({type(error).__name__}: {error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise PretrainedModelError(f"{path} is not a tensorlang pretrained cost model")
    if document.get("format_version") != FORMAT_VERSION:
        raise PretrainedModelError(
            f"pretrained cost model {path} has format version "
            f"{document.get('format_version')!r}; this tensorlang reads {FORMAT_VERSION}")
    if document.get("feature_version") != FEATURE_VERSION or \
            document.get("feature_count") != len(FEATURE_NAMES):
        raise PretrainedModelError(
            f"pretrained cost model {path} was trained on features of version "
            f"{document.get('feature_version')!r} ({document.get('feature_count')} "
            f"entries); this tensorlang computes version {FEATURE_VERSION} "
            f"({len(FEATURE_NAMES)} entries): regenerate it with "
            f"benchmarks/make_pretrained_model.py")
    try:
        raw = base64.b64decode(document["booster"], validate=True)
        if hashlib.sha256(raw).hexdigest() != document.get("booster_sha256"):
            raise ValueError("the booster's bytes do not match their sha256 digest "
                             "(booster_sha256)")
        booster = _booster_from_bytes(raw)
        if booster.num_features() != len(FEATURE_NAMES):
            raise ValueError(f"the booster reads {booster.num_features()} features")
    except Exception as error:  # noqa: BLE001 - whatever xgboost says of a damaged model
        raise PretrainedModelError(f"pretrained cost model {path} is corrupt "
                                   f"({type(error).__name__}: {error})") from None
    meta = {k: v for k, v in document.items() if k not in ("booster", "booster_sha256")}
    meta["path"] = str(path)
    return booster, meta


def check_target(meta: dict, target: str) -> None:
    """Raise :class:`PretrainedModelError` unless a model of ``meta`` suits ``target``:
    the same kind, and for llvm a CPU of the same architecture (another CPU model of
    the architecture is fine: the prior is a starting point the run corrects)."""
    from ..target import Target
    kind = Target(target).kind
    if meta.get("target") != kind:
        raise PretrainedModelError(
            f"pretrained cost model {meta.get('path')} is for target "
            f"{meta.get('target')!r}, not {kind!r}")
    if kind == "llvm":
        mine = _arch(host_cpu()["triple"])
        theirs = _arch(str((meta.get("cpu") or {}).get("triple", "")))
        if mine != theirs:
            raise PretrainedModelError(
                f"pretrained cost model {meta.get('path')} was trained on a {theirs} CPU, "
                f"this is {mine}")


#: (path, mtime) -> (booster, meta) or the error, read once per process
_CACHE: dict = {}
#: warnings already given, so that each is given once per process
_WARNED: set = set()


def model_path(pretrained=None):
    """The model file a run uses: ``pretrained`` (True / None: the environment's
    :data:`MODEL_ENV` or the shipped model; False: none; else a path), or None."""
    if pretrained is False:
        return None
    if pretrained is None or pretrained is True:
        env = os.environ.get(MODEL_ENV)
        if env is not None:
            return None if env.strip().lower() in _OFF else env
        return DEFAULT_MODEL_PATH
    if isinstance(pretrained, (str, os.PathLike)):
        return os.fspath(pretrained)
    raise TensorLangValueError(f"autotune: pretrained must be True, False, None or the path "
                               f"of a model file, got {pretrained!r}")


def pretrained_cost_model(target, pretrained=None, seed: int = 0, **kwargs):
    """A :class:`PretrainedCostModel` for ``target`` from the model file that
    ``pretrained`` names (:func:`model_path`), or None: turned off, no model for the
    target's kind (cuda, without a file asked for), or a file that cannot be used --
    then a :class:`TuneWarning` says why, once per process and reason."""
    from ..target import Target
    path = model_path(pretrained)
    if path is None:
        return None
    asked = pretrained is not None and pretrained is not True or \
        os.environ.get(MODEL_ENV) is not None
    if Target(target).kind != "llvm" and not asked:
        return None  # models are shipped for llvm only
    try:
        key = (path, os.stat(path).st_mtime_ns)
    except OSError:
        key = (path, None)
    if key not in _CACHE:
        try:
            _CACHE[key] = read_model_file(path)
        except PretrainedModelError as error:
            _CACHE[key] = error
    loaded = _CACHE[key]
    try:
        if isinstance(loaded, PretrainedModelError):
            raise loaded
        check_target(loaded[1], target)
    except PretrainedModelError as error:
        reason = str(error)
        if reason not in _WARNED:
            _WARNED.add(reason)
            warnings.warn(f"{reason}; tuning starts from a fresh cost model instead",
                          TuneWarning, stacklevel=user_stacklevel())
        return None
    return PretrainedCostModel(loaded[0], seed=seed, meta=loaded[1], **kwargs)
