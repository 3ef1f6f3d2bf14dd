"""Scheduling and lowering te.scan: the stages of a step inside the loop over time, bound
inference at the step, every result run by the TIR interpreter against the numpy
reference, and each refused schedule with its message."""
import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.errors import LoweringError, ScheduleError
from tensorlang.schedule import Schedule
from tensorlang.te.reference import evaluate
from tensorlang.tir import stmt as S
from tensorlang.tir.interpreter import interpret
from tensorlang.tir.verify import verify
from scan_strategies import rnn

RNG = np.random.default_rng(3)


def cumsum(m, n):
    X = te.placeholder((m, n), name="X")
    s_state = te.placeholder((m, n), name="s_state")
    s_init = te.compute((1, n), lambda _, i: X[0, i], name="s_init")
    s_update = te.compute((m, n), lambda t, i: s_state[t - 1, i] + X[t, i], name="s_update")
    return X, s_init, s_update, te.scan(s_init, s_update, s_state, inputs=[X])


def two_stage(m, n):
    """TVM's multi-stage scan cell: s1 from the state, s2 (the update) from s1."""
    X = te.placeholder((m, n), name="X")
    s_state = te.placeholder((m, n), name="s_state")
    s_init = te.compute((1, n), lambda _, i: X[0, i], name="s_init")
    s1 = te.compute((m, n), lambda t, i: s_state[t - 1, i] * 2, name="s1")
    s2 = te.compute((m, n), lambda t, i: s1[t, i] + X[t, i], name="s2")
    return X, s_init, s1, s2, te.scan(s_init, s2, s_state, inputs=[X])


def run(s, inputs, outputs, arrays, shape_vars=None, simple_mode=False):
    """Lower, verify, interpret; compare with the reference; return the PrimFunc."""
    func = tl.lower(s, list(inputs) + list(outputs), simple_mode=simple_mode)
    verify(func)
    expected = evaluate(list(outputs), dict(zip(inputs, arrays)), shape_vars=shape_vars)
    results = [np.full(e.shape, np.nan if e.dtype.kind == "f" else 0, e.dtype)
               for e in expected]
    interpret(func, *arrays, *results)
    for got, want, t in zip(results, expected, outputs):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6,
                                   err_msg=f"output {t.name} of\n{func}")
    return func


def nodes(stmt, kind):
    from tensorlang.tir import post_order_visit
    found = []
    post_order_visit(stmt, lambda n: found.append(n) if isinstance(n, kind) else None)
    return found


def test_cumsum_symbolic_golden(golden):
    X, _, _, s_scan = cumsum(te.var("m"), te.var("n"))
    s = te.create_schedule(s_scan.op)
    golden("schedule/scan_cumsum", tl.lower(s, [X, s_scan], name="cumsum"))
    x = RNG.random((10, 7)).astype("float32")
    run(s, [X], [s_scan], [x])


@pytest.mark.parametrize("m,n", [(1, 3), (2, 1), (10, 33)])
def test_cumsum_sizes(m, n):
    X, _, _, s_scan = cumsum(te.var("m"), te.var("n"))
    x = RNG.random((m, n)).astype("float32")
    out = np.zeros_like(x)
    interpret(tl.lower(te.create_schedule(s_scan.op), [X, s_scan]), x, out)
    np.testing.assert_allclose(out, np.cumsum(x, axis=0), rtol=1e-5)


def test_stages_of_a_step_are_attached_to_the_scan_loop():
    X, s_init, s1, s2, s_scan = two_stage(te.var("m"), te.var("n"))
    s = te.create_schedule(s_scan.op)
    assert s[s_init].attach_type == "root"
    for stage in (s[s1], s[s2]):
        assert stage.attach_type == "scope" and stage.attach_stage is s[s_scan]
        assert stage.attach_ivar is s_scan.op.scan_axis
    assert s[s_scan].leaf_iter_vars == [s_scan.op.scan_axis]
    assert s.scan_role(s[s1]) == ("body", s[s_scan])
    assert s.scan_role(s[s2]) == ("update", s[s_scan])


