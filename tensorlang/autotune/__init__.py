"""Autotuning: features of lowered candidates, cost models that rank them, and tuning
records that make tuning resumable.

>>> from tensorlang.autotune import extract_features, XGBoostCostModel, RecordLog
"""
from .features import FEATURE_NAMES, extract_features, extract_features_batch  # noqa: F401
from .cost_model import (CostModel, XGBoostCostModel, RandomModel,  # noqa: F401
                         pairwise_accuracy, relative_throughput)
from .record import (TuningRecord, RecordLog, RecordWarning, ERROR_KINDS,  # noqa: F401
                     RECORD_VERSION, canonical_config)
from .workload import workload_key, workload_description, canonical_te_text  # noqa: F401
