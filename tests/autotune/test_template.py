"""Template mode: knobs declared on ``cfg`` in define mode, concrete configs applied to the
schedule, the template's search space (sample, mutate, crossover, JSON round trip)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.autotune.space import Config
from tensorlang.autotune.template import (ConfigEntity, ConfigSpace, SplitEntity, Template,
                                          TemplateSpace, template)
from tensorlang.errors import TuneError


@template
def matmul_tmpl(cfg, N, M, K):
    A = te.placeholder((N, K), name="A")
    B = te.placeholder((K, M), name="B")
    k = te.reduce_axis((0, K), name="k")
    C = te.compute((N, M), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    s = tl.create_schedule(C)
    x, y = s[C].op.axis
    (kk,) = s[C].op.reduce_axis
    cfg.define_split("tile_x", x, num_outputs=2)
    cfg.define_split("tile_y", y, num_outputs=2, policy="power2")
    cfg.define_split("tile_k", kk, num_outputs=2, policy="candidate",
                     candidate=[[-1, 1], [-1, 4], [-1, 8]])
    xo, xi = cfg["tile_x"].apply(s, C, x)
    yo, yi = cfg["tile_y"].apply(s, C, y)
    ko, ki = cfg["tile_k"].apply(s, C, kk)
    cfg.define_reorder("order", [ko, ki, xi], policy="all")
    inner = cfg["order"].apply(s, C, [ko, ki, xi])
    s[C].reorder(xo, yo, *inner, yi)
    cfg.define_annotate("ann", [xi, yi], policy="try_unroll_vec")
    cfg["ann"].apply(s, C, [xi, yi], axis_lens=[cfg["tile_x"].size[-1], cfg["tile_y"].size[-1]],
                     max_unroll=16)
    cfg.define_knob("parallel", [True, False])
    if cfg["parallel"].val:
        s[C].parallel(xo)
    cfg.add_flop(2 * N * M * K)
    return s, [A, B, C]


def _check(space, config):
    s, args = space.apply(config)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((12, 10)).astype("float32")
    b = rng.standard_normal((10, 16)).astype("float32")
    c = np.zeros((12, 16), "float32")
    tl.build(s, args)(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)


def test_define_mode_collects_the_knobs():
    space = TemplateSpace(matmul_tmpl, (12, 16, 10))
    assert list(space.knobs) == ["tile_x", "tile_y", "tile_k", "order", "ann", "parallel"]
    assert len(space.knobs["tile_x"]) == 6          # divisors of 12
    assert len(space.knobs["tile_y"]) == 5          # 1, 2, 4, 8, 16
    assert len(space.knobs["order"]) == 6           # 3!
    assert len(space.knobs["ann"]) == 2 * 3
    assert space.size() == 6 * 5 * 3 * 6 * 6 * 2
    assert space.flop == 2 * 12 * 16 * 10
    assert [t.name for t in space.args] == ["A", "B", "C"]


def test_split_entity_apply_returns_outer_first():
    space = ConfigSpace()
    space.define_split("t", 24, num_outputs=3)
    assert all(e.size[0] == -1 and 24 % (e.size[1] * e.size[2]) == 0
               for e in space.space_map["t"].entities)
    A = te.placeholder((24,), name="A")
    B = te.compute((24,), lambda i: A[i] + 1.0, name="B")
    s = tl.create_schedule(B)
    loops = SplitEntity([-1, 3, 4]).apply(s, B, B.op.axis[0])
    assert len(loops) == 3 and s[B].leaf_iter_vars == loops
    assert [s[B].static_extent(iv) for iv in loops] == [2, 3, 4]


def test_every_sampled_config_computes_the_matmul():
    space = TemplateSpace(matmul_tmpl, (12, 16, 10))
    rng = np.random.default_rng(1)
    for _ in range(8):
        config = space.sample(rng)
        assert space.contains(config)
        _check(space, config)


def test_mutate_crossover_and_json_round_trip():
    space = matmul_tmpl.space((12, 16, 10))
    rng = np.random.default_rng(2)
    a, b = space.sample(rng), space.sample(rng)
    for _ in range(50):
        m = space.mutate(a, rng)
        assert space.contains(m) and m != a
        assert sum(x != y for (_, x), (_, y) in zip(m.decisions, a.decisions)) == 1
        child = space.crossover(a, b, rng)
        assert space.contains(child)
        assert all(v in (a[n], b[n]) for n, v in child.decisions)
    again = Config.from_json(json.loads(json.dumps(a.to_json())))
    assert again == a and space.contains(again)
    assert space.apply(again)[0].steps == space.apply(a)[0].steps
    entity = space.entity(a)
    assert isinstance(entity, ConfigEntity) and entity["tile_x"].size == list(a["tile_x"])


def test_config_values_drive_the_schedule():
    space = TemplateSpace(matmul_tmpl, (12, 16, 10))
    config = space.default_config()
    config = config.with_decision("tile_x", [-1, 4]).with_decision("ann", ["none", "vec"]) \
        .with_decision("parallel", True)
    s, _ = space.apply(config)
    steps = [st.to_json() for st in s.steps]
    assert {"primitive": "split", "axis": "i", "factor": 4} == \
        {k: v for k, v in steps[0].items() if k in ("primitive", "axis", "factor")}
    assert any(st["primitive"] == "vectorize" for st in steps)
    assert any(st["primitive"] == "parallel" for st in steps)
    _check(space, config)


def test_template_called_directly_and_named():
    s, args = matmul_tmpl(12, 16, 10)          # first value of every knob
    assert len(args) == 3 and s.steps
    named = template("my_matmul")(matmul_tmpl.func)
    assert isinstance(named, Template) and named.name == "my_matmul"
    assert TemplateSpace(named, (12, 16, 10)).workload_key != \
        TemplateSpace(matmul_tmpl, (12, 16, 10)).workload_key


def test_knob_values_that_are_not_json_are_stored_by_index():
    @template
    def scaled(cfg, n):
        A = te.placeholder((n,), name="A")
        cfg.define_knob("scale", [(1, 2), (3, 4)])
        factor = float(cfg["scale"].val[0])
        B = te.compute((n,), lambda i: A[i] * factor, name="B")
        return tl.create_schedule(B), [A, B]

    space = TemplateSpace(scaled, (8,))
    config = space.default_config().with_decision("scale", 1)
    assert space.contains(config)
    assert not space.contains(space.default_config().with_decision("scale", 5))


def test_template_errors_name_the_knob():
    with pytest.raises(TuneError, match="tile"):
        ConfigSpace().define_split("tile", 8, policy="nonsense")
    with pytest.raises(TuneError, match="defined twice"):
        cfg = ConfigSpace()
        cfg.define_knob("a", [1, 2])
        cfg.define_knob("a", [1, 2])
    with pytest.raises(TuneError, match="before it is defined"):
        ConfigSpace()["missing"]
    space = TemplateSpace(matmul_tmpl, (12, 16, 10))
    with pytest.raises(TuneError):
        space.apply(Config.make(space.sketch, {"tile_x": [-1, 5]}))
