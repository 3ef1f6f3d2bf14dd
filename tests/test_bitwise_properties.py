"""Property test: random integer expressions with bitwise operators (the strategy of
``expression_strategies``, over int32, int8 and uint8 inputs) compute the same values in
the numpy reference, the loop-IR interpreter, compiled CPU code (scalar, and vectorized
and parallel) and the CUDA emulator, and equal a plain Python evaluation."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorlang as tl
from tensorlang import te
from tensorlang.target.cuda import build as cuda_build
from tensorlang.te.reference import evaluate
from tensorlang.tir.interpreter import interpret

from expression_strategies import (BITWISE_OPERATORS, INPUTS, OPERATORS, SIZE,
                                   integer_expressions, random_inputs)

# every draw uses bitwise operators: half the operator list is bitwise, and those of the
# arithmetic that mix with them most (add, mul, select, the int8 round trip) stay in
MIXED = BITWISE_OPERATORS + ["add", "mul", "select", "cast"]


def engines(C, inputs):
    args = [*inputs, C]
    plain = te.create_schedule(C)
    vector = te.create_schedule(C)
    outer, inner = vector[C].split(C.op.axis[0], factor=4)
    vector[C].vectorize(inner)
    vector[C].parallel(outer)
    gpu = te.create_schedule(C)
    block, thread = gpu[C].split(C.op.axis[0], factor=4)
    gpu[C].bind(block, te.thread_axis("blockIdx.x"))
    gpu[C].bind(thread, te.thread_axis("threadIdx.x"))
    func = tl.lower(plain, args)
    yield "interpreter", lambda *a: interpret(func, *a)
    yield "llvm", tl.build(plain, args)
    yield "llvm vectorized", tl.build(vector, args)
    yield "cuda emulator", cuda_build(tl.lower(gpu, args), "cuda").emulate


@settings(max_examples=40, deadline=None)
@given(integer_expressions(MIXED, max_leaves=8), st.integers(0, 2**31 - 1))
def test_bitwise_expressions_agree_across_engines(expression, seed):
    build, run = expression
    values = random_inputs(np.random.default_rng(seed))
    C = te.compute((SIZE,), lambda i: build(i), name="C")
    want = np.array([run(i, values) for i in range(SIZE)], dtype=np.int64).astype("int32")
    [reference] = evaluate(C, dict(zip(INPUTS, values)))
    np.testing.assert_array_equal(reference, want, err_msg="reference")
    read = [k for k, t in enumerate(INPUTS) if any(t is x for x in C.op.input_tensors)]
    for name, engine in engines(C, [INPUTS[k] for k in read]):
        out = np.full(SIZE, -1, "int32")
        engine(*[values[k] for k in read], out)
        np.testing.assert_array_equal(out, want, err_msg=name)


def test_the_mixed_operators_are_the_strategy_s():
    assert set(MIXED) <= set(OPERATORS)