def test_multi_stage_compute_at_the_update_computes_one_tile_of_one_step():
    X, _, s1, s2, s_scan = two_stage(te.var("m"), te.var("n"))
    s = te.create_schedule(s_scan.op)
    xo, xi = s[s2].split(s2.op.axis[1], factor=32)
    s[s1].compute_at(s[s2], xo)
    func = run(s, [X], [s_scan], [RNG.random((6, 70)).astype("float32")])
    (buffer,) = {a.buffer for a in nodes(func.body, S.Allocate) if a.buffer.name == "s1"}
    assert [d.value for d in buffer.shape] == [1, 32]   # one time point, one tile
    scan_loops = [f for f in nodes(func.body, S.For) if ("scan", "scan") in f.annotations]
    assert len(scan_loops) == 1 and scan_loops[0].kind == S.ForKind.SERIAL


def test_two_states():
    m, n, l_ = te.var("m"), te.var("n"), te.var("l")
    X = te.placeholder((m, n), name="X")
    s1 = te.placeholder((m, n), name="s1")
    s2 = te.placeholder((m, l_), name="s2")
    init1 = te.compute((1, n), lambda _, i: X[0, i], name="init1")
    init2 = te.compute((1, l_), lambda _, i: 0.0, name="init2")
    update1 = te.compute((m, n), lambda t, i: s1[t - 1, i] + X[t, i], name="update1")
    update2 = te.compute((m, l_), lambda t, i: s2[t - 1, i] + s1[t - 1, 0], name="update2")
    out1, out2 = te.scan([init1, init2], [update1, update2], [s1, s2], inputs=[X])
    s = te.create_schedule(out1.op)
    io, ii = s[update2].split(update2.op.axis[1], factor=3)
    s[update2].vectorize(ii)
    func = run(s, [X], [out1, out2], [RNG.random((7, 5)).astype("float32")],
               shape_vars={l_: 8})
    assert [p.name for p in func.params] == ["X", "scan.v0", "scan.v1"]


def test_update_reading_another_update_of_the_same_step():
    X = te.placeholder((6, 4), name="X")
    a_state = te.placeholder((6, 4), name="a")
    b_state = te.placeholder((6, 4), name="b")
    a_init = te.compute((1, 4), lambda _, i: X[0, i], name="a_init")
    b_init = te.compute((1, 4), lambda _, i: -X[0, i], name="b_init")
    a_next = te.compute((6, 4), lambda t, i: a_state[t - 1, i] + X[t, i], name="a_next")
    b_next = te.compute((6, 4), lambda t, i: a_next[t, i] * b_state[t - 1, i], name="b_next")
    outs = te.scan([a_init, b_init], [a_next, b_next], [a_state, b_state])
    s = te.create_schedule([o.op for o in outs][0])
    run(s, [X], outs, [RNG.random((6, 4)).astype("float32")])


@pytest.mark.parametrize("factor", [1, 3, 4, 12, 13])
def test_rnn_compute_at_the_update_with_any_split(factor):
    W, X, h2h, h_update, _, h_scan = rnn(6, 12)
    s = te.create_schedule(h_scan.op)
    jo, ji = s[h_update].split(h_update.op.axis[1], factor=factor)
    s[h2h].compute_at(s[h_update], jo)
    s[h_update].vectorize(ji)
    w = (RNG.random((12, 12)) * 0.3).astype("float32")
    run(s, [W, X], [h_scan], [w, RNG.random((6, 12)).astype("float32")])


def test_rnn_parallel_update_with_a_split_reduction():
    W, X, h2h, h_update, _, h_scan = rnn(5, 16)
    s = te.create_schedule(h_scan.op)
    jo, ji = s[h_update].split(h_update.op.axis[1], factor=4)
    s[h_update].parallel(jo)
    s[h2h].compute_at(s[h_update], ji)
    ko, ki = s[h2h].split(s[h2h].op.reduce_axis[0], factor=5)
    s[h2h].unroll(ki)
    w = (RNG.random((16, 16)) * 0.3).astype("float32")
    run(s, [W, X], [h_scan], [w, RNG.random((5, 16)).astype("float32")])


@pytest.mark.parametrize("factor,nparts", [(1, None), (2, None), (3, None), (9, None),
                                           (None, 2), (None, 4)])
