"""Module-level functions for the extern tuning tests: the tuner's runner process imports
them by name (as it would a user's module) to call them from the candidates it checks."""
from __future__ import annotations

import numpy as np

#: calls of :func:`drifting_scale` in this process
_CALLS = [0]


def scale(x, y, factor):
    """``y = x * factor``."""
    np.multiply(x, factor, out=y)


def drifting_scale(x, y, factor):
    """``y = x * factor`` on the first call of the process, ``x * factor + 1`` after it:
    a function whose result depends on hidden state, so that the candidates, run after
    the reference, disagree with it."""
    _CALLS[0] += 1
    np.multiply(x, factor, out=y)
    if _CALLS[0] > 1:
        y += 1.0


def nd_scale(x, y, factor):
    """``scale`` for ``tvm.register_func``, which passes NDArrays."""
    y.copyfrom(x.numpy() * factor)
