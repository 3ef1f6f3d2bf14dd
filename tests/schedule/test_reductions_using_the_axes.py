"""Reductions whose range, identity or combination use the stage's own axes (a
triangular sum, TVM's ``te.comm_reducer(lambda x, y: te.max(x + y, n), ...)`` over
``te.reduce_axis((0, n))``): the reference, the interpreter and compiled code agree
through cache_write and rfactor, and what cannot be factored is refused."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.errors import ScheduleError
from tensorlang.te.reference import evaluate

RNG = np.random.default_rng(4)


def triangular():
    A = te.placeholder((12, 8), name="A")

    def f(i, j):
        k = te.reduce_axis((0, i + 1), name="k")
        return te.sum(A[k, j], axis=k)
    return A, te.compute((12, 8), f, name="C")


def identity_on_the_axis():
    A = te.placeholder((12, 8), name="A")

    def f(i, j):
        k = te.reduce_axis((0, 12), name="k")
        top = te.comm_reducer(lambda x, y: te.max(x, y), lambda dt: i.astype(dt) * 0.1,
                              name="top")
        return top(A[k, j], axis=k)
    return A, te.compute((12, 8), f, name="C")


def loop_dependent():
    """TVM's test_loop_dep_reduce: range, identity and combination use the axis n."""
    X = te.placeholder((10,), name="X")

    def f(n):
        rv = te.reduce_axis((0, n), name="rv")
        init = lambda dtype: te.if_then_else(n > 1, te.const(0, dtype), n.astype(dtype))
        acc = te.comm_reducer(lambda x, y: te.max(x + y, n.astype("float32")), init,
                              name="acc")
        return acc(X[rv], axis=rv)
    return X, te.compute((10,), f, name="Y")


EXPECTED = {
    "triangular": lambda a: np.cumsum(a, axis=0),
    "identity_on_the_axis": lambda a: np.maximum(a.max(axis=0)[None, :],
                                                 (np.arange(12) * 0.1)[:, None]),
}


def schedule(make, variant):
    A, C = make()
    s = te.create_schedule(C.op)
    if variant == "cache_write":
        CC = s.cache_write(C, "local")
        ko, ki = s[CC].split(s[CC].op.reduce_axis[0], factor=4)
    elif variant.startswith("rfactor"):
        ko, ki = s[C].split(s[C].op.reduce_axis[0], factor=4)
        s.rfactor(C, ki if variant == "rfactor_inner" else ko)
    return A, C, s


# rfactor of the triangular sum is refused (test_rfactor_of_a_range_on_the_axes_is_refused)
CASES = [(name, variant) for name in sorted(EXPECTED)
         for variant in ("plain", "cache_write", "rfactor_inner", "rfactor_outer")
         if not (name == "triangular" and variant.startswith("rfactor"))]


@pytest.mark.parametrize("name, variant", CASES)
def test_reference_interpreter_and_compiled_agree(check, name, variant):
    A, C, s = schedule(globals()[name], variant)
    check(s, [A], [C])
    a = RNG.random((12, 8)).astype("float32")
    out = np.zeros_like(a)
    tl.build(s, [A, C])(a, out)
    np.testing.assert_allclose(out, EXPECTED[name](a), rtol=1e-5)
    np.testing.assert_allclose(evaluate([C], {A: a})[0], out, rtol=1e-5)


def test_rfactor_of_a_range_on_the_axes_is_refused():
    A, C = triangular()
    s = te.create_schedule(C.op)
    ko, ki = s[C].split(s[C].op.reduce_axis[0], factor=4)
    with pytest.raises(ScheduleError, match=r"range of reduction axis 'k' depends on the "
                                            r"axes of 'C'.*where= condition"):
        s.rfactor(C, ki)


@pytest.mark.parametrize("cache", [False, True])
def test_tvm_loop_dependent_reduction(cache):
    """A reducer that is not associative runs in loop order in compiled code; TVM's
    test builds it with and without cache_write."""
    X, Y = loop_dependent()
    s = te.create_schedule(Y.op)
    if cache:
        s.cache_write(Y, "local")
    x = np.arange(10, dtype="float32")
    y = np.zeros(10, "float32")
    tl.build(s, [X, Y])(x, y)
    expected = []
    for n in range(10):
        acc = 0.0 if n > 1 else float(n)
        for r in range(n):
            acc = max(acc + x[r], float(n))
        expected.append(acc)
    np.testing.assert_allclose(y, expected)
