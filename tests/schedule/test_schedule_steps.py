"""A schedule is data: steps printed as Python, serialised as JSON and replayed."""
from __future__ import annotations

import json

import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.schedule import Schedule, Step, replay, steps_from_json, steps_to_json
from tensorlang.schedule.steps import PRIMITIVES, Split, Tile


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
    prims = [st.primitive for st in s.steps]
    assert prims == ["cache_read", "cache_write", "tile", "fuse", "parallel", "vectorize",
                     "compute_at", "split", "reorder", "unroll", "compute_at", "compute_at",
                     "pragma"]
    assert s.steps[2] == Tile("D", "i", "j", 8, 6, ("i.outer", "j.outer", "i.inner", "j.inner"))
    assert s.steps[2].to_json() == {"primitive": "tile", "stage": "D", "x": "i", "y": "j",
                                    "x_factor": 8, "y_factor": 6,
                                    "outputs": ["i.outer", "j.outer", "i.inner", "j.inner"]}
    json.dumps([st.to_json() for st in s.steps])  # plain data


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
    steps = [dict(s.steps[0].to_json(), axis="nope")]
    with pytest.raises(tl.ScheduleError, match="stage 'D' has no axis named 'nope'"):
        replay(steps, [D])
    with pytest.raises(tl.ScheduleError, match="no stage named 'E'"):
        replay([{"primitive": "compute_root", "stage": "E"}], [D])
    with pytest.raises(tl.ScheduleError, match="invalid JSON"):
        steps_from_json("{not json")


# The "steps" of a tuning record as every version so far wrote them (the key order too):
# they must load and replay to the same schedule.
OLD_FORMAT_STEPS = [
    {"primitive": "cache_read", "stage": "A", "value_index": 0, "scope": "local",
     "readers": ["C"], "outputs": ["A.local"]},
    {"primitive": "cache_write", "stage": "C", "value_index": 0, "scope": "local",
     "outputs": ["C.local"]},
    {"primitive": "tile", "x": "i", "y": "j", "x_factor": 8, "y_factor": 6,
     "outputs": ["i.outer", "j.outer", "i.inner", "j.inner"], "stage": "D"},
    {"primitive": "fuse", "axes": ["i.outer", "j.outer"], "outputs": ["i.outer.j.outer.fused"],
     "stage": "D"},
    {"primitive": "parallel", "axis": "i.outer.j.outer.fused", "stage": "D"},
    {"primitive": "vectorize", "axis": "j.inner", "stage": "D"},
    {"primitive": "compute_at", "target": "D", "axis": "i.outer.j.outer.fused", "stage": "C"},
    {"primitive": "split", "axis": "k", "nparts": 3, "outputs": ["k.outer", "k.inner"],
     "stage": "C.local"},
    {"primitive": "reorder", "axes": ["k.outer", "i.c", "k.inner", "j.c"], "stage": "C.local"},
    {"primitive": "unroll", "axis": "k.inner", "stage": "C.local"},
    {"primitive": "compute_at", "target": "C", "axis": "i", "stage": "C.local"},
    {"primitive": "compute_at", "target": "C.local", "axis": "k.outer", "stage": "A.local"},
    {"primitive": "pragma", "axis": "i", "name": "auto_unroll_max_step", "value": 8,
     "stage": "C"},
]


def test_old_format_steps_replay_to_the_same_ir():
    A, B, C, D = workload()
    s = schedule_everything(A, B, C, D)
    assert [list(st.to_json().items()) for st in s.steps] == \
        [list(d.items()) for d in OLD_FORMAT_STEPS]
    A2, B2, C2, D2 = workload()
    again = replay(OLD_FORMAT_STEPS, [D2])
    assert again.steps == s.steps and str(again) == str(s)
    assert str(tl.lower(again, [A2, B2, D2])) == str(tl.lower(s, [A, B, D]))
    assert steps_from_json(json.dumps(OLD_FORMAT_STEPS)) == s.steps


def test_every_primitive_round_trips_through_json():
    A = te.placeholder((64, 64), name="A")
    B = te.compute((64, 64), lambda i, j: A[i, j] + 1.0, name="B")
    C = te.compute((64, 64), lambda i, j: B[i, j] * 2.0, name="C")
    s = tl.create_schedule(C)
    bo, bi = s[C].split(C.op.axis[0], factor=16)
    s[C].bind(bo, te.thread_axis("blockIdx.x"))
    s[B].set_scope("shared")
    s[B].storage_align(B.op.axis[0], 32, 1)
    s[B].pragma(B.op.axis[1], "unroll_explicit", 1.5)
    s[B].compute_at(s[C], bo)
    s[B].compute_root()
    steps = s.steps
    assert [Step.from_json(json.loads(json.dumps(st.to_json()))) for st in steps] == \
        list(steps)
    assert steps[0] == Split("C", "i", 16, None, ("i.outer", "i.inner"))
    assert "nparts" not in steps[0].to_json()
    assert {type(st).primitive for st in steps} <= set(PRIMITIVES)


@pytest.mark.parametrize("step, message", [
    ({"primitive": "shear", "stage": "C"}, "unknown primitive 'shear'"),
    ({"stage": "C"}, "unknown primitive None"),
    (["split"], "expected a dict"),
    ({"primitive": "split", "stage": "C", "factor": 4, "outputs": []}, "missing 'axis'"),
    ({"primitive": "split", "stage": "C", "axis": "i", "factor": "4"}, "'factor' must be"),
    ({"primitive": "split", "stage": "C", "axis": "i"}, "exactly one of 'factor' or"),
    ({"primitive": "fuse", "stage": "C", "axes": "ij", "outputs": []}, "'axes' must be"),
    ({"primitive": "unroll", "stage": "C", "axis": "i", "factor": 2}, "unexpected key"),
    ({"primitive": "compute_root"}, "missing 'stage'"),
])
def test_malformed_steps_are_refused_naming_the_step(step, message):
    A, B, C, D = workload()
    with pytest.raises(tl.ScheduleError, match="schedule step .*" + message):
        replay([step], [D])
    with pytest.raises(tl.ScheduleError, match=message):
        steps_from_json(json.dumps([step]))
