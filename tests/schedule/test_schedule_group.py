"""Stage groups (TVM's s.create_group): one compute_at places every stage of the group,
members keep their own placements inside it; replayed from JSON, printed code runs, and
the refusals name the stage."""
from __future__ import annotations

import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.errors import ScheduleError
from tensorlang.schedule import replay, steps_from_json, steps_to_json


def chain(m=10, n=12):
    A = te.placeholder((m, n), name="A")
    B = te.compute((m, n), lambda i, j: A[i, j] * 2.0, name="B")
    C = te.compute((m, n), lambda i, j: B[i, j] + 1.0, name="C")
    D = te.compute((m, n), lambda i, j: C[i, j] * 3.0, name="D")
    return A, B, C, D


def test_a_group_is_computed_at_one_loop(check):
    A, B, C, D = chain()
    s = te.create_schedule(D.op)
    g = s.create_group(outputs=C, inputs=A)
    assert s[g] is g and [m.name for m in g.members] == ["B", "C"]
    xo, xi = s[D].split(D.op.axis[0], factor=2)
    s[g].compute_at(s[D], xo)
    assert s[B].attach_stage is s[D] and s[C].attach_stage is s[D]
    check(s, [A], [D])
    s[g].compute_root()
    assert s[B].attach_stage is None and s[C].attach_stage is None
    check(s, [A], [D])


def test_members_keep_their_places_inside_the_group(check):
    A, B, C, D = chain()
    s = te.create_schedule(D.op)
    g = s.create_group(outputs=[C], inputs=[A])
    s[B].compute_at(s[C], C.op.axis[1])
    xo, xi = s[D].split(D.op.axis[0], factor=5)
    s[g].compute_at(s[D], xo)
    assert s[B].attach_stage is s[C] and s[C].attach_stage is s[D]
    check(s, [A], [D])


def test_steps_replay_and_print(check):
    A, B, C, D = chain()
    s = te.create_schedule(D.op)
    g = s.create_group(outputs=C, inputs=A, include_inputs=False)
    xo, xi = s[D].split(D.op.axis[0], factor=2)
    s[g].compute_at(s[D], xo)
    expected = str(tl.lower(s, [A, D]))
    steps = steps_from_json(steps_to_json(s.steps))
    again = replay(steps, [D])
    assert str(tl.lower(again, [A, D])) == expected
    namespace = {"tl": tl, "A": A, "B": B, "C": C, "D": D}
    exec(str(s), namespace)
    assert "s.create_group(outputs=[C], inputs=[A]" in str(s)
    assert str(tl.lower(namespace["s"], [A, D])) == expected


def test_refusals_name_the_stage():
    A, B, C, D = chain()
    s = te.create_schedule(D.op)
    g = s.create_group(outputs=C, inputs=A)
    with pytest.raises(ScheduleError, match="'C' belongs to the group"):
        s[g].compute_at(s[C], C.op.axis[0])
    with pytest.raises(ScheduleError, match="placed with compute_at / compute_root"):
        s[g].split(C.op.axis[0], factor=2)
    with pytest.raises(NotImplementedError, match="already in group 'group'"):
        s.create_group(outputs=B, inputs=A)
    E = te.compute((10, 12), lambda i, j: D[i, j] + 1.0, name="E")
    s2 = te.create_schedule([D, E])
    g2 = s2.create_group(outputs=D, inputs=A)
    with pytest.raises(ScheduleError, match="member 'D' is an output"):
        s2[g2].compute_at(s2[E], E.op.axis[0])
    with pytest.raises(ScheduleError, match="outputs must be tensors"):
        s2.create_group(outputs="D", inputs=[])
    with pytest.raises(ScheduleError, match="reads no stage of the group"):
        A2, B2, C2, D2 = chain()
        F = te.compute((10, 12), lambda i, j: A2[i, j] - 1.0, name="F")
        G = te.compute((10, 12), lambda i, j: D2[i, j] + F[i, j], name="G")
        s4 = te.create_schedule(G.op)
        g4 = s4.create_group(outputs=C2, inputs=A2)
        s4[g4].compute_at(s4[F], F.op.axis[0])


def test_include_inputs_groups_the_input_stage_too(check):
    A, B, C, D = chain()
    s = te.create_schedule(D.op)
    g = s.create_group(outputs=C, inputs=B, include_inputs=True)
    assert [m.name for m in g.members] == ["B", "C"]
    s2 = te.create_schedule(D.op)
    g_none = s2.create_group(outputs=C, inputs=B)
    assert [m.name for m in g_none.members] == ["C"]
    s[g].compute_at(s[D], D.op.axis[0])
    check(s, [A], [D])
