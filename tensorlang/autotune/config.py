"""Configs: the decisions that name one schedule of a search space, as tuning records
store them.

A :class:`Config` is a handful of JSON values (tile sizes, an unroll depth, where a
producer is computed, ...) under the name of the sketch they fill in.  It is plain,
hashable data, so records, searches and spaces can share it without knowing each other.

>>> config = Config.make("cpu", {"C/tile.i": [4, 8], "C/unroll": 16})
>>> config.key()        # canonical text: what "measured already" compares
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


def freeze(value: Any) -> Any:
    """A hashable copy of a JSON value (lists become tuples, dicts sorted item tuples)."""
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    return value


def thaw(value: Any) -> Any:
    """The JSON form of a frozen decision value (tuples become lists)."""
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
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
        return Config(sketch, tuple(sorted((str(k), freeze(v)) for k, v in decisions.items())))

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
        return {k: thaw(v) for k, v in self.decisions}

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
        inner = ", ".join(f"{k}={thaw(v)}" for k, v in self.decisions)
        return f"{self.sketch}({inner})"
