"""The simplify pass: before / after statement cases."""
import numpy as np

from tensorlang import tir
from tensorlang.tir import (BufferStore, For, ForKind, IfThenElse, LetStmt, PrimFunc,
                            const, decl_buffer, seq)
from tensorlang.tir.interpreter import interpret
from tensorlang.tir.transform.simplify import simplify

A = decl_buffer((100,), "float32", "A")
B = decl_buffer((100,), "float32", "B")


def loop(var, extent, body, kind=ForKind.SERIAL, lo=0):
    return For(var, const(lo), const(extent) if isinstance(extent, int) else extent, kind,
               body)


def test_index_arithmetic_under_loop_ranges():
    i, j = tir.var("i"), tir.var("j")
    flat = i * 10 + j
    body = BufferStore(B, A[(flat // 10) * 10 + flat % 10], (flat,))
    func = PrimFunc("f", (A, B), loop(i, 10, loop(j, 10, body)))
    out = simplify(func)
    expected = PrimFunc("f", (A, B), loop(i, 10, loop(j, 10, BufferStore(B, A[i * 10 + j],
                                                                         (i * 10 + j,)))))
    assert tir.structural_equal(out, expected), out.script()


def test_proven_guards_and_branches():
    i = tir.var("i")
    store = BufferStore(B, A[i], (i,))
    other = BufferStore(B, A[i] * 2.0, (i,))
    func = PrimFunc("f", (A, B), loop(i, 100, seq(
        IfThenElse(i < 100, store),
        IfThenElse(i >= 100, other),
        IfThenElse(i > 200, other, store))))
    out = simplify(func)
    expected = PrimFunc("f", (A, B), loop(i, 100, seq(store, store)))
    assert tir.structural_equal(out, expected), out.script()


def test_loops_of_extent_zero_and_one():
    i, j = tir.var("i"), tir.var("j")
    func = PrimFunc("f", (A, B), seq(
        loop(i, 0, BufferStore(B, A[i], (i,))),
        loop(j, 1, BufferStore(B, A[j + 5], (j + 5,)), lo=3)))
    out = simplify(func)
    expected = PrimFunc("f", (A, B), BufferStore(B, A[8], (const(8),)))
    assert tir.structural_equal(out, expected), out.script()


def test_thread_loop_of_extent_one_is_kept():
    t = tir.var("tx")
    body = For(t, const(0), const(1), ForKind.THREAD_BINDING, BufferStore(B, A[t], (t,)),
               thread_tag="threadIdx.x")
    func = PrimFunc("f", (A, B), body)
    assert isinstance(simplify(func).body, For)


def test_let_and_nested_sequences():
    i, v = tir.var("i"), tir.var("v")
    inner = seq(BufferStore(B, A[v % 50], (v % 50,)), BufferStore(B, A[i], (i,)))
    func = PrimFunc("f", (A, B), loop(i, 50, LetStmt(v, i + 0, tir.SeqStmt((inner,)))))
    out = simplify(func)
    text = out.script()
    assert "% 50" not in text, text
    assert "v % 50" not in text and "A[v]" in text, text


def test_if_condition_narrows_then_branch():
    i, n = tir.var("i"), tir.var("n")
    guarded = IfThenElse(i < 10, BufferStore(B, A[op_min(i, 20)], (i,)))
    func = PrimFunc("f", (A, B, n), loop(i, n, guarded))
    out = simplify(func)
    assert "T.min" not in out.script(), out.script()


def op_min(a, b):
    return tir.op.minimum(a, b)


def test_unchanged_function_is_same_object():
    i = tir.var("i")
    func = PrimFunc("f", (A, B), loop(i, 100, BufferStore(B, A[i] + 1.0, (i,))))
    assert simplify(func) is func


def test_symbolic_shape_is_non_negative():
    n = tir.var("n")
    An = decl_buffer((n,), "float32", "A")
    i = tir.var("i")
    func = PrimFunc("f", (An, n), loop(i, tir.op.maximum((n + 7) // 8, 0),
                                       BufferStore(An, An[i], (i,))))
    out = simplify(func)
    assert tir.structural_equal(out.body.extent, (n + 7) // 8), out.script()


def test_simplified_function_computes_the_same():
    i, j = tir.var("i"), tir.var("j")
    flat = i * 10 + j
    body = IfThenElse(flat < 95, BufferStore(B, A[(flat // 10) * 10 + flat % 10] * 3.0,
                                             (flat % 100,)))
    func = PrimFunc("f", (A, B), loop(i, 10, loop(j, 10, body)))
    a = np.arange(100, dtype="float32")
    want, got = np.zeros(100, "float32"), np.zeros(100, "float32")
    interpret(func, a, want)
    interpret(simplify(func), a, got)
    np.testing.assert_array_equal(want, got)
