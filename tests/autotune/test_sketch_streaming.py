"""The CPU sketch space for operators outside the tiled families: a matrix-vector product
gets the reduction rule, whose space holds the vectorized rfactor schedule (lanes of
partial sums along each contiguous row, the rows in parallel); and no sketch runs a loop
without work in parallel (a batch of one, an outer tile of one), so that a tuned
schedule never runs on one core by accident."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import ops, te
from tensorlang.autotune.sketch import sketch_space
from tensorlang.autotune.sketch_common import reads_per_input_element
from tensorlang.autotune.sketch_rules import fuse_parallel
from tensorlang.tir.expr import REDUCE
from tensorlang.tir.stmt import ForKind


def gemv(rows=48, cols=200):
    A = te.placeholder((rows, cols), name="A")
    x = te.placeholder((cols,), name="x")
    k = te.reduce_axis((0, cols), name="k")
    return [te.compute((rows,), lambda i: te.sum(A[i, k] * x[k], axis=k), name="y")]


def gemv_as_matmul():
    """The same product written as a matmul with one column."""
    return [ops.matmul(te.placeholder((40, 96), name="A"), te.placeholder((96, 1), name="x"))]


def conv1d():
    """Batch 1, height 1: conv2d_nchw as a 1-D convolution."""
    data = te.placeholder((1, 8, 1, 40), name="data")
    kernel = te.placeholder((8, 8, 1, 3), name="kernel")
    return [ops.conv2d_nchw(data, kernel, padding=(0, 1))]


def batch1_matmul():
    return [ops.batch_matmul(te.placeholder((1, 12, 16), name="A"),
                             te.placeholder((1, 16, 20), name="B"))]


def single_row_softmax():
    return [ops.softmax(te.placeholder((1, 64), name="x"))]


def single_image_pool():
    return [ops.pool2d(te.placeholder((1, 1, 9, 9), name="x"), kernel=3, stride=2,
                       padding=1, pool_type="max")]


def single_row_relu():
    return [ops.relu(te.placeholder((1, 1, 40), name="x"))]


EXTENT_ONE = {f.__name__: f for f in (gemv, gemv_as_matmul, conv1d, batch1_matmul,
                                       single_row_softmax, single_image_pool,
                                       single_row_relu)}


def _arrays(args, rng):
    return [rng.standard_normal([int(d.value) for d in t.shape]).astype(str(t.dtype))
            for t in args]


def _parallel_leaves(s):
    """(stage, loop, static extent) of every loop annotated parallel."""
    return [(st.name, iv.var.name, st.static_extent(iv)) for st in s.stages
            for iv in st.leaf_iter_vars
            if st.iter_attrs.get(iv) is not None and st.iter_attrs[iv].kind == ForKind.PARALLEL]


def _config(space, **overrides):
    config = space.default_config()
    for key, value in overrides.items():
        config = config.with_decision(key, value)
    assert space.contains(config)
    return config


def test_streaming_reductions_get_the_reduction_rule():
    """A reduction that reads each input element about once (a matrix-vector product, in
    either spelling) is streamed, not tiled; a matmul keeps multi-level tiling."""
    (y,) = gemv()
    assert reads_per_input_element(y.op) == pytest.approx(48 * 200 / (48 * 200 + 200))
    assert [r.kind for r in sketch_space(gemv()).rules] == ["reduction"]
    assert [r.kind for r in sketch_space(gemv_as_matmul()).rules] == ["reduction"]
    assert "y/rfactor" in sketch_space(gemv()).domains
    matmul = ops.matmul(te.placeholder((24, 20), name="A"), te.placeholder((20, 36), name="B"))
    assert reads_per_input_element(matmul.op) > 10
    assert [r.kind for r in sketch_space(matmul).rules] == ["tiled"]
    n = te.var("n")
    symbolic = ops.matmul(te.placeholder((n, 20), name="A"), te.placeholder((20, 36), name="B"))
    assert reads_per_input_element(symbolic.op) is None
    assert reads_per_input_element(symbolic.op, {"n": 24}) == \
        pytest.approx(reads_per_input_element(matmul.op))


@pytest.mark.parametrize("lanes", [16, 64])
def test_gemv_space_holds_the_vectorized_rfactor_schedule(lanes):
    """rfactor of the row split by the vector width, the partial sums a vector (or four)
    of lanes computed at each row, the rows in parallel: the lowering vectorizes the
    partial sums (vector multiply-adds in the LLVM IR) and the result is numpy's."""
    space = sketch_space(gemv(64, 256))
    config = _config(space, **{"y/rfactor": f"vec{lanes}", "y/rfactor_at": True,
                               "y/fuse": 1})
    s, args = space.apply(config)
    rf = s.stage_by_name("y.rf")
    assert rf.attach_type == "scope" and rf.attach_stage.name == "y"
    assert [(st, ext) for st, _, ext in _parallel_leaves(s)] == [("y", 64)]
    text = str(tl.lower(s, args))
    assert f"T.vectorized({lanes})" in text and "T.parallel(64)" in text
    mod = tl.build(s, args)
    ll = mod.get_source("ll")
    # the IR's vectors are the loop's lanes (the backend splits 64 into four registers)
    assert re.search(rf"(fadd|fma)[a-z ]*<{lanes} x float>", ll) or \
        f"llvm.fma.v{lanes}f32" in ll, "the partial sums were not vectorized"
    a, x, y = _arrays(args, np.random.default_rng(0))
    mod(a, x, y)
    np.testing.assert_allclose(y, a @ x, rtol=1e-4, atol=1e-4)


