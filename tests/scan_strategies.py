"""Hypothesis strategies that draw random valid schedules of a te.scan, shared by the
interpreter property test (tests/test_schedule_properties.py) and the compiled one
(tests/llvm/test_compiled_properties.py).

The workload is a recurrence over a drawn number of steps: either two stages per step
(``s1 = state[t - 1] * 0.5``, ``update = s1[t] + X[t]``) or an RNN step (``h2h`` a matrix-
vector reduction of the previous state, ``update = tanh(h2h[t] + X[t])``).  The draw
splits the scan axis or not (factor or nparts, dividing or not) and maybe unrolls the
inner part; schedules the update's axes after its time axis (splits, fuses, reorders,
vectorize / unroll / parallel); places the stage between state and update at any loop of
the update (its time axis included), at the scan's innermost loop, or inlines it, then
schedules its own axes; and schedules the init like any root stage.  The time axes are
left alone: the schedule rules refuse to break the recurrence (see test_schedule_scan).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import tensorlang as tl
from tensorlang import te

from schedule_strategies import Axis, DrawnSchedule, StageDraw, event

#: (steps, width) of the drawn scans
SCAN_SHAPES = [(2, 5), (5, 7), (8, 4), (6, 1), (3, 12)]


def rnn(steps, hidden):
    """One recurrent layer as a scan: ``h[t] = tanh(W @ h[t-1] + X[t])`` with the matrix
    product a reduction stage computed at each step.  Returns ``(W, X, h2h, h_update,
    h_init, h_scan)``."""
    W = te.placeholder((hidden, hidden), name="W")
    X = te.placeholder((steps, hidden), name="X")
    h_state = te.placeholder((steps, hidden), name="h_state")
    h_init = te.compute((1, hidden), lambda _, j: X[0, j], name="h_init")
    k = te.reduce_axis((0, hidden), name="k")
    h2h = te.compute((steps, hidden), lambda t, j: te.sum(W[j, k] * h_state[t - 1, k], axis=k),
                     name="h2h")
    h_update = te.compute((steps, hidden), lambda t, j: te.tanh(h2h[t, j] + X[t, j]),
                          name="h_update")
    return W, X, h2h, h_update, h_init, te.scan(h_init, h_update, h_state, inputs=[X, W])


def rnn_numpy(w, x):
    """The recurrence of :func:`rnn` in numpy."""
    h = np.zeros_like(x)
    h[0] = x[0]
    for t in range(1, len(x)):
        h[t] = np.tanh(w @ h[t - 1] + x[t])
    return h


def scan_workload(kind: str, steps: int, width: int):
    """``(inputs, between, update, init, scan)`` of one of the two recurrences."""
    X = te.placeholder((steps, width), name="X")
    state = te.placeholder((steps, width), name="state")
    init = te.compute((1, width), lambda _, i: X[0, i] * 2.0, name="init")
    if kind == "rnn":
        W = te.placeholder((width, width), name="W")
        k = te.reduce_axis((0, width), name="k")
        between = te.compute((steps, width),
                             lambda t, i: te.sum(W[i, k] * state[t - 1, k], axis=k), name="s1")
        update = te.compute((steps, width), lambda t, i: te.tanh(between[t, i] + X[t, i]),
                            name="update")
        inputs = [X, W]
    else:
        between = te.compute((steps, width), lambda t, i: state[t - 1, i] * 0.5, name="s1")
        update = te.compute((steps, width), lambda t, i: between[t, i] + X[t, i],
                            name="update")
        inputs = [X]
    return inputs, between, update, init, te.scan(init, update, state)


def draw_scan_schedule(data, shapes=tuple(SCAN_SHAPES)) -> DrawnSchedule:
    """A drawn schedule of a two-stage or RNN scan of one of the (steps, width) ``shapes``
    (see the module docstring)."""
    steps, width = data.draw(st.sampled_from(list(shapes)), label="scan (steps, width)")
    kind = data.draw(st.sampled_from(["two-stage", "rnn"]), label="scan kind")
    event(f"scan {kind}")
    inputs, between, update, init, out = scan_workload(kind, steps, width)
    sched = tl.create_schedule(out)
    log: list[str] = [f"# {kind} scan over {steps} steps of width {width}"]
    loop = StageDraw(data, sched, out, "scan", log)
    loop.leaves = [Axis(out.op.scan_axis, "scan_idx", steps - 1, False)]
    if data.draw(st.booleans(), label="split the scan axis"):
        outer, inner = loop.split(loop.leaves[0])
        event("scan axis split")
        if data.draw(st.booleans(), label="unroll the inner steps"):
            loop.stage.unroll(inner.itervar)
            loop.emit(f"s[scan].unroll({inner.name})")
    main = StageDraw(data, sched, update, "update", log)
    time = main.leaves.pop(0)   # one point per step: not scheduled
    main.transform()
    main.annotate(allow_parallel=True)
    producer = StageDraw(data, sched, between, "s1", log)
    producer.leaves.pop(0)
    loops = [(main, axis) for axis in [time] + main.leaves] + [(loop, loop.leaves[-1])]
    choices = ["at"] + (["inline"] if kind == "two-stage" else [])
    if data.draw(st.sampled_from(choices), label="s1: placement") == "inline":
        producer.stage.compute_inline()
        producer.emit("s[s1].compute_inline()")
    else:
        consumer, target = data.draw(st.sampled_from(loops), label="s1: compute_at loop")
        producer.stage.compute_at(consumer.stage, target.itervar)
        producer.emit(f"s[s1].compute_at(s[{consumer.name}], {target.name})")
        event(f"s1 at a loop of {consumer.name}")
        producer.attached = True
        producer.transform()
        producer.annotate(allow_parallel=consumer is loop)
    first = StageDraw(data, sched, init, "init", log)
    first.transform()
    first.annotate(allow_parallel=True)
    return DrawnSchedule(sched, inputs, [out], log)
