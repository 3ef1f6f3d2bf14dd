"""The attention workload of ``tensorlang tune``: softmax(Q K^T / sqrt(d)) V over heads, at
small sizes (2 heads, 32 tokens, 16 values).  numpy's reference computes what the module
computes; the sketch space gives both products the tiled rule, seeds micro-kernels for
both, row-fuses the softmax, and a short tuning finds a correct schedule."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang.autotune import MeasureOptions
from tensorlang.autotune.config import Config
from tensorlang.autotune.op_workloads import attention, make_workload, numpy_equivalent
from tensorlang.autotune.sketch import sketch_space
from tensorlang.autotune.sketch_rules import ReductionRule, TiledReductionRule

HEADS, TOKENS, DIM = 2, 32, 16
FAST = dict(verbose=0, n_parallel=2, population_size=16, num_generations=1,
            pretrained=False)


@pytest.fixture(scope="module")
def workload():
    return attention(HEADS, TOKENS, DIM)


@pytest.fixture(scope="module")
def space(workload):
    return sketch_space(workload)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((HEADS, TOKENS, DIM)).astype("float32")
               for _ in range(3))
    expected = np.full((HEADS, TOKENS, DIM), np.nan, dtype="float32")
    numpy_equivalent("attention")(q, k, v, out=expected)
    return q, k, v, expected


def _run(mod, data):
    q, k, v, expected = data
    out = np.zeros_like(expected)
    mod(q, k, v, out)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_numpy_reference_matches_the_plain_module_and_a_direct_formula(workload, data):
    q, k, v, expected = data
    scores = np.einsum("hid,hjd->hij", q.astype(np.float64), k) / np.sqrt(DIM)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(expected, weights @ v, rtol=1e-4, atol=1e-5)
    _run(tl.build(tl.create_schedule(workload[0].op), list(_params(workload))), data)


def _params(outputs):
    from tensorlang.autotune.dispatch import default_args
    return default_args(outputs)


def test_named_workload_has_the_benchmark_shape():
    (out,) = make_workload("attention")
    assert [int(d.value) for d in out.shape] == [8, 512, 64]
    assert [t.name for t in _params([out])][:3] == ["Q", "K", "V"]


def test_both_products_get_the_tiled_rule_and_the_softmax_the_reduction_rule(space):
    kinds = {rule.name: type(rule) for rule in space.rules}
    assert kinds["scores"] is TiledReductionRule and kinds["attention"] is TiledReductionRule
    assert kinds["weights_maxelem"] is ReductionRule
    assert kinds["weights_expsum"] is ReductionRule
    # the transposed operand K and the operand V may be packed for the products
    assert "scores/pack.K" in space.domains and "attention/pack.V" in space.domains


def test_sampled_configs_build_and_match_numpy(space, data):
    rng = np.random.default_rng(0)
    for _ in range(4):
        config = space.sample(rng)
        s, args = space.apply(config)
        _run(tl.build(s, args), data)


def test_seeds_tile_both_products_at_the_root_and_row_fuse_the_softmax(space, data):
    seeds = space.seeds()
    assert seeds
    for config in seeds:
        d = config.as_dict()
        for name in ("scores", "attention"):
            assert d[f"{name}/cache"] == "local" and d[f"{name}/vec"] is True
        # the scores' micro-kernel is computed whole, its panels in parallel
        assert d["scores/at"] == -1
        # the normalized weights are kept in memory for the second product
        assert d["weights/inline"] is False
        assert d["weights_maxelem/at"] == 0 and d["weights_expsum/at"] == 0
        assert d["weights_exp/inline"] is False
    s, args = space.apply(seeds[0])
    assert s.stage_by_name("scores").attach_type == "root"
    maxelem = s.stage_by_name("weights_maxelem")
    assert maxelem.attach_type == "scope"
    _run(tl.build(s, args), data)


def test_the_transposed_operand_is_packed_with_its_columns_contiguous(space, data):
    config = next(c for c in space.seeds() if c.as_dict()["scores/pack.K"] >= 0)
    s, args = space.apply(config)
    packed = s.stage_by_name("K.global")
    # K[b, j, k] read along j: the copy holds [b, k, j]
    assert [int(d.value) for d in packed.op.output(0).shape] == [HEADS, DIM, TOKENS]
    _run(tl.build(s, args), data)


def test_costly_producers_of_a_product_are_mostly_kept_in_memory(space):
    rng = np.random.default_rng(1)
    inlined = [space.sample(rng).as_dict()["weights/inline"] for _ in range(200)]
    assert np.mean(inlined) < 0.4
    # the scale (a multiply) is still mostly inlined into the softmax's reads
    rng = np.random.default_rng(2)
    scaled = [space.sample(rng).as_dict()["scaled/inline"] for _ in range(200)]
    assert np.mean(scaled) > 0.6


def test_a_reduction_is_not_recomputed_along_a_loop_it_does_not_depend_on(space, data):
    config = space.seeds()[0]
    values = config.as_dict()
    # the row maximum computed at the loop along the row of the exponentials: it moves
    # out to the row
    values.update({"weights_exp/at": -1, "weights_exp/fuse": 2,
                   "weights_exp/tile": [8], "weights_maxelem/at": 2})
    s, args = space.apply(Config.make(config.sketch, values))
    maxelem, exp = s.stage_by_name("weights_maxelem"), s.stage_by_name("weights_exp")
    assert maxelem.attach_stage is exp
    assert exp.leaf_index(maxelem.attach_ivar) == 0
    _run(tl.build(s, args), data)


def test_short_tuning_is_correct(workload, data, tmp_path):
    options = MeasureOptions(min_measure_seconds=0.01, min_repeats=1)
    result = tl.autotune(workload, trials=4, batch_size=4, seed=0, retime=0,
                         measure_options=options, log_file=tmp_path / "attention.jsonl",
                         **FAST)
    assert result.best_record is not None
    _run(result.build(), data)
