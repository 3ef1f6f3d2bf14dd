"""Index widths: loops and axis values that may count past 2**31 are 64-bit, all others
stay 32-bit (nothing here allocates a large array; see tests/llvm/test_compiled_index_width.py)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorlang as tl
from tensorlang import te
from tensorlang.tir import expr as E
from tensorlang.tir import stmt as S
from tensorlang.tir.datatype import int32, int64
from tensorlang.tir.functor import post_order_visit
from tensorlang.tir.interpreter import interpret

BIG_ROWS, BIG_COLS = 2**16, 2**15 + 1          # 2**31 + 2**16 elements


def _loops(func) -> list:
    found = []
    post_order_visit(func.body, lambda n: found.append(n) if isinstance(n, S.For) else None)
    return found


def _fused_and_split(shape, factor=64):
    C = te.compute(shape, lambda i, j: (i + j).astype("uint8"), name="C")
    s = tl.create_schedule(C)
    fused = s[C].fuse(*C.op.axis)
    outer, inner = s[C].split(fused, factor=factor)
    s[C].vectorize(inner)
    s[C].parallel(outer)
    return s, C


def test_fused_loop_over_a_large_tensor_is_64_bit():
    C = te.compute((BIG_ROWS, BIG_COLS), lambda i, j: (i + j).astype("uint8"), name="C")
    s = tl.create_schedule(C)
    fused = s[C].fuse(*C.op.axis)
    assert fused.var.dtype == int64
    func = tl.lower(s, [C])
    (loop,) = _loops(func)
    assert loop.loop_var.dtype == int64 and loop.extent.value == BIG_ROWS * BIG_COLS
    # the axes keep their own type: the user's expression still sees 32-bit i and j
    text = str(func)
    assert 'T.Cast("int32", i_j_fused // T.int64(32769))' in text
    assert 'T.Cast("int32", i_j_fused % T.int64(32769))' in text


def test_split_of_a_large_fused_loop_stays_64_bit_inside():
    s, C = _fused_and_split((BIG_ROWS, BIG_COLS))
    loops = _loops(tl.lower(s, [C]))
    assert {loop.loop_var.dtype for loop in loops} == {int64}


def test_small_kernels_keep_32_bit_loops():
    s, C = _fused_and_split((256, 384))
    loops = _loops(tl.lower(s, [C]))
    assert {loop.loop_var.dtype for loop in loops} == {int32}
    assert "int64" not in str(tl.lower(s, [C]))


def test_fused_symbolic_extent_is_multiplied_in_64_bits():
    n, m = te.var("n"), te.var("m")
    A = te.placeholder((n, m), "uint8", name="A")
    B = te.compute((n, m), lambda i, j: A[i, j] + 1, name="B")
    s = tl.create_schedule(B)
    s[B].fuse(*B.op.axis)
    func = tl.lower(s, [A, B])
    (loop,) = _loops(func)
    # two int32 dimensions may multiply past 2**31: the product is taken in int64
    assert loop.loop_var.dtype == int64
    assert str(loop.extent) == 'T.Cast("int64", n) * T.Cast("int64", m)'


def test_split_overshooting_int32_near_2_31_uses_64_bits():
    extent = 2**31 - 1                 # an int32 axis; a split by 1000 does not divide it
    C = te.compute((extent,), lambda i: i.astype("uint8"), name="C")
    assert C.op.axis[0].var.dtype == int32
    s = tl.create_schedule(C)
    outer, inner = s[C].split(C.op.axis[0], factor=1000)
    # outer * 1000 + inner reaches 2**31 + 352 in the last, guarded iteration
    assert outer.var.dtype == int64 and inner.var.dtype == int64
    func = tl.lower(s, [C], simple_mode=True)  # keep the guard (no peeled tail)
    guards = []
    post_order_visit(func.body, lambda n: guards.append(n)
                     if isinstance(n, S.IfThenElse) else None)
    (guard,) = guards
    assert guard.condition.a.dtype == int64  # compared in 64 bits, never wrapped
    small = te.compute((1000,), lambda i: i.astype("uint8"), name="D")
    s = tl.create_schedule(small)
    outer, inner = s[small].split(small.op.axis[0], factor=64)
    assert outer.var.dtype == int32 and inner.var.dtype == int32


def test_wide_fused_loop_computes_the_same_in_the_interpreter():
    """Symbolic fused loops are 64-bit; small sizes check the casts back to the axes."""
    n, m = te.var("n"), te.var("m")
    A = te.placeholder((n, m), "int32", name="A")
    B = te.compute((n, m), lambda i, j: A[i, j] * 3 + i - j, name="B")
    s = tl.create_schedule(B)
    outer, inner = s[B].split(s[B].fuse(*B.op.axis), factor=4)
    s[B].vectorize(inner)
    func = tl.lower(s, [A, B])
    a = np.arange(35, dtype="int32").reshape(5, 7)
    b = np.zeros_like(a)
    interpret(func, a, b)
    i, j = np.indices(a.shape)
    np.testing.assert_array_equal(b, a * 3 + i - j)


_DIMS = st.sampled_from([1, 3, 64, 1000, 2**15, 2**15 + 1, 2**16, 46341, 2**17, 2**31 - 1])


@settings(max_examples=80, deadline=None)
@given(rows=_DIMS, cols=_DIMS, fuse_first=st.booleans(),
       factor=st.sampled_from([1, 7, 64, 1000]))
def test_every_loop_variable_holds_its_extent(rows, cols, fuse_first, factor):
    """Whatever the shape: no loop extent or recombined index overflows its type, and
    iteration spaces that fit in int32 keep 32-bit loops."""
    C = te.compute((rows, cols), lambda i, j: (i - j).astype("int8"), name="C")
    s = tl.create_schedule(C)
    i, j = C.op.axis
    int32_max = 2**31 - 1
    if fuse_first:
        s[C].split(s[C].fuse(i, j), factor=factor)
        # the fused extent, and the largest outer * factor + inner, must fit
        needs_64 = rows * cols > int32_max or -(-rows * cols // factor) * factor - 1 > int32_max
    else:
        outer, _ = s[C].split(j, factor=factor)
        s[C].fuse(i, outer)
        needs_64 = rows * -(-cols // factor) > int32_max or \
            -(-cols // factor) * factor - 1 > int32_max
    func = tl.lower(s, [C], simple_mode=True)   # constant extents: no peeled tails
    loops = _loops(func)
    for loop in loops:
        assert loop.extent.value <= loop.loop_var.dtype.max_value()
    assert any(loop.loop_var.dtype == int64 for loop in loops) == needs_64
