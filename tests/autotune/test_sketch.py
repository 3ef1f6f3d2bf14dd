"""The sketch space: every sampled config of every workload builds and computes what the
unscheduled computation computes; mutation and crossover stay in the space; the space
expresses the schedules the rules promise (packing, cache_write, rfactor, inlining)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import ops, te
from tensorlang.autotune.sketch import CPU_SKETCH, SketchSpace, sketch_space
from tensorlang.autotune.sketch_common import calls_expensive_intrinsic
from tensorlang.autotune.sketch_domains import Tile, lane_filling_factors
from tensorlang.autotune.space import Config
from tensorlang.errors import TuneError

# Sixteen configs per workload keep the file fast; TL_SKETCH_SAMPLES draws more.
SAMPLES = int(os.environ.get("TL_SKETCH_SAMPLES", "16"))


def matmul():
    A = te.placeholder((24, 20), name="A")
    B = te.placeholder((20, 36), name="B")
    return [ops.matmul(A, B)]


def conv2d_padded():
    data = te.placeholder((1, 4, 6, 6), name="data")
    kernel = te.placeholder((4, 4, 3, 3), name="kernel")
    return [ops.conv2d_nchw(data, kernel, stride=1, padding=1, dilation=1)]


def softmax():
    return [ops.softmax(te.placeholder((6, 40), name="x"))]


def layer_norm():
    x = te.placeholder((6, 32), name="x")
    gamma = te.placeholder((32,), name="gamma")
    beta = te.placeholder((32,), name="beta")
    return [ops.layer_norm(x, gamma, beta)]


def pool2d():
    return [ops.pool2d(te.placeholder((1, 3, 9, 9), name="x"), kernel=3, stride=2,
                       padding=1, pool_type="max")]


def avg_pool2d():
    return [ops.pool2d(te.placeholder((1, 2, 8, 8), name="x"), kernel=2, stride=2,
                       padding=1, pool_type="avg")]


def batch_matmul():
    A = te.placeholder((2, 12, 16), name="A")
    B = te.placeholder((2, 16, 20), name="B")
    return [ops.batch_matmul(A, B)]


def elementwise_chain():
    A = te.placeholder((10, 36), name="A")
    B = te.placeholder((10, 36), name="B")
    return [ops.multiply(ops.relu(ops.add(A, B)), ops.exp(B))]


def vector_sum():
    x = te.placeholder((1000,), name="x")
    k = te.reduce_axis((0, 1000), name="k")
    return [te.compute((1,), lambda i: te.sum(x[k], axis=k), name="total")]


def two_outputs():
    A = te.placeholder((8, 24), name="A")
    B = te.compute((8, 24), lambda i, j: A[i, j] * 2.0, name="B")
    C = te.compute((8, 24), lambda i, j: B[i, j] + A[i, j], name="C")
    k = te.reduce_axis((0, 24), name="k")
    D = te.compute((8,), lambda i: te.sum(C[i, k], axis=k), name="D")
    return [C, D]


WORKLOADS = {f.__name__: f for f in (matmul, conv2d_padded, softmax, layer_norm, pool2d,
                                      avg_pool2d, batch_matmul, elementwise_chain,
                                      vector_sum, two_outputs)}


def _arrays(args, rng):
    arrays = []
    for t in args:
        shape = [int(d.value) for d in t.shape]
        arrays.append(rng.standard_normal(shape).astype(str(t.dtype)))
    return arrays


def _outputs(space):
    from tensorlang.te.graph import PlaceholderOp
    return [k for k, t in enumerate(space.args) if not isinstance(t.op, PlaceholderOp)]


def _run(mod, arrays, out_index):
    arrays = [a.copy() for a in arrays]
    for k in out_index:
        arrays[k][...] = np.nan
    mod(*arrays)
    return [arrays[k] for k in out_index]


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_sampled_configs_compute_the_reference(name):
    space = sketch_space(WORKLOADS[name]())
    rng = np.random.default_rng(hash(name) % 2**32)
    s0, args = space.reference()
    out_index = _outputs(space)
    arrays = _arrays(args, rng)
    expected = _run(tl.build(s0, args), arrays, out_index)
    for k in range(SAMPLES):
        config = space.sample(rng)
        assert space.contains(config)
        s, cand_args = space.apply(config)
        assert [t.name for t in cand_args] == [t.name for t in args]
        # most builds unoptimised (the schedule is under test, and they compile faster)
        mod = tl.build(s, cand_args, opt_level=3 if k % 4 == 0 else 0)
        got = _run(mod, arrays, out_index)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4,
                                       err_msg=f"{name}: {config}\n{s}")


@pytest.mark.parametrize("name", ["matmul", "softmax", "conv2d_padded"])
def test_mutate_and_crossover_stay_in_the_space(name):
    space = sketch_space(WORKLOADS[name]())
    rng = np.random.default_rng(3)
    configs = [space.sample(rng) for _ in range(10)]
    changed = 0
    for _ in range(200):
        a, b = (configs[int(k)] for k in rng.choice(len(configs), 2, replace=False))
        mutated = space.mutate(a, rng)
        child = space.crossover(a, b, rng)
        assert space.contains(mutated), mutated
        assert space.contains(child), child
        changed += mutated.key() != a.key()
        for key, value in child.decisions:
            assert value in (a[key], b[key])
        configs.append(mutated)
    assert changed > 150


def test_mutated_configs_build():
    space = sketch_space(matmul())
    rng = np.random.default_rng(5)
    s0, args = space.reference()
    arrays = _arrays(args, rng)
    expected = _run(tl.build(s0, args), arrays, [2])
    config = space.sample(rng)
    for _ in range(6):
        config = space.mutate(config, rng)
        s, cand_args = space.apply(config)
        got = _run(tl.build(s, cand_args), arrays, [2])
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-4, atol=1e-4)


def test_tile_mutation_keeps_the_product_of_divisors():
    space = sketch_space(matmul())
    domain = space.domains["T_matmul/tile.j"]
    rng = np.random.default_rng(0)
    value = (3, 2, 2)                        # 36 = 3 * 3 * 2 * 2 (outer 3)
    for _ in range(50):
        value = domain.mutate(value, rng)
        assert domain.outer(value) * int(np.prod(value)) == 36 or \
            not all(36 % f == 0 for f in value)


def test_vectorized_factors_fill_the_lanes_where_no_vector_multiple_divides():
    """An axis of 56 (a ResNet row): no multiple of 16 lanes divides it, so the preferred
    innermost factors are those keeping 7/8 of the lanes busy (14 and 28 divide it; 16
    and 32 leave one guarded, nearly full step), not 7 or 8."""
    assert lane_filling_factors(56, 64, 16) == [14, 16, 28, 32, 56]
    assert lane_filling_factors(1000, 64, 16) == [16, 32, 48, 64]
    assert lane_filling_factors(7, 64, 16) == []           # nothing fills a vector
    assert lane_filling_factors(56, 20, 16) == [14, 16]    # the domain's limit holds
    # 8 lanes: 7 columns fill 7 of 8 lanes, 24 (three steps of three vectors) leaves too
    # many idle; without cheap partial vectors (AVX2), whole vectors only
    assert lane_filling_factors(56, 64, 8) == [7, 8, 14, 16, 28, 32]
    assert lane_filling_factors(56, 64, 8, masked=False) == [8, 16, 32]
    domain = Tile(56, 3, vector=True, max_inner=64, lane_fill=True)
    rng = np.random.default_rng(0)
    inner = [domain.sample(rng)[-1] for _ in range(1000)]
    share = sum(f in (14, 16, 28, 32, 56) for f in inner) / len(inner)
    assert 0.65 < share < 0.95                          # others stay reachable
    plain = [Tile(56, 3, vector=True, max_inner=64).sample(rng)[-1] for _ in range(1000)]
    assert sum(f in (14, 16, 28, 32, 56) for f in plain) / len(plain) < 0.65
    # where a multiple of the lanes divides the extent, those are preferred as before
    inner = [Tile(1024, 3, vector=True, max_inner=64).sample(rng)[-1] for _ in range(500)]
    assert sum(f in (16, 32, 64) for f in inner) / len(inner) > 0.65


@pytest.mark.parametrize("target, accumulators", [
    ("llvm -mcpu=skylake-avx512 -mattr=+avx512f,+avx2,+fma", 24),
    ("llvm -mcpu=haswell -mattr=+avx2,+fma", 12)])
def test_samples_keep_the_innermost_tile_in_registers(target, accumulators):
    """Most samples of a tiled reduction keep at most the target's accumulator budget of
    vectors (24 of AVX-512's 32 registers, 12 of AVX2's 16) in the innermost tile; a
    share is drawn unfiltered, and every sample is in the space."""
    space = sketch_space(ops.matmul(te.placeholder((256, 256), name="A"),
                                    te.placeholder((256, 256), name="B")), target=target)
    assert space.simd.accumulators == accumulators
    rule = next(r for r in space.rules if r.kind == "tiled")
    rng = np.random.default_rng(0)
    configs = [space.sample(rng) for _ in range(1000)]
    assert all(space.contains(c) for c in configs)
    tiles = []
    for c in configs:
        d = {k.split("/", 1)[1]: v for k, v in c.decisions if k.startswith("T_matmul/")}
        tiles.append(rule.register_tile(d))
    in_registers = sum(t <= accumulators for t in tiles) / len(tiles)
    assert 0.85 < in_registers < 1.0
    # 8 rows of 32 columns: 2 vectors each with 16 lanes, 4 with 8
    assert rule.register_tile({"tile.i": (1, 2, 8), "tile.j": (1, 1, 32),
                               "tile.k": (4,)}) == 8 * 32 // space.simd.lanes
    assert space.plausible(configs[0].as_dict()) == (tiles[0] <= accumulators)


def test_decisions_of_the_rules():
    space = sketch_space(conv2d_padded())
    names = set(space.domains)
    assert {"conv2d_nchw/cache", "conv2d_nchw/tile.f", "conv2d_nchw/tile.rc",
            "conv2d_nchw/fuse", "conv2d_nchw/vec", "conv2d_nchw/unroll",
            "conv2d_nchw/pack.kernel", "data_pad/inline", "data_pad/at"} <= names
    assert len(space.domains["conv2d_nchw/tile.x"].sample(np.random.default_rng(0))) == 3
    sum_space = sketch_space(vector_sum())
    assert "total/rfactor" in sum_space.domains
    assert "T_softmax_maxelem/rfactor" in sketch_space(softmax()).domains
    assert "pool2d/rfactor" not in sketch_space(pool2d()).domains
    assert 1 < space.size() < float("inf")


def _config(space, **overrides):
    config = space.default_config()
    for key, value in overrides.items():
        config = config.with_decision(key.replace("__", "/"), value)
    assert space.contains(config)
    return config


def test_register_tiled_matmul_with_packed_panel_is_expressible():
    A = te.placeholder((64, 32), name="A")
    B = te.placeholder((32, 128), name="B")
    space = sketch_space(ops.matmul(A, B))
    config = _config(space, **{"T_matmul__tile.i": (16, 1, 4), "T_matmul__tile.j": (1, 1, 64),
                               "T_matmul__tile.k": (8,), "T_matmul__fuse": 2,
                               "T_matmul__pack.B": 0, "T_matmul__vec": True,
                               "T_matmul__unroll": 64})
    s, args = space.apply(config)
    primitives = [step.primitive for step in s.steps]
    assert {"cache_read", "compute_at", "fuse", "parallel", "vectorize", "pragma"} <= \
        set(primitives)
    text = str(tl.lower(s, args))
    assert "B.global" in text and "parallel" in text
    a = np.random.default_rng(0).standard_normal((64, 32)).astype("float32")
    b = np.random.default_rng(1).standard_normal((32, 128)).astype("float32")
    c = np.zeros((64, 128), "float32")
    tl.build(s, args)(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cache", ["local", "global"])
def test_cache_write_accumulator_at_the_tile(cache):
    space = sketch_space(matmul())
    config = _config(space, **{"T_matmul__cache": cache, "T_matmul__tile.i": (1, 2, 4),
                               "T_matmul__tile.j": (1, 3, 6), "T_matmul__fuse": 1})
    s, args = space.apply(config)
    assert any(st.name == f"T_matmul.{cache}" and st.attach_type == "scope" for st in s.stages)
    a, b = (np.random.default_rng(k).standard_normal(shape).astype("float32")
            for k, shape in ((0, (24, 20)), (1, (20, 36))))
    c = np.zeros((24, 36), "float32")
    tl.build(s, args)(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mode", ["vec16", "par4"])
def test_rfactor_of_a_long_sum(mode):
    space = sketch_space(vector_sum())
    s, args = space.apply(_config(space, total__rfactor=mode))
    assert any(st.name == "total.rf" for st in s.stages)
    x = np.random.default_rng(0).standard_normal(1000).astype("float32")
    out = np.zeros(1, "float32")
    tl.build(s, args)(x, out)
    np.testing.assert_allclose(out[0], x.sum(dtype=np.float64), rtol=1e-4)


@pytest.mark.parametrize("halves,rows", [(2, 1), (1, 2), (4, 4)])
def test_pooling_rows_accumulated_in_registers(halves, rows):
    """spatial_inner_local: a few rows of vectors (``halves`` half vectors of the
    target's) accumulated over the whole window in a local cache_write, the padding
    inlined; the lanes need not divide the row."""
    workload = pool2d()
    space = sketch_space(workload)
    lanes = halves * space.simd.lanes // 2
    config = _config(space, **{"pool2d__order": "spatial_inner_local",
                               "pool2d__local.lanes": lanes, "pool2d__local.rows": rows,
                               "pool2d__vec": True, "pool2d__fuse": 2,
                               "data_pad__inline": True})
    s, args = space.apply(config)
    acc = s.stage_by_name("pool2d.local")
    assert acc.attach_type == "scope" and acc.attach_stage.name == "pool2d"
    x = np.random.default_rng(0).standard_normal((1, 3, 9, 9)).astype("float32")
    got = np.zeros((1, 3, 5, 5), "float32")
    tl.build(s, args, bounds_check=True)(x, got)
    expected = np.zeros_like(got)
    tl.build(tl.create_schedule(workload[0].op), args)(x, expected)
    np.testing.assert_array_equal(got, expected)


def test_fused_structure_is_sampled():
    """A share of samples computes every producer at its reader's outermost loop with the
    output's outermost loop alone in parallel (row-fused softmax); the rest vary."""
    space = sketch_space(softmax())
    rng = np.random.default_rng(0)
    configs = [space.sample(rng).as_dict() for _ in range(200)]
    fused = [c for c in configs if c["T_softmax_maxelem/at"] == 0
             and c["T_softmax_expsum/at"] == 0 and c["T_softmax/fuse"] == 1]
    assert 0.2 * len(configs) <= len(fused) <= 0.6 * len(configs)
    assert any(c["T_softmax_maxelem/at"] == -1 for c in configs)
    # the exponentials, read by the row sum and the output, are computed once at the row
    # (in all of the fused draws; a few independent draws land on the fused decisions)
    assert np.mean([c["T_softmax_exp/inline"] is False and c["T_softmax_exp/at"] == 0
                    for c in fused]) > 0.8


def test_expensive_producers_with_several_readers_are_mostly_kept_in_memory():
    space = sketch_space(softmax())
    rng = np.random.default_rng(1)
    kept = [space.sample(rng).as_dict()["T_softmax_exp/inline"] is False for _ in range(300)]
    assert np.mean(kept) > 0.5
    # a cheap element-wise producer (padding) is still mostly inlined
    space = sketch_space(conv2d_padded())
    inlined = [space.sample(rng).as_dict()["data_pad/inline"] for _ in range(300)]
    assert np.mean(inlined) > 0.6
    assert calls_expensive_intrinsic(softmax()[0].op.input_tensors[0].op)
    assert not calls_expensive_intrinsic(conv2d_padded()[0].op.input_tensors[0].op)


def test_row_fused_softmax_with_exponentials_in_memory_at_the_row():
    space = sketch_space(softmax())
    config = _config(space, **{
        "T_softmax__fuse": 1, "T_softmax__tile": (16,), "T_softmax__vec": True,
        "T_softmax_exp__inline": False, "T_softmax_exp__at": 0, "T_softmax_exp__tile": (16,),
        "T_softmax_exp__vec": True, "T_softmax_expsum__at": 0, "T_softmax_maxelem__at": 0,
        "T_softmax_maxelem__rfactor": "vec16", "T_softmax_expsum__rfactor": "vec16",
        "T_softmax_expsum__rfactor_at": True})
    s, args = space.apply(config)
    exp = s.stage_by_name("T_softmax_exp")
    assert exp.attach_type == "scope" and exp.attach_stage.name == "T_softmax"
    assert s.stage_by_name("T_softmax_maxelem").attach_stage is exp
    x = np.random.default_rng(0).standard_normal((6, 40)).astype("float32")
    y = np.zeros_like(x)
    tl.build(s, args, bounds_check=True)(x, y)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_vector_partials_of_an_attached_reduction_are_computed_with_it():
    space = sketch_space(softmax())
    config = _config(space, **{
        "T_softmax__fuse": 1, "T_softmax_maxelem__at": 0, "T_softmax_expsum__at": 0,
        "T_softmax_maxelem__rfactor": "vec16", "T_softmax_maxelem__rfactor_at": False})
    s, args = space.apply(config)
    maxelem = s.stage_by_name("T_softmax_maxelem")
    assert s.stage_by_name("T_softmax_maxelem.rf").attach_stage is maxelem
    x = np.random.default_rng(0).standard_normal((6, 40)).astype("float32")
    y = np.zeros_like(x)
    tl.build(s, args)(x, y)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_padding_inlined_or_computed_at_a_tile():
    space = sketch_space(conv2d_padded())
    inlined, _ = space.apply(_config(space, data_pad__inline=True))
    assert inlined.stage_by_name("data_pad").attach_type == "inline"
    attached, _ = space.apply(_config(space, data_pad__inline=False, data_pad__at=1))
    pad = attached.stage_by_name("data_pad")
    assert pad.attach_type == "scope" and pad.attach_stage.name == "conv2d_nchw"


def test_config_json_round_trip_and_apply():
    space = sketch_space(conv2d_padded())
    rng = np.random.default_rng(7)
    for _ in range(5):
        config = space.sample(rng)
        again = Config.from_json(json.loads(json.dumps(config.to_json())))
        assert again == config and again.key() == config.key()
        assert space.contains(again)
        s1, _ = space.apply(config)
        s2, _ = space.apply(again)
        assert s1.steps == s2.steps


def test_apply_uses_a_fresh_schedule_on_the_workload_tensors():
    outs = matmul()
    space = sketch_space(outs)
    config = space.sample(np.random.default_rng(0))
    s1, args1 = space.apply(config)
    s2, args2 = space.apply(config)
    assert s1 is not s2 and s1.steps == s2.steps
    assert all(a is b for a, b in zip(args1, args2)) and args1[-1] is outs[0]


def test_foreign_configs_and_targets_are_refused():
    space = sketch_space(matmul())
    with pytest.raises(TuneError, match="not a point"):
        space.apply(Config.make(CPU_SKETCH, {"T_matmul/vec": True}))
    assert not space.contains(Config.make("other", {}))
    with pytest.raises(TuneError, match="target"):
        sketch_space(matmul(), target="opencl")
    with pytest.raises(TuneError):
        sketch_space("not a tensor")
    assert isinstance(space, SketchSpace)


@pytest.mark.parametrize("name", ["conv2d_padded", "softmax", "vector_sum", "matmul"])
def test_schedules_replay_from_their_steps(name):
    from tensorlang.schedule import replay, steps_from_json, steps_to_json
    space = sketch_space(WORKLOADS[name]())
    rng = np.random.default_rng(11)
    for _ in range(8):
        s, args = space.apply(space.sample(rng))
        again = replay(steps_from_json(steps_to_json(s.steps)), space.output_ops)
        assert str(tl.lower(again, args)) == str(tl.lower(s, args))


def test_symbolic_shapes_take_their_sizes_from_shape_vars():
    n = te.var("n")
    A = te.placeholder((n, 40), name="A")
    k = te.reduce_axis((0, 40), name="k")
    C = te.compute((n,), lambda i: te.sum(A[i, k] * A[i, k], axis=k), name="C")
    space = sketch_space(C, shape_vars={n: 24})
    assert space.domains["C/tile.i"].extent == 24
    rng = np.random.default_rng(0)
    a = rng.standard_normal((24, 40)).astype("float32")
    for _ in range(4):
        s, args = space.apply(space.sample(rng))
        out = np.zeros(24, "float32")
        tl.build(s, args)(a, out)
        np.testing.assert_allclose(out, (a * a).sum(axis=1), rtol=1e-4)


def test_row_fused_softmax_and_its_validity_check():
    space = sketch_space(softmax())
    config = _config(space, **{
        "T_softmax_exp__inline": True, "T_softmax__fuse": 1, "T_softmax__tile": (8,),
        "T_softmax__vec": True, "T_softmax_expsum__at": 0, "T_softmax_maxelem__at": 0,
        "T_softmax_maxelem__rfactor": "vec16", "T_softmax_maxelem__rfactor_at": True,
        "T_softmax_expsum__rfactor": "vec8", "T_softmax_expsum__rfactor_at": True})
    s, args = space.apply(config)
    for name in ("T_softmax_maxelem", "T_softmax_expsum"):
        stage = s.stage_by_name(name)
        assert stage.attach_type == "scope" and stage.attach_stage.name == "T_softmax"
        assert s.stage_by_name(name + ".rf").attach_stage is stage
    x = np.random.default_rng(0).standard_normal((6, 40)).astype("float32")
    y = np.zeros_like(x)
    tl.build(s, args)(x, y)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    # the row sum at the root reads the row maximum outside the output's loops, so the
    # maximum cannot move into them either
    s2, _ = space.apply(config.with_decision("T_softmax_expsum/at", -1))
    assert s2.stage_by_name("T_softmax_maxelem").attach_type == "root"
