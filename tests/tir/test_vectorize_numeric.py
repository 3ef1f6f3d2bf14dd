"""Vectorized and unrolled functions compute what the original loops compute.

Each case runs the function through the interpreter twice, as written (the interpreter
runs every loop serially) and after the pass, and compares the outputs.  A hypothesis
test draws loop bodies with random index patterns, guards and selects.
"""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorlang import tir
from tensorlang.tir import op
from tensorlang.tir import (BufferStore, For, ForKind, IfThenElse, LetStmt, PrimFunc,
                            decl_buffer)
from tensorlang.tir.interpreter import interpret
from tensorlang.tir.transform.unroll import unroll_loops
from tensorlang.tir.transform.vectorize import vectorize_loops
from tensorlang.tir.verify import verify


def loop(var, extent, body, kind=ForKind.SERIAL):
    return For(var, op.const(0, var.dtype), op.convert(extent), kind, body)


def run(func, arrays):
    copies = [a.copy() for a in arrays]
    interpret(func, *copies)
    return copies


def random_arrays(func, seed=0):
    rng = np.random.default_rng(seed)
    arrays = []
    for buffer in func.buffers:
        shape = tuple(int(d.value) for d in buffer.shape)
        if buffer.dtype.is_float:
            arrays.append(rng.uniform(-2, 2, shape).astype(str(buffer.dtype)))
        else:
            arrays.append(rng.integers(-30, 30, shape).astype(str(buffer.dtype)))
    return arrays


def assert_same_results(func, transform, arrays=None):
    arrays = random_arrays(func) if arrays is None else arrays
    transformed = transform(func)
    verify(transformed)
    for want, got in zip(run(func, arrays), run(transformed, arrays)):
        np.testing.assert_array_equal(got, want)
    return transformed


A = decl_buffer((4, 16), "float32", "A")
B = decl_buffer((16, 16), "float32", "B")
C = decl_buffer((4, 16), "float32", "C")
i, j, k, x, xo = (tir.var(n) for n in ("i", "j", "k", "x", "xo"))


def test_matmul_update_and_padding_select():
    body = BufferStore(C, C[i, j] + A[i, k] * B[k, j], (i, j))
    func = PrimFunc("mm", (A, B, C), loop(i, 4, loop(k, 16, loop(j, 16, body,
                                                                 ForKind.VECTORIZED))))
    assert_same_results(func, vectorize_loops)
    padded = decl_buffer((4, 18), "float32", "padded")
    value = op.select((x >= 1) & (x < 17), A[i, x - 1], op.const(0.0))
    func = PrimFunc("pad", (A, padded), loop(i, 4, loop(x, 18, BufferStore(
        padded, value, (i, x)), ForKind.VECTORIZED)))
    result = assert_same_results(func, vectorize_loops)
    assert result.body.body.value.dtype.lanes == 18


def test_masked_tail_store_and_vector_let():
    index = xo * 6 + x
    t = tir.var("t")
    body = IfThenElse(index < 16, LetStmt(t, index, BufferStore(
        C, A[i, t] * 2.0 + B[t % 16, t // 2], (i, index))))
    func = PrimFunc("tail", (A, B, C), loop(i, 4, loop(xo, 3, loop(
        x, 6, body, ForKind.VECTORIZED))))
    assert_same_results(func, vectorize_loops)


def test_unrolled_nest_with_local_buffer():
    local = decl_buffer((2,), "float32", "local", scope="local")
    from tensorlang.tir import Allocate
    inner = loop(j, 2, BufferStore(local, A[i, k * 2 + j], (j,)))
    body = Allocate(local, tir.seq(inner, BufferStore(C, local[0] * local[1], (i, k))))
    func = PrimFunc("u", (A, C), loop(i, 4, loop(k, 8, body, ForKind.UNROLLED)))
    assert_same_results(func, unroll_loops)
    assert_same_results(func, lambda f: vectorize_loops(unroll_loops(f)))


# ---------------------------------------------------------------------------------------
# random loop bodies

LANES = 8
OUTER = 3
SOURCE = decl_buffer((40,), "float32", "source")
TARGET = decl_buffer((40,), "float32", "target")
INTS = decl_buffer((40,), "int32", "ints")


def _index(draw, lane, outer):
    """An index expression in the lane and the outer loop, sometimes out of [0, 40)."""
    kind = draw(st.sampled_from(["affine", "mod", "div", "reverse", "indirect"]))
    scale = draw(st.integers(0, 3))
    offset = draw(st.integers(-2, 6))
    if kind == "affine":
        return lane * scale + outer * LANES + offset
    if kind == "mod":
        return (lane + outer * 5) % draw(st.integers(1, 9)) * scale + offset
    if kind == "div":
        return (lane + outer * LANES) // draw(st.integers(1, 4)) + offset
    if kind == "reverse":
        return (LANES - 1 - lane) + outer * LANES + offset
    return op.maximum(op.minimum(INTS[lane + outer * LANES] + 20, 39), 0)


@st.composite
def loop_bodies(draw):
    lane, outer = tir.var("lane"), tir.var("outer")
    load_index = _index(draw, lane, outer)
    in_range = (load_index >= 0) & (load_index < 40)
    loaded = op.select(in_range, SOURCE[op.maximum(op.minimum(load_index, 39), 0)]
                       if draw(st.booleans()) else SOURCE[load_index], op.const(0.0)) \
        if draw(st.booleans()) else SOURCE[op.maximum(op.minimum(load_index, 39), 0)]
    store_index = draw(st.sampled_from(["own", "shared", "scatter", "shifted"]))
    position = {"own": lane + outer * LANES, "shared": outer * 2,
                "scatter": (lane * 3 + outer) % 40,
                "shifted": lane + outer * LANES + 1}[store_index]
    value = loaded * 2.0 + TARGET[lane + outer * LANES]
    if draw(st.booleans()):
        value = op.call_intrin("exp", value * 0.1)
    store = BufferStore(TARGET, value, (position,))
    guard = draw(st.sampled_from(["none", "lane", "outer", "load"]))
    if guard == "lane":
        store = IfThenElse(lane * draw(st.integers(1, 3)) < draw(st.integers(0, 9)), store)
    elif guard == "outer":
        store = IfThenElse(outer < 2, store)
    elif guard == "load":
        store = IfThenElse(SOURCE[lane + outer * LANES] > 0.0, store)
    body = loop(outer, OUTER, loop(lane, LANES, store, ForKind.VECTORIZED))
    return PrimFunc("random_body", (SOURCE, TARGET, INTS), body)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(func=loop_bodies())
def test_random_bodies_vectorize_correctly(func):
    arrays = random_arrays(func)
    try:
        run(func, arrays)
    except IndexError:
        return  # the drawn program itself reads out of bounds: nothing to compare
    assert_same_results(func, vectorize_loops, arrays)
