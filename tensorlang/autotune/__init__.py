"""Autotuning: search spaces of schedules, features of lowered candidates, cost models that
rank them, isolated and checked measurement, evolutionary search, and tuning records that
make tuning resumable.

The package is itself callable: ``tl.autotune(C, trials=200)`` is
:func:`tensorlang.autotune.tuner.autotune`.

>>> res = tl.autotune(C, target="llvm", trials=200, log_file="matmul.jsonl")
>>> with tl.autotune.apply_history_best("matmul.jsonl"):
...     s, args = tl.autotune.best_schedule(C, "llvm")
"""
import sys as _sys
import types as _types

from .features import FEATURE_NAMES, extract_features, extract_features_batch  # noqa: F401
from .cost_model import (CostModel, XGBoostCostModel, RandomModel,  # noqa: F401
                         pairwise_accuracy, relative_throughput)
from .record import (TuningRecord, RecordLog, RecordWarning, ERROR_KINDS,  # noqa: F401
                     RECORD_VERSION, canonical_config)
from .workload import workload_key, workload_description, canonical_te_text  # noqa: F401
from .space import Config, SearchSpace  # noqa: F401
from .flops import count_flops  # noqa: F401
from .measure import (MeasureOptions, MeasureTask, MeasureResult, BuildResult,  # noqa: F401
                      Runner, LocalRunner, LocalBuilder)
from .search import EvolutionarySearch  # noqa: F401
from .task_scheduler import GradientTaskScheduler  # noqa: F401
from .tuner import autotune, TuneResult, MemoryLog  # noqa: F401
from .dispatch import (apply_history_best, best_schedule, build, TuneWarning,  # noqa: F401
                       ApplyHistoryBest)

#: names provided by modules written alongside this package, imported on first use
_LAZY = {"template": "template", "TemplateSpace": "template", "ConfigSpace": "template",
         "sketch_space": "sketch", "gpu_sketch_space": "sketch_gpu"}


class _AutotunePackage(_types.ModuleType):
    """The package module, callable as :func:`autotune`."""

    def __call__(self, *args, **kwargs):
        return autotune(*args, **kwargs)

    def __getattr__(self, name):
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'tensorlang.autotune' has no attribute '{name}'")
        import importlib
        try:
            value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        except (ImportError, AttributeError) as error:
            raise AttributeError(f"tensorlang.autotune.{name} is not available: "
                                 f"{error}") from None
        setattr(self, name, value)
        return value

    def __setattr__(self, name, value):
        # Importing the submodule ``template`` sets the package attribute of that name to
        # the module; ``tl.autotune.template`` must stay the decorator.
        if name == "template" and isinstance(value, _types.ModuleType) and \
                callable(getattr(value, "template", None)):
            value = value.template
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _AutotunePackage
