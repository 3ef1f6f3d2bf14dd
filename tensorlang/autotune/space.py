"""Search spaces: the set of schedules a tuner may choose from.

A :class:`SearchSpace` names each of its schedules by a :class:`~.config.Config` (the
decisions that fill in one of its sketches); it turns a config into a fresh schedule
(:meth:`SearchSpace.apply`), draws random configs, mutates and crosses them over for
evolutionary search.  The schedule a config yields is itself a replayable list of
schedule steps (``Schedule.steps``), which is what tuning records store next to the
config.

>>> space = sketch_space([C], "llvm")          # rules derived from the compute definition
>>> cfg = space.sample(np.random.default_rng(0))
>>> s, args = space.apply(cfg)
>>> mod = tl.build(s, args)
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..schedule import create_schedule
from ..te.graph import PlaceholderOp
from .config import Config


class SearchSpace(ABC):
    """The schedules a tuner may pick for one workload on one target.

    ``args`` are the workload's tensors in parameter order (placeholders, then outputs):
    the reference build (the unscheduled computation) and every candidate take arrays in
    this order.  ``workload_key`` names the workload in tuning records.
    """

    #: the tensors of the workload, in parameter order
    args: list
    #: the structural key of the workload (see ``workload.workload_key``)
    workload_key: str

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Config:
        """A random config of this space."""

    @abstractmethod
    def mutate(self, config: Config, rng: np.random.Generator) -> Config:
        """A config that differs from ``config`` in one or a few decisions."""

    @abstractmethod
    def crossover(self, first: Config, second: Config, rng: np.random.Generator) -> Config:
        """A config taking each decision from one of two configs of the same sketch (or a
        copy of one of them where the sketches differ)."""

    @abstractmethod
    def apply(self, config: Config):
        """``(Schedule, args)``: a fresh schedule realising ``config``, over tensors whose
        parameter order matches :attr:`args`."""

    def reference(self):
        """``(Schedule, args)`` of the unscheduled computation, the correctness reference
        every candidate's output is compared with (see :func:`reference_schedule`)."""
        outputs = [t.op for t in self.args if not isinstance(t.op, PlaceholderOp)]
        return reference_schedule(outputs), list(self.args)

    def seeds(self) -> list:
        """Configs worth measuring before any other (an expert's starting points, see
        ``SketchSpace.seeds``); tuning measures them in its first batch.  None by
        default."""
        return []

    def size(self) -> float:
        """How many configs the space holds (an estimate; ``inf`` where unbounded)."""
        return float("inf")

    def contains(self, config: Config) -> bool:
        """Whether ``config`` is a point of this space: its sketch, every decision present
        and in its domain (a space that cannot tell says True)."""
        return True


def reference_schedule(outputs):
    """The schedule of the correctness reference: the computation as written, every stage
    at the root and nothing inlined, with two changes that leave each output point's
    value as written (its reduction steps in their order; a compiler may still contract
    a multiply-add, as in any build): a stage's reduction loops run outside its last
    spatial loop (a matmul's ``i, k, j``: the rows of ``B`` read in order, not a column
    at a time, which made the reference of a 1024^3 matmul take 11 s) where an input
    streams along that axis, and its outer spatial loops run in parallel.  Stages of
    one axis, of a scan, with several outputs, an initial value, or a reduction range
    that depends on the last axis stay as written."""
    from ..schedule.stage import ROOT
    from ..te.graph import ComputeOp
    from ..tir.analysis import free_vars
    from .sketch_common import producer_loads

    s = create_schedule(outputs)
    for stage in s.stages:
        op = stage.op
        if not isinstance(op, ComputeOp) or stage.is_placeholder or len(op.axis) < 2 \
                or stage.attach_type != ROOT or s.scan_role(stage) is not None:
            continue
        axes = list(op.axis)
        if op.own_reduce_axis:
            if op.num_outputs != 1 or getattr(op.body[0], "init", None):
                continue
            last = axes[-1].var
            ranges = tuple(e for iv in op.own_reduce_axis for e in (iv.dom.min, iv.dom.extent))
            # worth it where an input streams along the last axis (matmul's B[k, j]; a
            # matrix-vector product reads its rows in order as written)
            streams = any(load.indices and last in set(free_vars((load.indices[-1],)))
                          for load in producer_loads(op))
            if streams and last not in set(free_vars(ranges)):
                stage.reorder(*axes[:-1], *op.own_reduce_axis, axes[-1])
        stage.parallel(axes[0] if len(axes) == 2 else stage.fuse(*axes[:-1]))
    return s

