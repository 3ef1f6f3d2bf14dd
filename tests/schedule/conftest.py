"""Helpers for schedule tests: lower, verify, run with the TIR interpreter, compare with
the reference evaluator of the tensor expressions."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang.te.reference import evaluate
from tensorlang.tir.interpreter import interpret
from tensorlang.tir.verify import verify


def random_inputs(tensors, seed=0):
    rng = np.random.default_rng(seed)
    arrays = []
    for t in tensors:
        shape = tuple(int(s.value) for s in t.shape)
        if t.dtype.is_float:
            arrays.append(rng.standard_normal(shape).astype(t.dtype.numpy_dtype))
        else:
            arrays.append(rng.integers(-20, 20, shape).astype(t.dtype.numpy_dtype))
    return arrays


class Checker:
    """``check(s, inputs, outputs)``: lower ``s`` with params ``inputs + outputs``, run it
    and compare every output with the reference evaluation; returns the PrimFunc."""

    def __call__(self, s, inputs, outputs, simple_mode=False, rtol=1e-4, atol=1e-4):
        func = tl.lower(s, list(inputs) + list(outputs), simple_mode=simple_mode)
        verify(func)
        in_arrays = random_inputs(inputs)
        expected = evaluate(list(outputs), dict(zip(inputs, in_arrays)))
        out_arrays = [np.zeros(e.shape, e.dtype) for e in expected]
        interpret(func, *in_arrays, *out_arrays)
        for got, want, t in zip(out_arrays, expected, outputs):
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol,
                                       err_msg=f"output {t.name} of\n{func}")
        return func


@pytest.fixture
def check() -> Checker:
    return Checker()
