"""Property tests of NaN, infinities and -0.0 through compiled code and the interpreter.

numpy's rules hold whatever the schedule: a NaN operand of ``te.maximum`` /
``te.minimum`` / ``ops.relu`` gives NaN, a ``te.max`` / ``te.min`` reduction over a row
holding a NaN is NaN wherever the NaN sits (a compare-and-select picks by operand order,
so the answer used to depend on the NaN's position and on the schedule), and sums and
products follow IEEE infinity arithmetic (inf - inf and 0 * inf are NaN).

Hypothesis draws the workload (a reduction or an element-wise function, see
``schedule_strategies``), its schedule (splits, reorders, vectorize, unroll, parallel,
rfactor), the dtype, inputs mixing NaN, +-inf and -0.0 into small exact values, and the
memory layout of every argument.  Each draw is compiled for the CPU and run by the TIR
interpreter (before and after the vectorizing passes), and both are compared with numpy
bit for bit (the inputs keep every sum and product exact in any order).
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

from schedule_strategies import (draw_elementwise_schedule, draw_layout,
                                 draw_reducer_schedule, draw_special_inputs, event,
                                 extent_value, note_text, property_settings)

SPECIAL_SETTINGS = property_settings(examples_per_workload=80)
#: reduction rows up to 12 long keep float16 products of +-2 finite
REDUCTION_SHAPES = [(3, 9), (4, 12), (2, 5), (1, 8)]
ELEMENTWISE_SHAPES = [(3, 7), (4, 16), (2, 5)]
DTYPES = ["float32", "float32", "float64", "float16"]


def check_special_values(data, drawn) -> None:
    """Compiled code, the interpreter and the reference evaluation all give numpy's
    result on drawn special-value inputs."""
    args = drawn.args
    func = tl.lower(drawn.sched, args)
    note_text(f"lowered:\n{func}")
    inputs = draw_special_inputs(data, drawn.inputs)
    expected = drawn.numpy(*inputs)
    shapes = [tuple(extent_value(d) for d in t.shape) for t in drawn.outputs]
    dtypes = [str(t.dtype) for t in drawn.outputs]

    def check(name, results):
        for tensor, got, want in zip(drawn.outputs, results, expected):
            np.testing.assert_array_equal(
                got, np.asarray(want, got.dtype),
                err_msg=f"{name}: output {tensor.name} differs from numpy under the "
                        f"schedule:\n{drawn.text()}")

    check("te reference", reference_evaluate(drawn.outputs, dict(zip(drawn.inputs, inputs))))
    for name, candidate in [("interpreter", func),
                            ("interpreter, vectorized",
                             remove_no_op(vectorize_loops(unroll_loops(func))))]:
        results = [np.full(shape, 7, dtype) for shape, dtype in zip(shapes, dtypes)]
        interpret(candidate, *inputs, *results)
        check(name, results)
    mod = tl.build(func, target="llvm")
    arguments = [draw_layout(data, a, t.name) for a, t in zip(inputs, drawn.inputs)]
    results = [draw_layout(data, np.full(shape, 7, dtype), t.name)
               for shape, dtype, t in zip(shapes, dtypes, drawn.outputs)]
    mod(*arguments, *results)
    check("compiled", results)
    for argument, original in zip(arguments, inputs):
        np.testing.assert_array_equal(argument, original, err_msg="an input was written")


@SPECIAL_SETTINGS
@given(data=st.data())
def test_reductions_of_special_values_match_numpy(data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    event(f"dtype {dtype}")
    check_special_values(data, draw_reducer_schedule(data, REDUCTION_SHAPES, dtype))


@SPECIAL_SETTINGS
@given(data=st.data())
def test_elementwise_min_max_of_special_values_match_numpy(data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    event(f"dtype {dtype}")
    check_special_values(data, draw_elementwise_schedule(data, ELEMENTWISE_SHAPES, dtype))
