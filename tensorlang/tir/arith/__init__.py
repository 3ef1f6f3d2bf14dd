"""Integer arithmetic analysis: constant bounds, symbolic intervals and the simplifier.

:class:`Analyzer` is the entry point; :func:`eval_interval` evaluates the interval of an
expression over variable domains (bound inference uses it).
"""
from .const_int_bound import ConstIntBound  # noqa: F401
from .int_set import (IntervalSet, eval_interval, NEG_INF, POS_INF, is_neg_inf,  # noqa: F401
                      is_pos_inf)
from .analyzer import Analyzer  # noqa: F401

__all__ = ["Analyzer", "ConstIntBound", "IntervalSet", "eval_interval", "NEG_INF", "POS_INF",
           "is_neg_inf", "is_pos_inf"]
