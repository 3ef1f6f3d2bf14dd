"""Random integer expressions: the vectorized reference evaluator against a scalar Python
evaluation of the same expression, point by point, with explicit wraparound."""
import numpy as np
from hypothesis import given, settings, strategies as st

from tensorlang import te
from tensorlang.te.reference import evaluate

SIZE = 7
A = te.placeholder((SIZE,), dtype="int32", name="A")
B = te.placeholder((SIZE,), dtype="int8", name="B")


def wrap(value, bits=32):
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


# Each generated item is (build(i) -> te expression, run(i, a, b) -> Python int).
leaves = st.one_of(
    st.integers(-50, 50).map(lambda c: (lambda i: te.const(c, "int32"),
                                        lambda i, a, b: c)),
    st.just((lambda i: i, lambda i, a, b: i)),
    st.integers(1, 5).map(lambda s: (lambda i: A[(i * s + 3) % SIZE],
                                     lambda i, a, b: int(a[(i * s + 3) % SIZE]))),
    st.just((lambda i: B[SIZE - 1 - i].astype("int32"),
             lambda i, a, b: int(b[SIZE - 1 - i]))),
)


def _binary(pair):
    (op_name, (fa, ra), (fb, rb)) = pair
    if op_name == "add":
        return (lambda i: fa(i) + fb(i), lambda i, a, b: wrap(ra(i, a, b) + rb(i, a, b)))
    if op_name == "sub":
        return (lambda i: fa(i) - fb(i), lambda i, a, b: wrap(ra(i, a, b) - rb(i, a, b)))
    if op_name == "mul":
        return (lambda i: fa(i) * fb(i), lambda i, a, b: wrap(ra(i, a, b) * rb(i, a, b)))
    if op_name == "floordiv":
        return (lambda i: fa(i) // te.maximum(fb(i), 1),
                lambda i, a, b: ra(i, a, b) // max(rb(i, a, b), 1))
    if op_name == "floormod":
        return (lambda i: fa(i) % te.minimum(fb(i), -1),
                lambda i, a, b: ra(i, a, b) % min(rb(i, a, b), -1))
    if op_name == "max":
        return (lambda i: te.maximum(fa(i), fb(i)),
                lambda i, a, b: max(ra(i, a, b), rb(i, a, b)))
    if op_name == "select":
        return (lambda i: te.if_then_else(fa(i) < fb(i), fa(i) * 3, fb(i) - 2),
                lambda i, a, b: wrap(ra(i, a, b) * 3) if ra(i, a, b) < rb(i, a, b)
                else wrap(rb(i, a, b) - 2))
    # narrowing cast and back: wraps to int8
    return (lambda i: (fa(i) + fb(i)).astype("int8").astype("int32"),
            lambda i, a, b: wrap(ra(i, a, b) + rb(i, a, b), 8))


expressions = st.recursive(
    leaves,
    lambda children: st.tuples(
        st.sampled_from(["add", "sub", "mul", "floordiv", "floormod", "max", "select",
                         "cast"]), children, children).map(_binary),
    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(expressions, st.integers(0, 2**31 - 1))
def test_random_integer_expressions(expression, seed):
    build, run = expression
    rng = np.random.default_rng(seed)
    a = rng.integers(-2**31, 2**31, SIZE, dtype=np.int64).astype("int32")
    b = rng.integers(-128, 128, SIZE).astype("int8")
    C = te.compute((SIZE,), lambda i: build(i), name="C")
    [got] = evaluate(C, {A: a, B: b})
    expected = [run(i, a, b) for i in range(SIZE)]
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
