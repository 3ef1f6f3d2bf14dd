"""Before/after cases of the no-op remover (run after unrolling and vectorizing)."""
from tensorlang import tir
from tensorlang.tir import op
from tensorlang.tir import (NO_OP, Allocate, AttrStmt, BufferStore, Evaluate, For,
                            ForKind, IfThenElse, LetStmt, PrimFunc, SeqStmt, decl_buffer,
                            structural_equal)
from tensorlang.tir.expr import Not
from tensorlang.tir.transform.remove_no_op import remove_no_op
from tensorlang.tir.verify import verify

A = decl_buffer((4,), "float32", "A")
C = decl_buffer((4,), "float32", "C")
i, t = tir.var("i"), tir.var("t")
STORE = BufferStore(C, A[0], (op.const(0),))


def cleaned(body):
    func = PrimFunc("f", (A, C), body)
    result = remove_no_op(func)
    verify(result)
    return result.body


def loop(body, extent=4):
    return For(i, op.const(0), op.convert(extent), ForKind.SERIAL, body)


def test_constant_evaluates_and_empty_sequences_disappear():
    body = SeqStmt((Evaluate(op.const(3)), STORE, SeqStmt(()), Evaluate(op.const(1.5))))
    assert cleaned(body) is STORE


def test_loops_lets_and_attributes_around_nothing_disappear():
    assert cleaned(tir.seq(loop(Evaluate(op.const(0))), STORE)) is STORE
    assert cleaned(tir.seq(LetStmt(t, op.const(1), SeqStmt(())), STORE)) is STORE
    assert cleaned(tir.seq(AttrStmt(i, "pragma_x", op.const(1), NO_OP), STORE)) is STORE


def test_zero_trip_loop_disappears():
    assert cleaned(tir.seq(loop(STORE, extent=0), STORE)) is STORE


def test_branches():
    cond = A[0] > 0.0
    assert cleaned(tir.seq(IfThenElse(cond, NO_OP, NO_OP), STORE)) is STORE
    kept = cleaned(IfThenElse(cond, STORE, Evaluate(op.const(0))))
    assert isinstance(kept, IfThenElse) and kept.else_case is None
    flipped = cleaned(IfThenElse(cond, NO_OP, STORE))
    assert isinstance(flipped.condition, Not) and flipped.condition.a is cond
    assert flipped.then_case is STORE and flipped.else_case is None


def test_unused_allocation_is_dropped_and_used_one_kept():
    local = decl_buffer((1,), "float32", "local", scope="local")
    assert cleaned(Allocate(local, STORE)) is STORE
    used = Allocate(local, tir.seq(BufferStore(local, A[1], (op.const(0),)),
                                   BufferStore(C, local[0], (op.const(1),))))
    assert cleaned(used) is used


def test_nothing_to_remove_returns_the_same_function():
    func = PrimFunc("f", (A, C), loop(BufferStore(C, A[i], (i,))))
    assert remove_no_op(func) is func
    again = remove_no_op(PrimFunc("g", (A, C), tir.seq(loop(NO_OP), STORE)))
    assert remove_no_op(again) is again and structural_equal(again.body, STORE)
