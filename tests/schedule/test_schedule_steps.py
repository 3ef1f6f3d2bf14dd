"""A schedule is data: steps printed as Python, serialised as JSON and replayed."""
from __future__ import annotations

import json

import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.schedule import Schedule, replay, steps_from_json, steps_to_json


def workload():
    A = te.placeholder((40, 24), name="A")
    B = te.placeholder((24, 36), name="B")
    k = te.reduce_axis((0, 24), name="k")
    C = te.compute((40, 36), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    D = te.compute((40, 36), lambda i, j: te.maximum(C[i, j], 0.0), name="D")
    return A, B, C, D


def schedule_everything(A, B, C, D):
    s = tl.create_schedule(D)
    AA = s.cache_read(A, "local", [C])
    CC = s.cache_write(C, "local")
    io, jo, ii, ji = s[D].tile(D.op.axis[0], D.op.axis[1], 8, 6)
    f = s[D].fuse(io, jo)
    s[D].parallel(f)
    s[D].vectorize(ji)
    s[C].compute_at(s[D], f)
    ko, ki = s[CC].split(s[CC].op.reduce_axis[0], nparts=3)
    s[CC].reorder(ko, s[CC].op.axis[0], ki, s[CC].op.axis[1])
    s[CC].unroll(ki)
    s[CC].compute_at(s[C], s[C].op.axis[0])
    s[AA].compute_at(s[CC], ko)
    s[C].pragma(s[C].op.axis[0], "auto_unroll_max_step", 8)
    return s


def test_steps_are_recorded_in_order():
    s = schedule_everything(*workload())
    prims = [st["primitive"] for st in s.steps]
    assert prims == ["cache_read", "cache_write", "tile", "fuse", "parallel", "vectorize",
                     "compute_at", "split", "reorder", "unroll", "compute_at", "compute_at",
                     "pragma"]
    assert s.steps[2] == {"primitive": "tile", "stage": "D", "x": "i", "y": "j",
                          "x_factor": 8, "y_factor": 6,
                          "outputs": ["i.outer", "j.outer", "i.inner", "j.inner"]}
    json.dumps(s.steps)  # plain data


def test_print_shows_python():
    A = te.placeholder((64,), name="A")
    C = te.compute((64,), lambda x: A[x] * 2.0, name="C")
    s = tl.create_schedule(C)
    xo, xi = s[C].split(C.op.axis[0], factor=32)
    s[C].bind(xi, te.thread_axis("threadIdx.x"))
    assert str(s) == ("s = tl.create_schedule([C])\n"
                      "x_outer, x_inner = s[C].split(s[C].op.axis[0], factor=32)\n"
                      "s[C].bind(x_inner, te.thread_axis('threadIdx.x'))")


def test_printed_python_rebuilds_the_schedule():
    A, B, C, D = workload()
    s = schedule_everything(A, B, C, D)
    A2, B2, C2, D2 = workload()
    namespace = {"tl": tl, "te": te, "A": A2, "B": B2, "C": C2, "D": D2}
    exec(str(s), namespace)
    rebuilt = namespace["s"]
    assert str(tl.lower(rebuilt, [A2, B2, D2])) == str(tl.lower(s, [A, B, D]))


def test_json_round_trip_and_replay(check):
    A, B, C, D = workload()
    s = schedule_everything(A, B, C, D)
    text = s.to_json()
    assert steps_from_json(text) == s.steps
    A2, B2, C2, D2 = workload()
    s2 = Schedule.from_json(text, [D2])
    assert s2.steps == s.steps
    assert str(tl.lower(s2, [A2, B2, D2])) == str(tl.lower(s, [A, B, D]))
    s3 = replay(steps_from_json(steps_to_json(s.steps)), D2)
    assert str(s3) == str(s)
    check(s3, [A2, B2], [D2])


def test_replay_rfactor_and_inline():
    def build():
        A = te.placeholder((8, 30), name="A")
        B = te.compute((8, 30), lambda i, j: A[i, j] * A[i, j], name="B")
        k = te.reduce_axis((0, 30), name="k")
        C = te.compute((8,), lambda i: te.sum(B[i, k], axis=k), name="C")
        return A, C
    A, C = build()
    s = tl.create_schedule(C)
    s[s.stages[1]].compute_inline()
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=8)
    CF = s.rfactor(C, ki, factor_axis=1)
    s[CF].compute_at(s[C], C.op.axis[0])
    A2, C2 = build()
    s2 = replay(s.steps, [C2])
    assert str(tl.lower(s2, [A2, C2])) == str(tl.lower(s, [A, C]))


def test_replay_mismatch_is_reported():
    A, B, C, D = workload()
    s = tl.create_schedule(D)
    s[D].split(D.op.axis[0], factor=4)
    steps = [dict(s.steps[0], axis="nope")]
    with pytest.raises(tl.ScheduleError, match="stage 'D' has no axis named 'nope'"):
        replay(steps, [D])
    with pytest.raises(tl.ScheduleError, match="no stage named 'E'"):
        replay([{"primitive": "compute_root", "stage": "E"}], [D])
    with pytest.raises(tl.ScheduleError, match="invalid JSON"):
        steps_from_json("{not json")