def test_scan_axis_split_keeps_the_steps_in_order(factor, nparts):
    X, _, s1, s2, s_scan = two_stage(10, 6)
    s = te.create_schedule(s_scan.op)
    to, ti = s[s_scan].split(s_scan.op.scan_axis, factor=factor, nparts=nparts)
    s[s_scan].unroll(ti)
    assert s[s1].attach_ivar is ti and s[s2].attach_ivar is ti
    xo, xi = s[s2].split(s2.op.axis[1], factor=4)
    s[s1].compute_at(s[s2], xo)
    run(s, [X], [s_scan], [RNG.random((10, 6)).astype("float32")])


def test_scan_axis_split_then_fused():
    X, _, _, s_scan = cumsum(11, 3)
    s = te.create_schedule(s_scan.op)
    to, ti = s[s_scan].split(s_scan.op.scan_axis, factor=4)
    s[s_scan].fuse(to, ti)
    run(s, [X], [s_scan], [RNG.random((11, 3)).astype("float32")])


def test_scan_output_read_by_a_later_stage_and_an_input_stage_at_the_update():
    X, _, s_update, s_scan = cumsum(6, 8)
    Y = te.compute((6, 8), lambda t, i: s_scan[t, i] * 2.0, name="Y")
    s = te.create_schedule(Y.op)
    func = run(s, [X], [Y], [RNG.random((6, 8)).astype("float32")])
    assert any(a.buffer.name == "scan" for a in nodes(func.body, S.Allocate))
    # a stage that does not read the state, computed inside the update's loops
    X = te.placeholder((6, 8), name="X")
    state = te.placeholder((6, 8), name="state")
    X2 = te.compute((6, 8), lambda t, i: X[t, i] * X[t, i], name="X2")
    init = te.compute((1, 8), lambda _, i: X[0, i], name="init")
    update = te.compute((6, 8), lambda t, i: state[t - 1, i] + X2[t, i], name="update")
    out = te.scan(init, update, state)
    s = te.create_schedule(out.op)
    io, ii = s[update].split(update.op.axis[1], factor=3)
    s[X2].compute_at(s[update], io)
    func = run(s, [X], [out], [RNG.random((6, 8)).astype("float32")])
    (buffer,) = {a.buffer for a in nodes(func.body, S.Allocate) if a.buffer.name == "X2"}
    assert [d.value for d in buffer.shape] == [1, 3]


def test_caches_and_rfactor_inside_a_step():
    W, X, h2h, h_update, _, h_scan = rnn(5, 8)
    w = (RNG.random((8, 8)) * 0.3).astype("float32")
    x = RNG.random((5, 8)).astype("float32")
    s = te.create_schedule(h_scan.op)
    HS = s.cache_read(h_scan.op.state_placeholder[0], "local", [h2h])
    s[HS].compute_at(s[h2h], s[h2h].op.axis[1])
    assert s.scan_role(s[HS])[0] == "body" and s[HS].attach_type == "scope"
    run(s, [W, X], [h_scan], [w, x])
    s = te.create_schedule(h_scan.op)
    ko, ki = s[h2h].split(s[h2h].op.reduce_axis[0], factor=3)
    HF = s.rfactor(h2h, ki)
    assert s[HF].attach_stage is s[h_scan]
    run(s, [W, X], [h_scan], [w, x])
    s = te.create_schedule(h_scan.op)
    UL = s.cache_write(h_update, "local")
    run(s, [W, X], [h_scan], [w, x])
    assert s.scan_role(s[UL])[0] == "body" and s.scan_role(s[h_update])[0] == "update"


def test_scan_schedule_replays_from_its_steps():
    X, _, s1, s2, s_scan = two_stage(9, 10)
    s = te.create_schedule(s_scan.op)
    to, ti = s[s_scan].split(s_scan.op.scan_axis, factor=4)
    xo, xi = s[s2].split(s2.op.axis[1], factor=3)
    s[s1].compute_at(s[s2], xo)
    again = Schedule.from_json(s.to_json(), [s_scan])
    assert str(tl.lower(again, [X, s_scan])) == str(tl.lower(s, [X, s_scan]))
    assert "= s[scan].split(s[scan].op.scan_axis, factor=4)" in str(s)


# -- refusals ------------------------------------------------------------------------

@pytest.fixture
def sched():
    X, s_init, s1, s2, s_scan = two_stage(te.var("m"), te.var("n"))
    return te.create_schedule(s_scan.op), X, s_init, s1, s2, s_scan


