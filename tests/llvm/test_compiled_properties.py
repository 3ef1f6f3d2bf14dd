"""Property test through compiled code: any valid schedule, built for the CPU, computes
what the numpy reference evaluation of the unscheduled tensor expressions computes.

The schedules are drawn by the strategies of ``schedule_strategies`` (the ones the
interpreter property test uses): matmul (plain, cache_write, rfactor), conv2d with a
padding stage, softmax with its producer stages, a reduction factored with rfactor
after nested splits and a te.scan (two stages or an RNN step per step), under random splits, fuses, reorders, vectorize / unroll / parallel
and attachments.  Each is lowered and compiled
with ``tl.build(..., target="llvm")``; some draws are built with ``bounds_check=True``,
under which any out-of-bounds access would raise ``IndexError`` instead of passing
unnoticed.  Outputs start as NaN so that an element the code never writes shows up.
Every argument, input or output, comes in a drawn memory layout (odd byte offsets,
offset slices, strided, transposed and reversed views), which the call must read and
write through as it would a C-contiguous array.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import tensorlang as tl
from tensorlang.te.reference import evaluate as reference_evaluate

from schedule_strategies import (draw_conv2d_schedule, draw_layout, draw_matmul_schedule,
                                 draw_reduction_schedule, draw_softmax_schedule, event,
                                 extent_value, note_text, property_settings, random_inputs,
                                 unscheduled_workloads)
from scan_strategies import draw_scan_schedule

# 3 workloads x 70 draws: the 200-odd compiled schedules CI checks on every run
COMPILED_SETTINGS = property_settings(examples_per_workload=70)
# smaller than the interpreter test's sizes, so that fully unrolled or wide vector loops
# stay quick to compile; they still leave tails for most split factors
MATMUL_SIZES = [(7, 9, 5), (8, 8, 4), (5, 6, 3)]
CONV2D_SIZES, CONV2D_CHANNELS = (5, 7), (2, 3)
SOFTMAX_SHAPES = [(3, 7), (4, 8), (2, 5)]
REDUCTION_SHAPES = [(2, 16, 1), (3, 7, 3), (1, 11, 2)]


def run_compiled(drawn, bounds_check: bool = False, data=None) -> None:
    """Build ``drawn`` for the CPU, run it on random inputs and compare every output with
    the reference evaluation (float32; the vector math functions are within a few ulp).
    With ``data``, each argument's memory layout is drawn."""
    func = tl.lower(drawn.sched, drawn.args)
    note_text(f"lowered:\n{func}")
    mod = tl.build(func, target="llvm", bounds_check=bounds_check)
    arrays = random_inputs(drawn.inputs)
    expected = reference_evaluate(drawn.outputs, dict(zip(drawn.inputs, arrays)))
    results = [np.full(tuple(extent_value(d) for d in t.shape), np.nan, dtype=str(t.dtype))
               for t in drawn.outputs]
    if data is not None:
        arrays = [draw_layout(data, a, t.name) for a, t in zip(arrays, drawn.inputs)]
        results = [draw_layout(data, r, t.name) for r, t in zip(results, drawn.outputs)]
    originals = [a.copy() for a in arrays]
    mod(*arrays, *results)
    for tensor, got, want in zip(drawn.outputs, results, expected):
        np.testing.assert_allclose(
            got, want, rtol=2e-5, atol=2e-6,
            err_msg=f"compiled output {tensor.name} differs (bounds_check={bounds_check}) "
                    f"under the schedule:\n{drawn.text()}")
    for array, original in zip(arrays, originals):
        np.testing.assert_array_equal(array, original, err_msg="an input was written")


def _run(data, drawn) -> None:
    bounds_check = data.draw(st.integers(0, 3), label="bounds_check build") == 0
    event(f"bounds_check={bounds_check}")
    run_compiled(drawn, bounds_check, data)


@COMPILED_SETTINGS
@given(data=st.data())
def test_compiled_random_matmul_schedules(data):
    _run(data, draw_matmul_schedule(data, MATMUL_SIZES))


@COMPILED_SETTINGS
@given(data=st.data())
def test_compiled_random_conv2d_schedules(data):
    _run(data, draw_conv2d_schedule(data, CONV2D_SIZES, CONV2D_CHANNELS))


@COMPILED_SETTINGS
@given(data=st.data())
def test_compiled_random_softmax_schedules(data):
    _run(data, draw_softmax_schedule(data, SOFTMAX_SHAPES))


@property_settings(examples_per_workload=50)
@given(data=st.data())
def test_compiled_random_rfactor_schedules(data):
    """Nested splits of two reduction axes, rfactor at any level, more steps after."""
    _run(data, draw_reduction_schedule(data, REDUCTION_SHAPES))


@property_settings(examples_per_workload=40)
@given(data=st.data())
def test_compiled_random_scan_schedules(data):
    run_compiled(draw_scan_schedule(data), data=data)


def test_compiled_unscheduled_workloads_match_the_reference():
    """The default schedule of each workload, with and without bounds checks."""
    for drawn in unscheduled_workloads():
        run_compiled(drawn)
        run_compiled(drawn, bounds_check=True)


def test_schedule_whose_optimised_ir_failed_verification():
    """Found by drawing schedules for a transpose followed by a reshape: on an AVX-512
    host, LLVM's O3 pipeline (loop vectorizer, SLP vectorizer and unroller together)
    turned this function's valid IR into IR that uses values before defining them, and
    object emission aborted the process.  The build now verifies the optimised module
    and optimises again with fewer passes when it is invalid."""
    from tensorlang import ops, te
    a = te.placeholder((3, 4, 2), name="a")
    transposed = ops.transpose(a, (2, 0, 1))
    out = ops.reshape(transposed, (4, 6))
    sched = tl.create_schedule(out)
    row, column = out.op.axis
    column_outer, column_inner = sched[out].split(column, factor=4)
    sched[out].reorder(row, column_inner, column_outer)
    sched[out].fuse(column_inner, column_outer)
    sched[out].pragma(row, "auto_unroll_max_step", 16)
    sched[transposed].compute_root()
    outer, inner = sched[transposed].split(transposed.op.axis[0], factor=1)
    sched[transposed].reorder(transposed.op.axis[1], inner, outer, transposed.op.axis[2])
    sched[transposed].unroll(inner)
    mod = tl.build(sched, [a, out], target="llvm", use_cache=False)
    x = np.random.default_rng(0).random((3, 4, 2), dtype="float32")
    got = np.zeros((4, 6), "float32")
    mod(x, got)
    np.testing.assert_array_equal(got, x.transpose(2, 0, 1).reshape(4, 6))
