"""Autotuning: search spaces of schedules, features of lowered candidates, cost models that
rank them, isolated and checked measurement, evolutionary search, and tuning records that
make tuning resumable.

The package is itself callable: ``tl.autotune(C, trials=200)`` is
:func:`tensorlang.autotune.tuner.autotune`.

>>> res = tl.autotune(C, target="llvm", trials=200, log_file="matmul.jsonl")
>>> with tl.autotune.apply_history_best("matmul.jsonl"):
...     s, args = tl.autotune.best_schedule(C, "llvm")

The modules form layers, read bottom-up (:data:`LAYERS`); a module imports modules of
its own layer or of earlier ones, never of a later one, and no two import each other
(``tests/autotune/test_layering.py`` checks both, imports inside functions included):

=============  ==========================================================================
records        warnings, timing, configs, workload keys, flops, input ranges, the log
               (``RecordLog``, ``MemoryLog``) and the checks a record must pass
spaces         ``SearchSpace``, features of lowered code, the CPU and GPU sketch rules
               and their shared helpers, templates, the space of a given workload
measurement    worker processes, building and running candidates (and the functions
               extern stages call, shipped to them), the cost model
tuning loop    evolutionary search, the task scheduler, the session, ``autotune``
public API     ``best_schedule``, ``apply_history_best``, ``build``, and this package
=============  ==========================================================================
"""
import sys as _sys
import types as _types

from .tune_warnings import RecordWarning, TuneWarning
from .config import Config
from .workload import workload_key, workload_description, canonical_te_text
from .flops import count_flops
from .record import (TuningRecord, RecordLog, MemoryLog, ERROR_KINDS, RECORD_VERSION,
                     canonical_config)
from .space import SearchSpace
from .features import FEATURE_NAMES, extract_features, extract_features_batch
from .sketch import sketch_space
from .sketch_gpu import gpu_sketch_space
from .cost_model import (CostModel, XGBoostCostModel, RandomModel, pairwise_accuracy,
                         relative_throughput)
from .pretrained import PretrainedCostModel
from .measure import (MeasureOptions, MeasureTask, MeasureResult, BuildResult, Runner,
                      LocalRunner, LocalBuilder)
from .search import EvolutionarySearch
from .task_scheduler import GradientTaskScheduler
from .tuner import autotune, TuneResult
from .dispatch import apply_history_best, best_schedule, build, ApplyHistoryBest
# Last: importing the submodule ``template`` (above, through the spaces) made the package
# attribute of that name the module; ``tl.autotune.template`` is the decorator.
from .template import template, TemplateSpace, ConfigSpace

#: the layers of the package, bottom-up: (name, modules); see the module docstring
LAYERS = (
    ("records", ("tune_warnings", "timing", "config", "workload", "flops", "inputs",
                 "op_workloads", "record", "record_check")),
    ("spaces", ("space", "features", "sketch_common", "sketch_domains", "sketch_rules",
                "sketch_gpu_rules", "sketch_gpu", "sketch", "template", "workload_space")),
    ("measurement", ("workers", "measure_worker", "worker_main", "measure", "extern_functions",
                     "cost_model", "pretrained")),
    ("tuning loop", ("search", "task_scheduler", "progress", "session", "tuner")),
    ("public API", ("dispatch", "__init__")),
)

__all__ = [
    "autotune", "TuneResult", "best_schedule", "apply_history_best", "build",
    "ApplyHistoryBest", "template", "TemplateSpace", "ConfigSpace", "sketch_space",
    "gpu_sketch_space", "SearchSpace", "Config", "RecordWarning", "TuneWarning",
    "TuningRecord", "RecordLog", "MemoryLog", "ERROR_KINDS", "RECORD_VERSION",
    "canonical_config", "workload_key", "workload_description", "canonical_te_text",
    "count_flops", "FEATURE_NAMES", "extract_features", "extract_features_batch",
    "CostModel", "XGBoostCostModel", "RandomModel", "PretrainedCostModel", "pairwise_accuracy",
    "relative_throughput", "MeasureOptions", "MeasureTask", "MeasureResult", "BuildResult",
    "Runner", "LocalRunner", "LocalBuilder", "EvolutionarySearch", "GradientTaskScheduler",
]


class _CallablePackage(_types.ModuleType):
    """The class of this package's module object: ``tl.autotune(...)`` calls
    :func:`autotune`.  Nothing else differs from a plain module."""

    def __call__(self, *args, **kwargs):
        return autotune(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallablePackage
