"""Whether a well-formed record of a workload can be trusted: its config a point of the
workload's search space, its steps a list of schedule steps, its cost one the machine
could have measured.

A log is a file anyone can edit, merge or damage; a record that names a decision the
space does not have, a value outside a decision's domain, or a cost no machine reaches
must neither crash tuning nor become the best.  :class:`RecordCheck` is what the tuner
and :func:`apply_history_best` pass to :meth:`RecordLog.records_for`, which skips such
records with a :class:`RecordWarning` naming the file and line.

>>> check = RecordCheck(space, "llvm", flops=2 * 64 ** 3)
>>> check(record)            # None, or what is wrong with the record
"""
from __future__ import annotations

import numpy as np

from .config import Config

#: seconds no candidate's call can beat, whatever it computes: a runner calls a kernel
#: from Python (a ctypes call alone takes ~100 ns, a GPU launch microseconds), so a
#: cost below this was not measured
MIN_CALL_SECONDS = 1e-8
#: floating-point operations per second that no machine of a target kind reaches: 100x
#: the peak of the fastest of its kind (a 2-socket server CPU's ~1e13 FLOP/s of fp32;
#: a datacenter GPU's ~1e15 FLOP/s of dense fp16 on tensor cores, which the generated
#: CUDA code does not even use)
MAX_FLOPS = {"llvm": 1e15, "cuda": 1e17}


def cost_floor(flops: float, target: str) -> float:
    """The least seconds per call a measured cost of a workload of ``flops`` operations
    on ``target`` may claim: :data:`MIN_CALL_SECONDS`, or the time at
    :data:`MAX_FLOPS` if longer."""
    kind = str(target).split()[0] if str(target).split() else "llvm"
    peak = MAX_FLOPS.get(kind, max(MAX_FLOPS.values()))
    return max(MIN_CALL_SECONDS, float(flops or 0) / peak)


def config_problem(space, config: Config) -> str | None:
    """What makes ``config`` not a point of ``space`` (an unknown or missing decision, a
    value outside its domain), or None."""
    try:
        if space.contains(config):
            return None
    except Exception:  # noqa: BLE001 - a value of a type the space cannot compare
        pass
    try:
        reference = space.sample(np.random.default_rng(0))
    except Exception:  # noqa: BLE001
        return f"config {config} is not a point of the workload's search space"
    if reference.sketch != config.sketch:
        return f"sketch '{config.sketch}' is not this workload's ('{reference.sketch}')"
    have, want = config.as_dict(), reference.as_dict()
    unknown, missing = sorted(set(have) - set(want)), sorted(set(want) - set(have))
    if unknown:
        return f"unknown decision(s) {unknown}: the workload's space has no such knob"
    if missing:
        return f"decision(s) {missing} missing"
    for name in sorted(have):
        try:
            repaired = space.contains(config.with_decision(name, want[name]))
        except Exception:  # noqa: BLE001
            repaired = False
        if repaired:
            return f"decision '{name}' = {have[name]!r} is outside its domain in the space"
    return f"decisions {have} are not a point of the workload's search space"


class RecordCheck:
    """``check(record)``: what is wrong with a well-formed record of one workload (its
    config not of ``space`` (when given), malformed steps, an implausible cost), or
    None.  ``other_sketches``: a config of another sketch passes (the workload may have
    been tuned in a search space of the user's, whose records replay by their steps)."""

    def __init__(self, space, target: str, flops: float = 0.0, other_sketches: bool = False):
        self.space = space
        self.floor = cost_floor(flops, target)
        self.sketch = None
        if space is not None and other_sketches:
            try:
                self.sketch = space.sample(np.random.default_rng(0)).sketch
            except Exception:  # noqa: BLE001 - a space that cannot sample: check nothing
                self.space = None

    def __call__(self, record) -> str | None:
        config = record.config
        if not isinstance(config, dict) or not isinstance(config.get("sketch"), str) or \
                not isinstance(config.get("decisions"), dict):
            return "its config is not {'sketch': name, 'decisions': {...}}"
        steps = config.get("steps")
        if steps is not None and (not isinstance(steps, list) or
                                  not all(isinstance(step, dict) for step in steps)):
            return "its config's steps are not a list of schedule steps"
        try:
            parsed = Config.make(config["sketch"], config["decisions"])
        except (TypeError, ValueError) as error:
            return f"its decisions cannot be read ({error})"
        if self.space is not None and self.sketch in (None, parsed.sketch):
            problem = config_problem(self.space, parsed)
            if problem is not None:
                return problem
        if record.error_kind is None and record.costs:
            fastest = min(record.costs)
            if fastest < self.floor:
                return (f"a measured cost of {fastest:.3g} s is implausible: faster than "
                        f"{self.floor:.3g} s per call, the least a kernel of this workload "
                        f"can take on any machine")
        return None
