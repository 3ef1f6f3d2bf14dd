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
        every candidate's output is compared with."""
        outputs = [t.op for t in self.args if not isinstance(t.op, PlaceholderOp)]
        return create_schedule(outputs), list(self.args)

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
