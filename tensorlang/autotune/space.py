"""Search spaces: the set of schedules a tuner may choose from, and the configs that name
one schedule in it.

A :class:`Config` is a handful of JSON values (tile sizes, an unroll depth, where a
producer is computed, ...) under the name of the sketch they fill in.  A
:class:`SearchSpace` turns a config into a fresh schedule (:meth:`SearchSpace.apply`),
draws random configs, mutates and crosses them over for evolutionary search.  The schedule
a config yields is itself a replayable list of schedule steps (``Schedule.steps``), which
is what tuning records store next to the config.

>>> space = sketch_space([C], "llvm")          # rules derived from the compute definition
>>> cfg = space.sample(np.random.default_rng(0))
>>> s, args = space.apply(cfg)
>>> mod = tl.build(s, args)
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np


def _freeze(value: Any) -> Any:
    """A hashable copy of a JSON value (lists become tuples, dicts sorted item tuples)."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _thaw(value: Any) -> Any:
    """The JSON form of a frozen decision value (tuples become lists)."""
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Config:
    """One point of a search space: the sketch it fills in and its decisions.

    ``decisions`` is a tuple of ``(name, value)`` pairs sorted by name; values are ints,
    floats, strings, bools or (nested) tuples of them.  Configs are immutable and
    hashable; equal decisions give equal :meth:`key`.
    """

    sketch: str
    decisions: tuple

    @staticmethod
    def make(sketch: str, decisions: dict) -> "Config":
        """A config from a sketch name and a dict of JSON-like decisions."""
        return Config(sketch, tuple(sorted((str(k), _freeze(v)) for k, v in decisions.items())))

    def __getitem__(self, name: str) -> Any:
        for key, value in self.decisions:
            if key == name:
                return value
        raise KeyError(f"config of sketch '{self.sketch}' has no decision '{name}'; it has "
                       f"{[k for k, _ in self.decisions]}")

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def as_dict(self) -> dict:
        return {k: _thaw(v) for k, v in self.decisions}

    def with_decision(self, name: str, value: Any) -> "Config":
        """A copy with decision ``name`` set to ``value``."""
        values = self.as_dict()
        values[name] = value
        return Config.make(self.sketch, values)

    def to_json(self) -> dict:
        return {"sketch": self.sketch, "decisions": self.as_dict()}

    @staticmethod
    def from_json(data: dict) -> "Config":
        return Config.make(data["sketch"], data["decisions"])

    def key(self) -> str:
        """Canonical text: equal configs, equal keys (what "measured already" compares)."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={_thaw(v)}" for k, v in self.decisions)
        return f"{self.sketch}({inner})"


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
        from ..schedule import create_schedule
        from ..te.graph import PlaceholderOp
        outputs = [t.op for t in self.args if not isinstance(t.op, PlaceholderOp)]
        return create_schedule(outputs), list(self.args)

    def size(self) -> float:
        """How many configs the space holds (an estimate; ``inf`` where unbounded)."""
        return float("inf")

    def contains(self, config: Config) -> bool:
        """Whether ``config`` is a point of this space: its sketch, every decision present
        and in its domain (a space that cannot tell says True)."""
        return True
