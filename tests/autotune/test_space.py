"""Configs (immutable, hashable decisions with a canonical JSON key) and the parts of
SearchSpace every space shares."""
from __future__ import annotations

import json

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.autotune.space import Config, SearchSpace


def test_config_make_sorts_and_freezes():
    config = Config.make("cpu", {"b/tile": [4, [2, 3]], "a/vec": True, "c/at": -1})
    assert [k for k, _ in config.decisions] == ["a/vec", "b/tile", "c/at"]
    assert config["b/tile"] == (4, (2, 3))
    assert hash(config) == hash(Config.make("cpu", {"c/at": -1, "a/vec": True,
                                                    "b/tile": (4, (2, 3))}))
    assert config.get("missing", 7) == 7
    with pytest.raises(KeyError, match="missing"):
        config["missing"]


def test_config_json_round_trip():
    config = Config.make("template:mm", {"tile_x": [-1, 4, 2], "parallel": False,
                                         "scale": 0.5, "mode": "vec16"})
    text = json.dumps(config.to_json())
    again = Config.from_json(json.loads(text))
    assert again == config and again.key() == config.key()
    assert again.as_dict() == {"tile_x": [-1, 4, 2], "parallel": False, "scale": 0.5,
                               "mode": "vec16"}
    assert json.loads(config.key()) == config.to_json()


def test_with_decision_copies():
    config = Config.make("cpu", {"a": 1, "b": [1, 2]})
    other = config.with_decision("a", 2)
    assert config["a"] == 1 and other["a"] == 2 and other["b"] == (1, 2)
    assert other != config and other.key() != config.key()
    assert "a=2" in str(other)


class _Toy(SearchSpace):
    """A one-decision space over a doubling computation."""

    def __init__(self):
        A = te.placeholder((16,), name="A")
        B = te.compute((16,), lambda i: A[i] * 2.0, name="B")
        self.args = [A, B]
        self.workload_key = "toy"

    def sample(self, rng):
        return Config.make("toy", {"factor": int(rng.choice([1, 2, 4]))})

    def mutate(self, config, rng):
        return self.sample(rng)

    def crossover(self, first, second, rng):
        return first

    def apply(self, config):
        s = tl.create_schedule(self.args[1])
        s[self.args[1]].split(self.args[1].op.axis[0], factor=config["factor"])
        return s, list(self.args)


def test_reference_is_the_unscheduled_computation():
    space = _Toy()
    s, args = space.reference()
    assert args == space.args and not s.steps
    a = np.arange(16, dtype="float32")
    b = np.zeros(16, "float32")
    tl.build(s, args)(a, b)
    np.testing.assert_array_equal(b, a * 2)
    assert space.size() == float("inf") and space.contains(space.sample(np.random.default_rng(0)))
