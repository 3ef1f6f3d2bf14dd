"""Property test: any valid schedule computes what the unscheduled computation computes.

Hypothesis draws random schedules for five workloads (matmul, conv2d with a padding
stage, softmax, a reduction over two axes, a te.scan) with the strategies of
``schedule_strategies``: splits with any factor (divisors or not), fuses of adjacent
axes, reorders, vectorize / unroll / parallel, compute_at (chains too) / compute_inline /
compute_root of producers, cache_write, rfactor after nested splits of the reduction.  Each
schedule is lowered, checked by the IR verifier, run by the TIR interpreter and compared
with the reference evaluation of the tensor expressions.

On failure, hypothesis prints the schedule as the Python steps that rebuild it.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import tensorlang as tl
from tensorlang.te.reference import evaluate as reference_evaluate
from tensorlang.tir.interpreter import interpret
from tensorlang.tir.transform.remove_no_op import remove_no_op
from tensorlang.tir.transform.unroll import unroll_loops
from tensorlang.tir.transform.vectorize import vectorize_loops
from tensorlang.tir.verify import verify

from schedule_strategies import (draw_conv2d_schedule, draw_matmul_schedule,
                                 draw_reduction_schedule, draw_softmax_schedule, event,
                                 extent_value, note_text, property_settings, random_inputs,
                                 unscheduled_workloads)
from scan_strategies import draw_scan_schedule

PROPERTY_SETTINGS = property_settings(examples_per_workload=100)


def check_schedule(sched, inputs, outputs, log: list[str]) -> None:
    """Lower, verify, interpret and compare with the reference evaluation.

    The code-generation preparation passes (unroll, vectorize, no-op removal) also run on
    the lowered function when ``tl.lower`` left anything for them, so that their output is
    checked under every drawn schedule too."""
    args = list(inputs) + list(outputs)
    func = tl.lower(sched, args)
    note_text(f"lowered:\n{func}")
    arrays = random_inputs(inputs)
    expected = reference_evaluate(outputs, dict(zip(inputs, arrays)))
    candidates = [("tl.lower", func)]
    prepared = remove_no_op(vectorize_loops(unroll_loops(func)))
    if _has_vector_code(prepared):
        event("vectorized loop became vector code")
    if prepared is not func:
        note_text(f"after unroll_loops, vectorize_loops, remove_no_op:\n{prepared}")
        candidates.append(("unroll + vectorize", prepared))
    for stage, candidate in candidates:
        verify(candidate)
        results = [np.zeros(tuple(extent_value(d) for d in t.shape), dtype=str(t.dtype))
                   for t in outputs]
        interpret(candidate, *arrays, *results)
        for tensor, got, want in zip(outputs, results, expected):
            np.testing.assert_allclose(
                got, want, rtol=1e-5, atol=1e-6,
                err_msg=f"output {tensor.name} differs ({stage}) under the schedule:\n"
                        + "\n".join(log))


def _has_vector_code(func) -> bool:
    from tensorlang.tir import BufferStore, post_order_visit
    found = []
    post_order_visit(func.body, lambda n: found.append(n) if isinstance(n, BufferStore)
                     and n.value.dtype.lanes > 1 else None)
    return bool(found)


def _check(drawn) -> None:
    check_schedule(drawn.sched, drawn.inputs, drawn.outputs, drawn.log)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_random_matmul_schedules(data):
    _check(draw_matmul_schedule(data))


@PROPERTY_SETTINGS
@given(data=st.data())
def test_random_conv2d_schedules(data):
    _check(draw_conv2d_schedule(data))


@PROPERTY_SETTINGS
@given(data=st.data())
def test_random_softmax_schedules(data):
    _check(draw_softmax_schedule(data))


@PROPERTY_SETTINGS
@given(data=st.data())
def test_random_rfactor_schedules(data):
    """Nested splits of two reduction axes, rfactor at any level, more steps after."""
    _check(draw_reduction_schedule(data))


@property_settings(examples_per_workload=80)
@given(data=st.data())
def test_random_scan_schedules(data):
    """A two-stage or RNN scan: splits of the scan axis, the update's axes scheduled, the
    stage between state and update at any loop of a step."""
    _check(draw_scan_schedule(data))


def test_unscheduled_workloads_match_the_reference():
    """The plain lowering of each workload (the starting point of every draw)."""
    for drawn in unscheduled_workloads():
        _check(drawn)
