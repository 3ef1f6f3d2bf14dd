"""The seeds of the CPU sketch space: register-blocked micro-kernels (packed where an
operand streams along the vectorized axis, with a write cache) that tuning measures in its
first batch.  Every seed is a point of the space, keeps its accumulators in registers and
computes what the unscheduled computation computes, at shapes that no micro-kernel
divides too; the search proposes each seed once, first."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import ops, te
from tensorlang.autotune.search import EvolutionarySearch
from tensorlang.autotune.sketch import sketch_space
from tensorlang.autotune.sketch_domains import MICRO_KERNELS
from tensorlang.autotune.sketch_rules import TiledReductionRule

#: targets named for their SIMD units (spaces of them are sampled, never built here)
AVX512 = "llvm -mcpu=skylake-avx512 -mattr=+avx512f,+avx2,+fma"
AVX2 = "llvm -mcpu=haswell -mattr=+avx2,+fma"


def _matmul(m, n, k):
    A = te.placeholder((m, k), name="A")
    B = te.placeholder((k, n), name="B")
    return [ops.matmul(A, B)]


def _conv2d(size, channels):
    data = te.placeholder((1, channels, size, size), name="data")
    kernel = te.placeholder((channels, channels, 3, 3), name="kernel")
    return [ops.conv2d_nchw(data, kernel, stride=1, padding=1)]


def _batch_matmul():
    A = te.placeholder((2, 30, 24), name="A")
    B = te.placeholder((2, 24, 40), name="B")
    return [ops.batch_matmul(A, B)]


def _dense_relu():
    x = te.placeholder((20, 48), name="x")
    w = te.placeholder((48, 64), name="w")
    return [ops.relu(ops.matmul(x, w))]


WORKLOADS = {"matmul": lambda: _matmul(64, 128, 32), "matmul_odd": lambda: _matmul(37, 50, 23),
             "conv2d": lambda: _conv2d(14, 8), "batch_matmul": _batch_matmul,
             "dense_relu": _dense_relu}


def _tiled(space):
    return next(rule for rule in space.rules if isinstance(rule, TiledReductionRule))


def _per_stage(config, stage):
    prefix = f"{stage}/"
    return {k[len(prefix):]: v for k, v in config.as_dict().items() if k.startswith(prefix)}


@pytest.mark.parametrize("target, lanes, accumulators", [(AVX512, 16, 24), (AVX2, 8, 12)])
def test_matmul_seeds_are_packed_register_blocked_micro_kernels(target, lanes, accumulators):
    """The micro-kernels are sized for the target's SIMD unit: AVX-512's 16 lanes and 24
    accumulators of 32 registers, AVX2's 8 lanes and 12 of 16."""
    space = sketch_space(_matmul(1024, 1024, 1024), target=target)
    assert (space.simd.lanes, space.simd.accumulators) == (lanes, accumulators)
    kernels = MICRO_KERNELS[accumulators]
    rule = _tiled(space)
    seeds = space.seeds()
    # each micro-kernel with B packed in panels and without
    assert len(seeds) == 2 * len(kernels)
    shapes = set()
    for config in seeds:
        assert space.contains(config)
        d = _per_stage(config, rule.name)
        assert d["cache"] == "local" and d["vec"] is True and d["pack.A"] == -1
        rows, width = d["tile.i"][-1], d["tile.j"][-1]
        assert width % lanes == 0 and rule.register_tile(d) <= accumulators
        # every row in one block: a panel is packed once and serves all of them
        assert d["tile.i"][0] * rows >= 1024 and tuple(d["tile.j"][:2]) == (1, 1)
        shapes.add((rows, width // lanes, d["pack.B"]))
    assert shapes == {(r, v, p) for r, v in kernels for p in (0, -1)}


def test_packed_seed_packs_b_for_the_accumulator():
    space = sketch_space(_matmul(64, 128, 32))
    config = next(c for c in space.seeds() if _per_stage(c, "T_matmul")["pack.B"] >= 0)
    s, args = space.apply(config)
    text = str(tl.lower(s, args))
    assert "B_global" in text and "T_matmul_local" in text and "parallel" in text
    # B.global is read by the accumulator, not by the output stage
    reader = next(st for st in s.stages if st.name == "T_matmul.local")
    assert any(t.name == "B.global" for t in reader.op.input_tensors)


@pytest.mark.parametrize("target, columns", [(AVX512, {14, 28, 56}), (AVX2, {8, 16, 24, 32})])
def test_convolution_seeds_read_the_padding_computed_first(target, columns):
    space = sketch_space(_conv2d(56, 64), target=target)
    seeds = space.seeds()
    assert seeds
    for config in seeds:
        pad = _per_stage(config, "data_pad")
        assert pad["inline"] is False and pad["at"] == -1
        conv = _per_stage(config, "conv2d_nchw")
        # the rows of the micro-kernel are output channels (the kernel's broadcast
        # values), its vectors the columns; the 3x3 window runs inside it
        assert conv["tile.f"][-1] > 1 and tuple(conv["tile.y"]) == (1, 1, 1)
        assert tuple(conv["tile.ry"]) == (3,) and tuple(conv["tile.rx"]) == (3,)
    # 56 columns: the factors that keep most lanes busy over the row for each number of
    # vectors, divisors where they do as well (AVX-512: 14 of 16 lanes, 56 = 4 x 14);
    # AVX2 has no cheap partial vectors: whole ones, the last step guarded
    assert {_per_stage(c, "conv2d_nchw")["tile.x"][-1] for c in seeds} == columns


def test_no_seeds_without_a_tiled_reduction():
    assert sketch_space([ops.softmax(te.placeholder((8, 64), name="x"))]).seeds() == []


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_every_seed_computes_the_reference(name):
    space = sketch_space(WORKLOADS[name]())
    seeds = space.seeds()
    assert seeds, f"{name}: no seeds"
    rng = np.random.default_rng(0)
    s0, args = space.reference()
    arrays = [rng.standard_normal([int(d.value) for d in t.shape]).astype("float32")
              for t in args]
    out = len(args) - 1
    tl.build(s0, args)(*arrays)
    expected = arrays[out].copy()
    for config in seeds:
        assert space.contains(config)
        s, cand_args = space.apply(config)
        arrays[out][...] = np.nan
        tl.build(s, cand_args, opt_level=0)(*arrays)
        np.testing.assert_allclose(arrays[out], expected, rtol=1e-4, atol=1e-4,
                                   err_msg=f"{name}: {config}")


class _ConstantModel:
    def predict(self, x):
        return np.zeros(len(x))


def test_search_proposes_the_seeds_first_and_once():
    space = sketch_space(_matmul(64, 128, 32))
    seeds = space.seeds()
    search = EvolutionarySearch(space, _ConstantModel(), lambda cs: [None] * len(cs), seed=0)
    first = search.next_batch(32, set(), trained=False)
    assert len(first) == 32
    assert [c.key() for c in first[:len(seeds)]] == [c.key() for c in seeds]
    assert len({c.key() for c in first}) == 32
    measured = {c.key() for c in first}
    second = search.next_batch(32, measured, trained=False)
    assert not {c.key() for c in second} & {c.key() for c in seeds}
    # a batch smaller than the seeds: at most half of it is seeds
    small = EvolutionarySearch(space, _ConstantModel(), lambda cs: [None] * len(cs), seed=0)
    batch = small.next_batch(4, set(), trained=False)
    assert len(batch) == 4 and [c.key() for c in batch[:2]] == [c.key() for c in seeds[:2]]
    assert not {c.key() for c in batch[2:]} & {c.key() for c in seeds}


def test_seeds_are_the_same_in_every_process():
    a = [c.key() for c in sketch_space(_conv2d(14, 8)).seeds()]
    b = [c.key() for c in sketch_space(_conv2d(14, 8)).seeds()]
    assert a == b


@pytest.mark.parametrize("target, unit", [
    (AVX512, (16, 32, True, 24)), (AVX2, (8, 16, False, 12)),
    ("llvm -mtriple=aarch64-linux-gnu -mcpu=generic", (4, 32, False, 24))])
def test_the_simd_unit_of_a_target(target, unit):
    from tensorlang.autotune.sketch_domains import Simd
    simd = Simd.of(target)
    assert (simd.lanes, simd.registers, simd.masked, simd.accumulators) == unit
    assert all(rows * vectors <= simd.accumulators for rows, vectors in simd.micro_kernels)
