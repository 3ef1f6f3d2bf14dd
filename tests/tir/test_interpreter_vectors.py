"""Vector values in the interpreter: Ramp / Broadcast, vector loads and stores, gathers,
lane-wise selects that never load an untaken lane."""
import numpy as np
import pytest

from tensorlang.tir import (BufferLoad, BufferStore, Broadcast, Cast, For, ForKind, Let,
                            LetStmt, PrimFunc, Ramp, Select, call_intrin, const, decl_buffer,
                            seq, var)
from tensorlang.tir import expr as E
from tensorlang.tir.datatype import bool_, float32, int32
from tensorlang.tir.interpreter import interpret

rng = np.random.default_rng(1)


def ramp(base, stride, lanes):
    return Ramp(base if not isinstance(base, int) else const(base),
                const(stride), lanes, int32.with_lanes(lanes))


def vector_loop(n, lanes, make_store):
    """for io in range(n // lanes): make_store(Ramp(io * lanes, 1, lanes))"""
    io = var("io")
    return For(io, const(0), const(n // lanes), ForKind.SERIAL,
               make_store(io, ramp(io * lanes, 1, lanes)))


def load(buffer, index, lanes):
    return BufferLoad(buffer, (index,), buffer.dtype.with_lanes(lanes))


def test_vectorized_multiply_add_with_broadcast():
    n, lanes = 32, 8
    A, B, C = (decl_buffer((n,), "float32", name) for name in "ABC")
    vec = float32.with_lanes(lanes)
    body = vector_loop(n, lanes, lambda io, r: BufferStore(
        C, load(A, r, lanes) * load(B, r, lanes) + Broadcast(const(0.5), lanes, vec), (r,)))
    a, b = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
    c = np.zeros(n, np.float32)
    interpret(PrimFunc("fma", (A, B, C), body), a, b, c)
    np.testing.assert_array_equal(c, a * b + np.float32(0.5))


def test_two_dimensional_vector_access_and_strided_ramp():
    A = decl_buffer((4, 16), "int32", "A")
    B = decl_buffer((4, 8), "int32", "B")
    i = var("i")
    even = ramp(0, 2, 8)
    body = For(i, const(0), const(4), ForKind.SERIAL,
               BufferStore(B, BufferLoad(A, (i, even), int32.with_lanes(8)), (i, ramp(0, 1, 8))))
    a = rng.integers(-50, 50, (4, 16), dtype=np.int32)
    b = np.zeros((4, 8), np.int32)
    interpret(PrimFunc("evens", (A, B), body), a, b)
    np.testing.assert_array_equal(b, a[:, ::2])


def test_negative_stride_and_gather_through_an_index_buffer():
    n = 8
    A, C = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "C")
    perm = decl_buffer((n,), "int32", "perm")
    gathered = BufferLoad(A, (load(perm, ramp(0, 1, n), n),), float32.with_lanes(n))
    reversed_load = load(A, ramp(n - 1, -1, n), n)
    body = BufferStore(C, gathered + reversed_load, (ramp(0, 1, n),))
    a = rng.random(n, dtype=np.float32)
    p = rng.permutation(n).astype(np.int32)
    c = np.zeros(n, np.float32)
    interpret(PrimFunc("gather", (A, perm, C), body), a, p, c)
    np.testing.assert_array_equal(c, a[p] + a[::-1])


def test_vector_store_scatter():
    n = 8
    A, C = decl_buffer((n,), "int32", "A"), decl_buffer((n,), "int32", "C")
    perm = decl_buffer((n,), "int32", "perm")
    body = BufferStore(C, load(A, ramp(0, 1, n), n), (load(perm, ramp(0, 1, n), n),))
    a = np.arange(n, dtype=np.int32) * 10
    p = rng.permutation(n).astype(np.int32)
    c = np.zeros(n, np.int32)
    interpret(PrimFunc("scatter", (A, perm, C), body), a, p, c)
    expected = np.zeros(n, np.int32)
    expected[p] = a
    np.testing.assert_array_equal(c, expected)


def test_vector_select_never_loads_an_untaken_lane():
    n, lanes = 8, 4
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    vec = float32.with_lanes(lanes)

    def store(io, r):
        shifted = load(A, E.Sub(r, Broadcast(const(1), lanes, int32.with_lanes(lanes)),
                                int32.with_lanes(lanes)), lanes)
        cond = E.GE(r, Broadcast(const(1), lanes, int32.with_lanes(lanes)),
                    bool_.with_lanes(lanes))
        return BufferStore(B, Select(cond, shifted, Broadcast(const(0.0), lanes, vec), vec),
                           (r,))
    a = rng.random(n, dtype=np.float32)
    b = np.zeros(n, np.float32)
    interpret(PrimFunc("pad", (A, B), vector_loop(n, lanes, store)), a, b)
    np.testing.assert_array_equal(b, np.concatenate([[0], a[:-1]]))


def test_vector_select_without_loads_and_logic():
    lanes = 8
    A, B = decl_buffer((lanes,), "int32", "A"), decl_buffer((lanes,), "int32", "B")
    r = ramp(0, 1, lanes)
    x = load(A, r, lanes)
    zero = Broadcast(const(0), lanes, int32.with_lanes(lanes))
    ten = Broadcast(const(10), lanes, int32.with_lanes(lanes))
    vbool = bool_.with_lanes(lanes)
    inside = E.And(E.GT(x, zero, vbool), E.Not(E.GE(x, ten, vbool), vbool), vbool)
    body = BufferStore(B, Select(inside, x, E.Min(x, E.Max(zero, r, r.dtype), r.dtype),
                                 r.dtype), (r,))
    a = np.array([-5, 3, 12, 0, 9, 10, -1, 7], np.int32)
    b = np.zeros(lanes, np.int32)
    interpret(PrimFunc("clip", (A, B), body), a, b)
    idx = np.arange(lanes)
    np.testing.assert_array_equal(b, np.where((a > 0) & (a < 10), a,
                                              np.minimum(a, np.maximum(0, idx))))