def test_sampled_gemv_and_conv1d_candidates_compute_numpy_results():
    rng = np.random.default_rng(7)
    for name in ("gemv", "gemv_as_matmul", "conv1d"):
        space = sketch_space(EXTENT_ONE[name]())
        s0, args = space.reference()
        arrays = _arrays(args, rng)
        if name == "conv1d":
            data, kernel = arrays[0][0, :, 0, :], arrays[1][:, :, 0, :]
            padded = np.pad(data, ((0, 0), (1, 1)))
            windows = np.lib.stride_tricks.sliding_window_view(padded, 3, axis=1)
            expected = np.einsum("cxw,fcw->fx", windows, kernel)[None, :, None, :]
        else:
            expected = (arrays[0] @ arrays[1]).reshape(arrays[-1].shape)
        for k in range(8):
            config = space.sample(rng)
            s, cand_args = space.apply(config)
            got = [a.copy() for a in arrays]
            got[-1][...] = np.nan
            tl.build(s, cand_args, opt_level=3 if k % 4 == 0 else 0)(*got)
            np.testing.assert_allclose(got[-1], expected, rtol=1e-4, atol=1e-4,
                                       err_msg=f"{name}: {config}")


@pytest.mark.parametrize("threads", [2, 4])
@pytest.mark.parametrize("name", sorted(EXTENT_ONE))
def test_no_sketch_runs_a_loop_without_work_in_parallel(name, threads, monkeypatch):
    """Whatever the decisions, every loop run in parallel has more than one iteration,
    and each survives lowering as a parallel loop (a loop of one is dropped, and with it
    the parallelism); the rest of the stage still computes the reference."""
    monkeypatch.setenv("TL_NUM_THREADS", str(threads))
    space = sketch_space(EXTENT_ONE[name]())
    assert space.threads == threads
    rng = np.random.default_rng(threads)
    parallel_samples = 0
    for _ in range(40):
        config = space.sample(rng)
        s, args = space.apply(config)
        leaves = _parallel_leaves(s)
        assert all(extent is None or extent > 1 for _, _, extent in leaves), (config, leaves)
        if leaves:
            parallel_samples += 1
            extents = [int(e) for e in re.findall(r"T\.parallel\((\d+)[,)]",
                                                  str(tl.lower(s, args)))]
            assert extents and min(extents) > 1, (config, leaves)
    assert parallel_samples >= 10


def test_batch_of_one_joins_the_next_loops_until_every_thread_has_work(monkeypatch):
    """conv1d with ``fuse`` 1 names only the batch loop (one iteration): the output
    channels join it; and a fused loop at least as long as the threads stays as chosen."""
    monkeypatch.setenv("TL_NUM_THREADS", "4")
    space = sketch_space(conv1d())
    s, _ = space.apply(_config(space, **{"conv2d_nchw/fuse": 1}))
    assert [ext for _, _, ext in _parallel_leaves(s)] == [8]        # n (1) x f (8)
    s = tl.create_schedule(conv1d()[0].op)
    st = s.stage_by_name("conv2d_nchw")
    n, f, y, x = st.op.axis
    fused, rest = fuse_parallel(st, [n, f, y, x], 2, threads=4)
    assert st.static_extent(fused) == 8 and rest == [y, x]
    s = tl.create_schedule(conv1d()[0].op)
    st = s.stage_by_name("conv2d_nchw")
    n, f, y, x = st.op.axis
    fused, rest = fuse_parallel(st, [n, f, y, x], 1, threads=16)
    assert st.static_extent(fused) == 320 and rest == []           # 8 x 40: all it has
    s = tl.create_schedule(conv1d()[0].op)
    st = s.stage_by_name("conv2d_nchw")
    n, y = st.op.axis[0], st.op.axis[2]
    st.reorder(n, y, *st.op.axis[1:2], st.op.axis[3])
    assert fuse_parallel(st, [n, y], 2, threads=4) == (None, [n, y])
    assert _parallel_leaves(s) == []
    assert fuse_parallel(st, [n, y], 0, threads=4) == (None, [n, y])


def test_gemv_partials_of_several_rows_share_the_reduction():
    """``rfactor_rows`` 4: the vector partials of four rows computed together at the
    row tile, the rows (unrolled) inside the reduction, so each vector of x is loaded once
    for four rows; the tiles run in parallel and the result is numpy's."""
    space = sketch_space(gemv(50, 256))       # 50 rows: a partial last tile
    config = _config(space, **{"y/rfactor": "vec16", "y/rfactor_at": True,
                               "y/rfactor_rows": 4, "y/fuse": 1})
    s, args = space.apply(config)
    rf = s.stage_by_name("y.rf")
    assert rf.attach_type == "scope" and rf.attach_stage.name == "y"
    assert [ext for _, _, ext in _parallel_leaves(s)] == [13]
    kinds = [rf.iter_attrs[iv].kind if iv in rf.iter_attrs else None
             for iv in rf.leaf_iter_vars]
    assert kinds[-2:] == [ForKind.UNROLLED, ForKind.VECTORIZED]
    assert rf.leaf_iter_vars[0].iter_type == REDUCE            # the rows inside it
    a, x, y = _arrays(args, np.random.default_rng(1))
    tl.build(s, args, bounds_check=True)(a, x, y)
    np.testing.assert_allclose(y, a @ x, rtol=1e-4, atol=1e-4)
