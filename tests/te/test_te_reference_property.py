"""Random integer expressions (``expression_strategies``: arithmetic, selects, casts and
bitwise operators): the vectorized reference evaluator against a scalar Python evaluation
of the same expression, point by point, with explicit wraparound."""
import numpy as np
from hypothesis import given, settings, strategies as st

from tensorlang import te
from tensorlang.te.reference import evaluate

from expression_strategies import INPUTS, SIZE, integer_expressions, random_inputs


@settings(max_examples=150, deadline=None)
@given(integer_expressions(), st.integers(0, 2**31 - 1))
def test_random_integer_expressions(expression, seed):
    build, run = expression
    values = random_inputs(np.random.default_rng(seed))
    C = te.compute((SIZE,), lambda i: build(i), name="C")
    [got] = evaluate(C, dict(zip(INPUTS, values)))
    expected = [run(i, values) for i in range(SIZE)]
    np.testing.assert_array_equal(got, np.array(expected, dtype=np.int64).astype("int32"))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 4), st.lists(st.integers(-9, 9), min_size=1, max_size=6),
       st.integers(0, 2**31 - 1))
def test_random_padded_window_sums(pad, taps, seed):
    """Guarded window sums (a padded 1-D convolution) against numpy slicing."""
    width = len(taps)
    rng = np.random.default_rng(seed)
    x = rng.integers(-100, 100, 9).astype("int32")
    w = np.array(taps, dtype="int32")
    X = te.placeholder((9,), dtype="int32", name="X")
    W = te.placeholder((width,), dtype="int32", name="W")
    out_len = 9 + 2 * pad - width + 1
    if out_len <= 0:
        return
    r = te.reduce_axis((0, width), name="r")
    padded_read = lambda p: te.if_then_else(te.all(p >= pad, p < 9 + pad), X[p - pad], 0)  # noqa: E731
    Y = te.compute((out_len,), lambda i: te.sum(padded_read(i + r) * W[r], axis=r), name="Y")
    [got] = evaluate(Y, {X: x, W: w})
    xp = np.pad(x, pad)
    expected = [int((xp[i:i + width] * w).sum()) for i in range(out_len)]
    np.testing.assert_array_equal(got, expected)
