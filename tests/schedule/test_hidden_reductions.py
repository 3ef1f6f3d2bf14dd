"""Reductions written inside a larger expression (``te.sum(...) / n``): their stage
``<name>_red`` follows the visible stage's compute_at unless placed itself, the errors
say where the reduction axes are, and printed schedules that name it run."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.errors import ScheduleError
from tensorlang.tir import stmt as S_
from tensorlang.tir.functor import post_order_visit


def mean_twice(rows=8, cols=16):
    A = te.placeholder((rows, cols), name="A")
    k = te.reduce_axis((0, cols), name="k")
    S = te.compute((rows,), lambda i: te.sum(A[i, k], axis=k) / cols, name="S")
    D = te.compute((rows,), lambda i: S[i] * 2.0, name="D")
    return A, S, D


def allocations(func):
    found = {}
    post_order_visit(func.body, lambda n: found.__setitem__(n.buffer.name, n.buffer)
                     if isinstance(n, S_.Allocate) else None)
    return found


def test_compute_at_carries_the_reduction_along(check):
    A, S, D = mean_twice()
    s = te.create_schedule(D.op)
    [red] = S.op.hidden_reductions
    assert red.name == "S_red" and s[red].companions == [] and s[S].companions == [s[red]]
    s[S].compute_at(s[D], D.op.axis[0])
    assert s[red].attach_stage is s[D]
    func = check(s, [A], [D])
    assert [e.value for e in allocations(func)["S_red"].shape] == [1]
    s[S].compute_root()   # back to the root: the reduction too
    assert s[red].attach_stage is None
    check(s, [A], [D])


def test_a_reduction_placed_by_the_user_stays(check):
    A, S, D = mean_twice()
    s = te.create_schedule(D.op)
    [red] = S.op.hidden_reductions
    s[red].compute_root()
    s[S].compute_at(s[D], D.op.axis[0])
    assert s[red].attach_stage is None
    func = check(s, [A], [D])
    assert [e.value for e in allocations(func)["S_red"].shape] == [8]


def test_two_reductions_in_one_expression_both_follow(check):
    A = te.placeholder((6, 10), name="A")
    k = te.reduce_axis((0, 10), name="k")
    r = te.reduce_axis((0, 10), name="r")
    S = te.compute((6,), lambda i: te.sum(A[i, k], axis=k) - te.max(A[i, r], axis=r),
                   name="S")
    D = te.compute((6,), lambda i: S[i] + 1.0, name="D")
    s = te.create_schedule(D.op)
    assert [op.name for op in S.op.hidden_reductions] == ["S_red0", "S_red1"]
    s[S].compute_at(s[D], D.op.axis[0])
    assert all(s[op].attach_stage is s[D] for op in S.op.hidden_reductions)
    check(s, [A], [D])


def test_reduce_axis_lists_the_axes_of_the_reduction_stage(check):
    A, S, D = mean_twice()
    s = te.create_schedule(D.op)
    red = S.op.hidden_reductions[0]
    # TVM's spelling finds the axes; they are the reduction stage's, not S's loops
    assert S.op.reduce_axis == red.reduce_axis and len(S.op.reduce_axis) == 1
    assert s[S].op.reduce_axis[0] is red.reduce_axis[0]
    assert not S.op.is_reduction and S.op.own_reduce_axis == ()
    assert [iv.var.name for iv in s[S].leaf_iter_vars] == ["i"]
    ko, ki = s[red].split(S.op.reduce_axis[0], factor=4)
    s[red].reorder(ki, ko)
    check(s, [A], [D])


def test_scheduling_them_on_the_visible_stage_says_where_they_are():
    A, S, D = mean_twice()
    s = te.create_schedule(D.op)
    k = S.op.reduce_axis[0]
    for attempt in (lambda: s[S].split(k, factor=4), lambda: s[S].reorder(k, S.op.axis[0]),
                    lambda: s[S].unroll(k)):
        with pytest.raises(ScheduleError, match=r"axis of stage 'S_red'.*S.op.reduce_axis.*"
                                                r"s\[S.op.hidden_reductions\[0\]\]\."
                                                r"(split|reorder|unroll)\(k"):
            attempt()


def test_reduce_axis_of_two_reductions_lists_each_axis_once():
    A = te.placeholder((6, 10), name="A")
    k = te.reduce_axis((0, 10), name="k")
    r = te.reduce_axis((0, 10), name="r")
    S = te.compute((6,), lambda i: te.sum(A[i, k], axis=k) - te.max(A[i, r], axis=r)
                   + te.min(A[i, k], axis=k), name="S")
    assert [iv.var.name for iv in S.op.reduce_axis] == ["k", "r"]
    assert S.op.reduce_axis[0] is k and S.op.reduce_axis[1] is r


def test_printed_schedules_naming_the_reduction_run():
    A, S, D = mean_twice()
    s = te.create_schedule(D.op)
    red = S.op.hidden_reductions[0]
    ko, ki = s[red].split(red.reduce_axis[0], factor=4)
    s[red].unroll(ki)
    s[S].compute_at(s[D], D.op.axis[0])
    text = str(s)
    assert "S_red = S.op.hidden_reductions[0]" in text
    namespace = {"tl": tl, "A": A, "S": S, "D": D}
    exec(text, namespace)
    assert str(tl.lower(namespace["s"], [A, D])) == str(tl.lower(s, [A, D]))


def test_compiled_against_numpy():
    A, S, D = mean_twice(33, 40)
    s = te.create_schedule(D.op)
    io, ii = s[D].split(D.op.axis[0], factor=8)
    s[D].parallel(io)
    s[S].compute_at(s[D], ii)
    mod = tl.build(s, [A, D])
    a = np.random.default_rng(2).random((33, 40)).astype("float32")
    d = np.zeros(33, "float32")
    mod(a, d)
    np.testing.assert_allclose(d, 2 * a.mean(axis=1), rtol=1e-5)
