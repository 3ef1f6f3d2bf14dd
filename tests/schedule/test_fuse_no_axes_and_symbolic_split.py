"""``s[C].fuse()`` of no axes adds an outermost loop of one iteration (TVM's singleton),
``fuse`` of one axis is that axis, and a symbolic split factor is refused naming the
stage and the axis."""
from __future__ import annotations

import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.errors import ScheduleError
from tensorlang.schedule import Singleton


def test_fuse_of_no_axes_on_a_scalar_stage(check):
    A = te.placeholder((), name="A")
    T = te.compute((), lambda: A() + 1, name="T")
    s = tl.create_schedule(T)
    fused = s[T].fuse()
    assert s[T].leaf_iter_vars == [fused] and isinstance(s[T].relations[0], Singleton)
    outer, inner = s[T].split(fused, nparts=20)
    check(s, [A], [T])
    assert "singleton = s[T].fuse()" in str(s)
    again = tl.schedule.replay(s.steps, [T])
    assert str(tl.lower(again, [A, T])) == str(tl.lower(s, [A, T]))


def test_fuse_of_no_axes_is_outermost_and_schedulable(check):
    A = te.placeholder((6, 8), name="A")
    B = te.compute((6, 8), lambda i, j: A[i, j] * 2, name="B")
    C = te.compute((6, 8), lambda i, j: B[i, j] + 1, name="C")
    s = tl.create_schedule(C)
    one = s[C].fuse()
    i, j = C.op.axis
    assert s[C].leaf_iter_vars == [one, i, j]
    s[C].reorder(i, one)
    s[B].compute_at(s[C], one)
    check(s, [A], [C])


def test_fuse_of_one_axis_is_the_axis(check):
    A = te.placeholder((6, 8), name="A")
    B = te.compute((6, 8), lambda i, j: A[i, j] * 2, name="B")
    s = tl.create_schedule(B)
    assert s[B].fuse(B.op.axis[1]) is B.op.axis[1]
    assert s[B].leaf_iter_vars == list(B.op.axis)
    check(s, [A], [B])


@pytest.mark.parametrize("kwargs", [{"factor": "f"}, {"nparts": "f"}])
def test_symbolic_split_factor_is_refused_naming_stage_and_axis(kwargs):
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: A[i] * 2, name="B")
    s = tl.create_schedule(B)
    f = te.var("f")
    what = next(iter(kwargs))
    with pytest.raises(NotImplementedError,
                       match=rf"split\(i\) on stage 'B': a symbolic split {what} \({what}=f\) "
                             rf"is not built; split axis 'i' by a constant {what}"):
        s[B].split(B.op.axis[0], **{what: f})
    xo, xi = s[B].split(B.op.axis[0], factor=te.const(4))   # a constant expression is fine
    assert s[B].static_extent(xi) == 4


def test_fuse_of_no_axes_on_a_scan_is_refused():
    X = te.placeholder((5, 4), name="X")
    state = te.placeholder((5, 4), name="state")
    init = te.compute((1, 4), lambda _, i: X[0, i], name="init")
    update = te.compute((5, 4), lambda t, i: state[t - 1, i] + X[t, i], name="update")
    scan = te.scan(init, update, state, inputs=[X], name="scan")
    s = tl.create_schedule(scan)
    with pytest.raises(ScheduleError, match=r"fuse\(\) on stage 'scan': a scan's loops are "
                                            r"its steps; give the axes to fuse"):
        s[scan].fuse()
