"""Small hand-written search spaces for the tuner's tests: split factors, loop order,
vectorize and parallel of a matmul (and a fault decision for the fault-injection tests)."""
from __future__ import annotations

import ctypes
import os
import time

import numpy as np

import tensorlang as tl
from tensorlang import te
from tensorlang.autotune import Config, SearchSpace, workload_key
from tensorlang.errors import InternalError

FACTORS = (1, 2, 4, 8, 16)


def matmul(n: int, m: int, k: int, dtype: str = "float32"):
    A = te.placeholder((n, k), dtype=dtype, name="A")
    B = te.placeholder((k, m), dtype=dtype, name="B")
    r = te.reduce_axis((0, k), name="k")
    C = te.compute((n, m), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), name="C")
    return A, B, C


class MatmulTileSpace(SearchSpace):
    """Tiles of i, j and k from ``FACTORS``, two loop orders, vectorize and parallel
    switches; ``faults`` adds a decision naming a fault for the runner's test hook."""

    def __init__(self, n=32, m=32, k=32, faults=(), dtype="float32"):
        self.A, self.B, self.C = matmul(n, m, k, dtype)
        self.args = [self.A, self.B, self.C]
        self.workload_key = workload_key(self.C)
        self.choices = {"tile_i": FACTORS, "tile_j": FACTORS, "tile_k": FACTORS,
                        "order": (0, 1), "vectorize": (False, True),
                        "parallel": (False, True)}
        if faults:
            self.choices["fault"] = ("none",) + tuple(faults)

    def size(self) -> float:
        return float(np.prod([len(v) for v in self.choices.values()]))

    def contains(self, config) -> bool:
        values = config.as_dict()
        return config.sketch == "tile" and set(values) == set(self.choices) and \
            all(values[name] in domain for name, domain in self.choices.items())

    def sample(self, rng):
        return Config.make("tile", {name: values[rng.integers(len(values))]
                                    for name, values in self.choices.items()})

    def mutate(self, config, rng):
        name = list(self.choices)[rng.integers(len(self.choices))]
        values = self.choices[name]
        return config.with_decision(name, values[rng.integers(len(values))])

    def crossover(self, first, second, rng):
        return Config.make("tile", {name: (first if rng.random() < 0.5 else second)[name]
                                    for name in self.choices})

    def apply(self, config):
        C = self.C
        s = tl.create_schedule(C)
        i, j = C.op.axis
        fault = config.get("fault", "none")
        if fault == "build_crash":
            os.abort()  # the build process dies (as a compiler crash would)
        io, ii = s[C].split(i, factor=config["tile_i"])
        if fault == "bad_schedule":
            s[C].split(i, factor=2)  # i is no longer a leaf: ScheduleError
        if fault == "compiler_bug":
            raise InternalError("a pass broke an invariant (injected by the test)")
        jo, ji = s[C].split(j, factor=config["tile_j"])
        ko, ki = s[C].split(C.op.reduce_axis[0], factor=config["tile_k"])
        if config["order"] == 0:
            s[C].reorder(io, jo, ko, ii, ki, ji)
        else:
            s[C].reorder(io, jo, ko, ki, ii, ji)
        if config["vectorize"]:
            s[C].vectorize(ji)
        if config["parallel"]:
            s[C].parallel(io)
        return s, list(self.args)


def all_configs(space: MatmulTileSpace) -> list:
    import itertools
    names = list(space.choices)
    return [Config.make("tile", dict(zip(names, values)))
            for values in itertools.product(*(space.choices[n] for n in names))]


def fault_hook(config, outputs):
    """Runner test hook: make a candidate crash, hang or compute a wrong value."""
    fault = config["decisions"].get("fault", "none")
    if fault == "segfault":
        ctypes.string_at(0)
    elif fault == "abort":
        os.abort()
    elif fault == "hang":
        time.sleep(3600)
    elif fault == "wrong":
        outputs[0].flat[0] += 1.0


@tl.autotune.template
def matmul_template(cfg, n, m, k):
    """A template: split i and j, vectorize or not."""
    A, B, C = matmul(n, m, k)
    s = tl.create_schedule(C)
    i, j = C.op.axis
    cfg.define_split("tile_i", i, num_outputs=2)
    cfg.define_split("tile_j", j, num_outputs=2)
    io, ii = cfg["tile_i"].apply(s, C, i)
    jo, ji = cfg["tile_j"].apply(s, C, j)
    s[C].reorder(io, jo, C.op.reduce_axis[0], ii, ji)
    cfg.define_knob("vectorize", [False, True])
    if cfg["vectorize"].val:
        s[C].vectorize(ji)
    return s, [A, B, C]


def journal_hook(config, outputs):
    """Runner test hook: append the candidate to the file ``$TL_TEST_JOURNAL`` once it
    has run (it is then in flight: measured but not yet reported); when the journal
    reaches ``$TL_TEST_KILL_AT`` lines, ``kill -9`` the tuning process."""
    import json
    import signal
    path = os.environ["TL_TEST_JOURNAL"]
    with open(path, "a") as f:
        f.write(json.dumps(config["decisions"], sort_keys=True) + "\n")
    with open(path) as f:
        count = sum(1 for _ in f)
    if count == int(os.environ.get("TL_TEST_KILL_AT", "0")):
        os.kill(os.getppid(), signal.SIGKILL)
