"""Schedules: how to compute a tensor expression (loop order, tiling, parallelism,
where each stage is computed and stored), and lowering a schedule to loop IR.

>>> s = tl.create_schedule(C)
>>> xo, xi = s[C].split(C.op.axis[0], factor=32)
>>> print(s)          # the steps, as the Python that rebuilds them
"""
from .stage import Stage, Split, Fuse, Singleton, install_primitives  # noqa: F401
from .steps import Step, steps_to_json, steps_from_json  # noqa: F401
from .schedule import Schedule, create_schedule, replay  # noqa: F401
from . import attach, cache, group, rfactor
from .bound import infer_bounds  # noqa: F401
from .lower import schedule_to_tir  # noqa: F401

# the primitives built on the core become the methods s[C].compute_at(...),
# s.cache_read(...), ... (the core imports none of these modules)
install_primitives(attach.compute_at, attach.compute_inline, attach.compute_root,
                   cache.cache_read, cache.cache_write, rfactor.rfactor, group.create_group)
