"""Hypothesis strategy of random integer tensor expressions, with a plain Python evaluation
of each (explicit two's complement wraparound) to check any engine against.

An expression reads three inputs of ``SIZE`` elements: ``A`` (int32), ``B`` (int8) and
``U`` (uint8), and computes an int32 value per index ``i``.  Its operators: ``+ - *``,
floor division and modulo (by divisors kept away from 0), max, selects, a narrowing
round trip through int8, and the bitwise operators ``>> << & | ^ ~`` (arithmetic shifts
of signed values, logical shifts and wraparound of uint8 ones); shift amounts are masked
into ``[0, bits)``, the range where shifts are defined.
"""
from __future__ import annotations

from hypothesis import strategies as st

from tensorlang import te

SIZE = 8
A = te.placeholder((SIZE,), dtype="int32", name="A")
B = te.placeholder((SIZE,), dtype="int8", name="B")
U = te.placeholder((SIZE,), dtype="uint8", name="U")
INPUTS = (A, B, U)


def wrap(value: int, bits: int = 32) -> int:
    """``value`` wrapped to a signed integer of ``bits`` bits."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def random_inputs(rng):
    """Values of (A, B, U) over their types' whole ranges."""
    return (rng.integers(-2**31, 2**31, SIZE, dtype="int64").astype("int32"),
            rng.integers(-128, 128, SIZE).astype("int8"),
            rng.integers(0, 256, SIZE).astype("uint8"))


# Each item is (build(i) -> te expression, run(i, values) -> Python int), where
# values holds the numpy arrays of A, B and U.
leaves = st.one_of(
    st.integers(-50, 50).map(lambda c: (lambda i: te.const(c, "int32"), lambda i, v: c)),
    st.just((lambda i: i, lambda i, v: i)),
    st.integers(1, 5).map(lambda s: (lambda i: A[(i * s + 3) % SIZE],
                                     lambda i, v: int(v[0][(i * s + 3) % SIZE]))),
    st.just((lambda i: B[SIZE - 1 - i].astype("int32"), lambda i, v: int(v[1][SIZE - 1 - i]))),
    st.just((lambda i: U[i].astype("int32"), lambda i, v: int(v[2][i]))),
)


def _u8(value: int) -> int:
    return value & 0xFF


def _binary(spec):  # noqa: C901 - one case per operator
    (op_name, (fa, ra), (fb, rb)) = spec
    if op_name == "add":
        return (lambda i: fa(i) + fb(i), lambda i, v: wrap(ra(i, v) + rb(i, v)))
    if op_name == "sub":
        return (lambda i: fa(i) - fb(i), lambda i, v: wrap(ra(i, v) - rb(i, v)))
    if op_name == "mul":
        return (lambda i: fa(i) * fb(i), lambda i, v: wrap(ra(i, v) * rb(i, v)))
    if op_name == "floordiv":
        return (lambda i: fa(i) // te.maximum(fb(i), 1),
                lambda i, v: ra(i, v) // max(rb(i, v), 1))
    if op_name == "floormod":
        return (lambda i: fa(i) % te.minimum(fb(i), -1),
                lambda i, v: ra(i, v) % min(rb(i, v), -1))
    if op_name == "max":
        return (lambda i: te.maximum(fa(i), fb(i)), lambda i, v: max(ra(i, v), rb(i, v)))
    if op_name == "select":
        return (lambda i: te.if_then_else(fa(i) < fb(i), fa(i) * 3, fb(i) - 2),
                lambda i, v: wrap(ra(i, v) * 3) if ra(i, v) < rb(i, v)
                else wrap(rb(i, v) - 2))
    if op_name == "shift_right":  # arithmetic: Python's >> on negative ints
        return (lambda i: fa(i) >> (fb(i) & 31), lambda i, v: ra(i, v) >> (rb(i, v) & 31))
    if op_name == "shift_left":
        return (lambda i: fa(i) << (fb(i) & 31),
                lambda i, v: wrap(ra(i, v) << (rb(i, v) & 31)))
    if op_name == "and":
        return (lambda i: fa(i) & fb(i), lambda i, v: ra(i, v) & rb(i, v))
    if op_name == "or":
        return (lambda i: fa(i) | fb(i), lambda i, v: ra(i, v) | rb(i, v))
    if op_name == "xor_not":
        return (lambda i: ~fa(i) ^ fb(i), lambda i, v: ~ra(i, v) ^ rb(i, v))
    if op_name == "uint8":
        # in uint8: wrapping <<, logical >>, ~ of the low byte
        return (lambda i: ((fa(i).astype("uint8") << (fb(i).astype("uint8") & 7))
                           ^ (~fb(i).astype("uint8") >> 3)).astype("int32"),
                lambda i, v: _u8(_u8(ra(i, v)) << (_u8(rb(i, v)) & 7))
                ^ (_u8(~_u8(rb(i, v))) >> 3))
    # narrowing cast and back: wraps to int8
    return (lambda i: (fa(i) + fb(i)).astype("int8").astype("int32"),
            lambda i, v: wrap(ra(i, v) + rb(i, v), 8))


OPERATORS = ["add", "sub", "mul", "floordiv", "floormod", "max", "select", "cast",
             "shift_right", "shift_left", "and", "or", "xor_not", "uint8"]
BITWISE_OPERATORS = ["shift_right", "shift_left", "and", "or", "xor_not", "uint8"]


def integer_expressions(operators=tuple(OPERATORS), max_leaves: int = 12):
    """Random (build, run) pairs combining the leaves with ``operators``."""
    return st.recursive(
        leaves,
        lambda children: st.tuples(st.sampled_from(list(operators)), children,
                                   children).map(_binary),
        max_leaves=max_leaves)