@pytest.mark.parametrize("primitive,verb", [
    ("parallel", "run in parallel"), ("vectorize", "vectorized"),
    ("bind", "bound to a thread")])
def test_scan_axis_keeps_its_steps_in_order(sched, primitive, verb):
    s, X, s_init, s1, s2, s_scan = sched
    axis = s_scan.op.scan_axis
    args = (te.thread_axis("blockIdx.x"),) if primitive == "bind" else ()
    with pytest.raises(ScheduleError, match=f"on stage 'scan': axis 'scan.idx' is a loop over "
                                            f"the steps of scan 'scan', which cannot be {verb}"):
        getattr(s[s_scan], primitive)(axis, *args)
    to, ti = s[s_scan].split(axis, factor=2)
    with pytest.raises(ScheduleError, match="axis 'scan.idx.inner' is a loop over the steps"):
        getattr(s[s_scan], primitive)(ti, *args)


def test_scan_loops_cannot_be_reordered(sched):
    s, X, s_init, s1, s2, s_scan = sched
    to, ti = s[s_scan].split(s_scan.op.scan_axis, factor=2)
    with pytest.raises(ScheduleError, match="reorder.*on stage 'scan': axis 'scan.idx.inner' "
                                            "is a loop over the steps .* cannot be reordered"):
        s[s_scan].reorder(ti, to)


@pytest.mark.parametrize("action", ["split", "fuse", "reorder", "parallel", "vectorize",
                                    "bind"])
def test_update_time_axis_is_one_point_per_step(sched, action):
    s, X, s_init, s1, s2, s_scan = sched
    t, i = s2.op.axis
    call = {"split": lambda: s[s2].split(t, factor=2),
            "fuse": lambda: s[s2].fuse(t, i),
            "reorder": lambda: s[s2].reorder(i, t),
            "parallel": lambda: s[s2].parallel(t),
            "vectorize": lambda: s[s2].vectorize(t),
            "bind": lambda: s[s2].bind(t, te.thread_axis("blockIdx.x"))}[action]
    with pytest.raises(ScheduleError, match="on stage 's2': axis 't' is the time axis of "
                                            "'s2', the update of scan 'scan'"):
        call()
    s[s2].reorder(t, i)    # keeping it outermost is fine
    s[s2].unroll(t)


def test_where_scan_stages_are_computed(sched):
    s, X, s_init, s1, s2, s_scan = sched
    with pytest.raises(ScheduleError, match="compute_root\\(\\) on stage 's1': 's1' reads the "
                                            "state of scan 'scan', so it is computed at each "
                                            "step"):
        s[s1].compute_root()
    with pytest.raises(ScheduleError, match="on stage 's2': 's2' is the update of scan 'scan', "
                                            "which computes it at each step"):
        s[s2].compute_at(s[s_scan], s_scan.op.scan_axis)
    with pytest.raises(ScheduleError, match="on stage 's_init': 's_init' is the init of scan "
                                            "'scan', which computes it before the first step"):
        s[s_init].compute_at(s[s_scan], s_scan.op.scan_axis)
    for stage, what in ((s2, "the update of scan 'scan'"), (s_init, "the init of scan 'scan'")):
        with pytest.raises(ScheduleError, match=f"compute_inline\\(\\) on stage '{stage.name}': "
                                                f"'{stage.name}' is {what}"):
            s[stage].compute_inline()
    with pytest.raises(ScheduleError, match="'scan' is a scan, which cannot be inlined"):
        s[s_scan].compute_inline()
    with pytest.raises(ScheduleError, match="the update of scan 'scan' is stored in the scan's "
                                            "output"):
        s[s2].set_scope("local")
    to, ti = s[s_scan].split(s_scan.op.scan_axis, factor=2)
    with pytest.raises(ScheduleError, match="at the scan's innermost loop 'scan.idx.inner', not "
                                            "at 'scan.idx.outer', which runs several steps"):
        s[s1].compute_at(s[s_scan], to)
    s[s1].compute_at(s[s_scan], ti)
    s[s1].compute_inline()   # a stage of a step may be inlined into its readers


