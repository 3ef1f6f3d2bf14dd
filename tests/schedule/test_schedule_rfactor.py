"""rfactor: factored reductions compute the same sums."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te


def row_sum(n=6, m=22):
    A = te.placeholder((n, m), name="A")
    k = te.reduce_axis((0, m), name="k")
    B = te.compute((n,), lambda i: te.sum(A[i, k], axis=k), name="B")
    return A, B


def test_rfactor_inner_axis(check):
    A, B = row_sum()
    s = tl.create_schedule(B)
    ko, ki = s[B].split(B.op.reduce_axis[0], factor=4)
    BF = s.rfactor(B, ki)
    assert BF.name == "B.rf" and [int(x.value) for x in BF.shape] == [4, 6]
    assert s[B].op.axis == B.op.axis
    assert [iv.var.name for iv in s[B].op.reduce_axis] == ["k.inner.v"]
    assert [iv.var.name for iv in BF.op.axis] == ["k.inner", "i"]
    check(s, [A], [B])


def test_rfactor_factor_axis_last_and_schedule_both(check):
    A, B = row_sum()
    s = tl.create_schedule(B)
    ko, ki = s[B].split(B.op.reduce_axis[0], nparts=5)
    BF = s.rfactor(B, ko, factor_axis=1)
    assert [int(x.value) for x in BF.shape] == [6, 5]
    s[BF].compute_at(s[B], s[B].op.axis[0])
    s[BF].vectorize(BF.op.axis[1])
    check(s, [A], [B])


def test_rfactor_unsplit_axis_gives_elementwise_stage(check):
    A, B = row_sum(3, 5)
    s = tl.create_schedule(B)
    BF = s.rfactor(B, B.op.reduce_axis[0])
    assert not BF.op.reduce_axis
    check(s, [A], [B])


def test_rfactor_of_max_reduction_over_fused_axes(check):
    A = te.placeholder((3, 4, 5), name="A")
    r1 = te.reduce_axis((0, 4), name="r1")
    r2 = te.reduce_axis((0, 5), name="r2")
    B = te.compute((3,), lambda i: te.max(A[i, r1, r2], axis=[r1, r2]), name="B")
    s = tl.create_schedule(B)
    f = s[B].fuse(*B.op.reduce_axis)
    fo, fi = s[B].split(f, factor=6)
    s.rfactor(B, fi)
    check(s, [A], [B])


@pytest.mark.parametrize("outer_split, inner_split", [
    ({"factor": 8}, {"factor": 3}),   # 16 = 2 x 8; 8 is not a multiple of 3
    ({"nparts": 2}, {"nparts": 7}),   # 8 = 7 parts of 2, the last one short
    ({"factor": 5}, {"nparts": 2}),   # 16 = 4 x 5, the outer split overhangs too
])
@pytest.mark.parametrize("level", ["outer", "middle", "inner"])
def test_rfactor_after_nested_non_dividing_splits(check, outer_split, inner_split, level):
    """A split of a split's inner part that does not divide it overhangs that part, not
    only the root axis: the factored stage must keep the guard of the middle variable
    (it summed 17 or 22 ones out of 16 without it)."""
    A = te.placeholder((16,), name="A")
    k = te.reduce_axis((0, 16), name="k")
    B = te.compute((1,), lambda i: te.sum(A[k], axis=k), name="B")
    s = tl.create_schedule(B)
    ko, ki = s[B].split(k, **outer_split)
    kio, kii = s[B].split(ki, **inner_split)
    BF = s.rfactor(B, {"outer": ko, "middle": kio, "inner": kii}[level])
    check(s, [A], [B])
    mod = tl.build(s, [A, B], target="llvm")
    out = np.zeros(1, "float32")
    mod(np.ones(16, "float32"), out)
    assert out[0] == 16.0, f"{BF.name}: 16 ones summed to {out[0]}"
