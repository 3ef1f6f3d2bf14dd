"""Integer arithmetic analysis: linear forms, constant bounds, intervals and the simplifier.

:class:`Analyzer` is the entry point for questions under known variable ranges;
:func:`eval_interval` evaluates the :class:`IntervalSet` of an expression over variable
domains.  :func:`linear` gives the :class:`LinearSum` of an integer expression, and the
functions of :mod:`.linear_interval` (``linear_interval``, ``relax``, ``upper_bound``,
``prove_less``, ``simplify_linear``...) evaluate intervals whose ends stay linear forms,
which is what bound inference and lowering need for exact loop extents.
"""
from .canonical import LinearSum, atom_key, linear  # noqa: F401
from .const_int_bound import ConstIntBound  # noqa: F401
from .int_set import IntervalSet, is_neg_inf, is_pos_inf  # noqa: F401
from .linear_interval import (floordiv_bound, interval_max, interval_min,  # noqa: F401
                              interval_union, is_point_interval, linear_interval,
                              lower_bound, prove_at_least, prove_less, relax,
                              simplify_linear, upper_bound)
from .analyzer import Analyzer, eval_interval  # noqa: F401

__all__ = ["Analyzer", "ConstIntBound", "IntervalSet", "eval_interval", "is_neg_inf",
           "is_pos_inf", "LinearSum", "atom_key", "linear", "linear_interval", "relax",
           "upper_bound", "lower_bound", "prove_less", "prove_at_least", "simplify_linear",
           "floordiv_bound", "interval_min", "interval_max", "interval_union",
           "is_point_interval"]