def test_a_scan_is_computed_at_the_root():
    X, _, _, s_scan = cumsum(6, 4)
    Y = te.compute((6, 4), lambda t, i: s_scan[t, i] + 1.0, name="Y")
    s = te.create_schedule(Y.op)
    with pytest.raises(ScheduleError, match="'scan' is a scan, computed at the root"):
        s[s_scan].compute_at(s[Y], Y.op.axis[0])


def test_a_stage_of_a_step_stays_in_its_scan():
    X = te.placeholder((6, 4), name="X")
    state = te.placeholder((6, 4), name="state")
    init = te.compute((1, 4), lambda _, i: X[0, i], name="init")
    s1 = te.compute((6, 4), lambda t, i: state[t - 1, i] * 2.0, name="s1")
    update = te.compute((6, 4), lambda t, i: s1[t, i] + X[t, i], name="update")
    out = te.scan(init, update, state)
    Y = te.compute((6, 4), lambda t, i: out[t, i] + 1.0, name="Y")
    s = te.create_schedule(Y.op)
    with pytest.raises(ScheduleError, match="'s1' reads the state of scan 'scan', so it is "
                                            "computed at each step .* not of 'Y'"):
        s[s1].compute_at(s[Y], Y.op.axis[0])


def test_caches_of_a_scan(sched):
    s, X, s_init, s1, s2, s_scan = sched
    with pytest.raises(ScheduleError, match="cache_write\\(scan, 'local'\\) on stage 'scan': "
                                            "'scan' is a scan"):
        s.cache_write(s_scan, "local")
    with pytest.raises(ScheduleError, match="stage 'scan' is a scan, which holds 's2' in its "
                                            "own output"):
        s.cache_read(s2, "local", [s_scan])


def test_state_and_update_exist_only_inside_the_scan():
    X, s_init, s_update, s_scan = cumsum(6, 4)
    state = s_scan.op.state_placeholder[0]
    C = te.compute((6, 4), lambda t, i: state[t, i] * 2.0, name="C")
    with pytest.raises(ScheduleError, match="stage 'C' reads 's_state', the state of scan "
                                            "'scan', but is not computed in the scan's steps"):
        te.create_schedule([s_scan.op, C.op])
    D = te.compute((6, 4), lambda t, i: s_update[t, i] * 2.0, name="D")
    with pytest.raises(ScheduleError, match="stage 'D' reads 's_update', the update of scan"):
        te.create_schedule([s_scan.op, D.op])
    with pytest.raises(ScheduleError, match="'s_update' is the update of scan 'scan', held in "
                                            "the scan's output"):
        te.create_schedule([s_scan.op, s_update.op])


def test_a_tensor_belongs_to_one_scan():
    X = te.placeholder((6, 4), name="X")
    state = te.placeholder((6, 4), name="state")
    init = te.compute((1, 4), lambda _, i: X[0, i], name="init")
    update = te.compute((6, 4), lambda t, i: state[t - 1, i] + X[t, i], name="update")
    a = te.scan(init, update, state, name="a")
    b = te.scan(init, update, state, name="b")
    with pytest.raises(ScheduleError, match="'init' is the init of scan 'a' and the init of "
                                            "scan 'b'"):
        te.create_schedule([a.op, b.op])


def test_lower_args_name_the_scan_output():
    X, s_init, s_update, s_scan = cumsum(6, 4)
    s = te.create_schedule(s_scan.op)
    for tensor, role in ((s_update, "update"), (s_init, "init"),
                         (s_scan.op.state_placeholder[0], "state")):
        with pytest.raises(LoweringError, match=f"tensor '{tensor.name}' in args is the {role} "
                                                f"of scan 'scan', held in the scan's output; "
                                                f"pass the scan's output 'scan'"):
            tl.lower(s, [X, tensor])
    assert [p.name for p in tl.lower(s).params] == ["X", "scan"]


def test_reads_before_the_first_step_are_refused_at_lowering():
    X = te.placeholder((6, 2), name="X")
    state = te.placeholder((6, 2), name="S")
    init = te.compute((1, 2), lambda _, i: X[0, i], name="init")
    update = te.compute((6, 2), lambda t, i: state[t - 2, i] + X[t, i], name="update")
    out = te.scan(init, update, state)
    with pytest.raises(LoweringError, match="compute 'update' reads S\\[t - 2, i\\] with t - 2 "
                                            "in \\[-1, 3\\]"):
        tl.lower(te.create_schedule(out.op), [X, out])