def test_vector_integer_arithmetic_wraps_and_floors():
    lanes = 8
    A, B = decl_buffer((lanes,), "int8", "A"), decl_buffer((lanes,), "int8", "B")
    C = decl_buffer((lanes,), "int8", "C")
    r = ramp(0, 1, lanes)
    x, y = load(A, r, lanes), load(B, r, lanes)
    body = BufferStore(C, E.FloorMod(x * y, y, x.dtype) + E.FloorDiv(x, y, x.dtype), (r,))
    a = np.array([127, -128, 100, -7, 7, 50, -50, 3], np.int8)
    b = np.array([2, 3, -3, 2, -2, 7, 9, -1], np.int8)
    c = np.zeros(lanes, np.int8)
    interpret(PrimFunc("wrap", (A, B, C), body), a, b, c)
    np.testing.assert_array_equal(c, (a * b) % b + a // b)


def test_vector_casts_intrinsics_and_bfloat16_store():
    lanes = 4
    A = decl_buffer((lanes,), "float32", "A")
    I = decl_buffer((lanes,), "int32", "I")
    H = decl_buffer((lanes,), "bfloat16", "H")
    E16 = decl_buffer((lanes,), "float32", "E16")
    r = ramp(0, 1, lanes)
    x = load(A, r, lanes)
    body = seq(
        BufferStore(I, Cast(int32.with_lanes(lanes), x), (r,)),
        BufferStore(H, Cast(H.dtype.with_lanes(lanes), call_intrin("exp", x)), (r,)),
        BufferStore(E16, Cast(float32.with_lanes(lanes), load(H, r, lanes)), (r,)),
    )
    a = np.array([-1.5, 0.25, 2.75, 10.0], np.float32)
    out_i, out_h, out_e = (np.zeros(lanes, t) for t in (np.int32, np.uint16, np.float32))
    interpret(PrimFunc("casts", (A, I, H, E16), body), a, out_i, out_h, out_e)
    np.testing.assert_array_equal(out_i, np.trunc(a).astype(np.int32))
    exact = np.exp(a.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(out_e, exact, rtol=2.0 ** -8)
    np.testing.assert_array_equal(out_e, (out_h.astype(np.uint32) << 16).view(np.float32))


def test_vector_let_and_lane_extraction():
    lanes = 4
    A, B = decl_buffer((lanes,), "int32", "A"), decl_buffer((lanes,), "int32", "B")
    r = ramp(0, 1, lanes)
    v = var("v", int32.with_lanes(lanes))
    vbool = bool_.with_lanes(lanes)
    doubled = Let(v, load(A, r, lanes) * Broadcast(const(2), lanes, r.dtype),
                  Select(E.LT(v, Broadcast(const(5), lanes, r.dtype), vbool), v,
                         load(A, r, lanes), r.dtype), r.dtype)
    body = BufferStore(B, doubled, (r,))
    a = np.array([1, 2, 3, 4], np.int32)
    b = np.zeros(lanes, np.int32)
    interpret(PrimFunc("let", (A, B), body), a, b)
    np.testing.assert_array_equal(b, np.where(a * 2 < 5, a * 2, a))


def test_vector_access_out_of_bounds_raises():
    A = decl_buffer((8,), "float32", "A")
    B = decl_buffer((8,), "float32", "B")
    i = var("i")
    body = For(i, const(0), const(2), ForKind.SERIAL,
               BufferStore(B, load(A, ramp(i * 5, 1, 4), 4), (ramp(i * 4, 1, 4),)))
    with pytest.raises(IndexError, match=r"index 8 .*buffer 'A'"):
        interpret(PrimFunc("overrun", (A, B), body), np.zeros(8, np.float32),
                  np.zeros(8, np.float32))
    start = var("start")
    gather = BufferStore(B, BufferLoad(A, (ramp(start, 3, 8),), float32.with_lanes(8)),
                         (ramp(0, 1, 8),))
    func = PrimFunc("under", (A, B, start), gather)
    with pytest.raises(IndexError, match=r"index -2 .*buffer 'A'"):
        interpret(func, np.zeros(8, np.float32), np.zeros(8, np.float32), -2)
    with pytest.raises(IndexError, match=r"index 23 .*buffer 'A'"):
        interpret(func, np.zeros(8, np.float32), np.zeros(8, np.float32), 2)


def test_vector_load_is_a_copy_not_a_view():
    lanes = 4
    A = decl_buffer((lanes,), "float32", "A")
    r = ramp(0, 1, lanes)
    v = var("v", float32.with_lanes(lanes))
    body = LetStmt(v, load(A, r, lanes), seq(
        BufferStore(A, Broadcast(const(0.0), lanes, v.dtype), (r,)),
        BufferStore(A, v + v, (r,))))
    a = np.array([1, 2, 3, 4], np.float32)
    interpret(PrimFunc("copy", (A,), body), a)
    np.testing.assert_array_equal(a, [2, 4, 6, 8])
