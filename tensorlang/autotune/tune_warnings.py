"""The warnings of the autotuner, and where they point.

:class:`RecordWarning` says a line of a tuning log was skipped; :class:`TuneWarning` says
tuning or a tuned build went on in a weaker way (the default schedule for an untuned
workload, candidates built in one process, ...).  Both are warnings, not errors: a damaged
log or an untuned workload must not stop a program.
"""
from __future__ import annotations

import os
import sys


class RecordWarning(UserWarning):
    """A line of a tuning log could not be read and was skipped."""


class TuneWarning(UserWarning):
    """A tuned schedule was asked for but none is recorded: the default one is used."""


#: the directory of the tensorlang package: frames inside it are not the user's
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning raised by its caller point at the first
    frame outside tensorlang (the user's call)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
            _PACKAGE_DIR + os.sep):
        frame, level = frame.f_back, level + 1
    return level
