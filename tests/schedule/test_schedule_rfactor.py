"""rfactor: factored reductions compute the same sums."""
from __future__ import annotations

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
