"""Schedules: how to compute a tensor expression (loop order, tiling, parallelism,
where each stage is computed and stored), and lowering a schedule to loop IR.

>>> s = tl.create_schedule(C)
>>> xo, xi = s[C].split(C.op.axis[0], factor=32)
>>> print(s)          # the steps, as the Python that rebuilds them
"""
from .stage import Stage, Split, Fuse  # noqa: F401
from .schedule import Schedule, create_schedule  # noqa: F401
from .steps import replay, steps_to_json, steps_from_json, steps_to_python  # noqa: F401
from .bound import infer_bounds  # noqa: F401
from .lower import schedule_to_tir  # noqa: F401
