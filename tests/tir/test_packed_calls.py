"""Packed calls in loop IR: printing, verification, and the interpreter calling the
registered function on numpy views of its buffers."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te, tir
from tensorlang.errors import ExternCallError
from tensorlang.tir import stmt as S
from tensorlang.tir.interpreter import interpret
from tensorlang.tir.verify import verify_well_formed


@pytest.fixture
def calls():
    """Registers ``test.tir.record``: stores what it receives, doubles x into y."""
    seen = []

    def record(x, y, *rest):
        seen.append((x.shape, x.strides, x.flags.writeable, y.flags.writeable, rest))
        y[...] = x * 2

    tl.register_func("test.tir.record", record)
    yield seen
    tl.remove_global_func("test.tir.record")


def call_func(*extra):
    n = tir.var("n")
    X = tir.decl_buffer((n, 3), "float32", "X")
    Y = tir.decl_buffer((n, 3), "float32", "Y")
    call = tir.call_packed("test.tir.record", tir.BufferArg(X, "r"), tir.BufferArg(Y, "w"),
                           *extra)
    return S.PrimFunc("f", (X, Y, *[e for e in extra if isinstance(e, tir.Var)]),
                      S.Evaluate(call))


def strided_call_func():
    """Copies X into T, whose rows are padded to 5 elements, and calls with T."""
    X = tir.decl_buffer((4, 3), "float32", "X")
    Y = tir.decl_buffer((4, 3), "float32", "Y")
    T = tir.Buffer("T", (tir.const(4), tir.const(3)), tir.dtype("float32"),
                   strides=(tir.const(5), tir.const(1)))
    i, j = tir.var("i"), tir.var("j")
    copy = S.For(i, tir.const(0), tir.const(4), S.ForKind.SERIAL,
                 S.For(j, tir.const(0), tir.const(3), S.ForKind.SERIAL,
                       S.BufferStore(T, X[i, j], (i, j))))
    call = S.Evaluate(tir.call_packed("test.tir.record", tir.BufferArg(T, "r"),
                                      tir.BufferArg(Y, "w")))
    return S.PrimFunc("f", (X, Y), S.Allocate(T, S.seq(copy, call)))


def test_interpreter_calls_with_views_and_python_scalars(calls):
    flag = tir.var("flag", "bool")
    func = call_func(tir.const(7, "int64"), 0.5, flag, "name")
    assert str(func.body) == 'T.evaluate(tl.call_packed("test.tir.record", X, Y, ' \
                             'T.int64(7), T.float32(0.5), flag, "name"))'
    assert verify_well_formed(func) == []
    x = np.arange(12, dtype="float32").reshape(4, 3)
    y = np.zeros((4, 3), "float32")
    interpret(func, x, y, True)
    np.testing.assert_array_equal(y, x * 2)
    [(shape, _, x_writable, y_writable, rest)] = calls
    assert shape == (4, 3) and not x_writable and y_writable
    assert rest == (7, 0.5, True, "name")
    assert [type(v) for v in rest] == [int, float, bool, str]


def test_interpreter_passes_strided_buffers_and_non_contiguous_outputs(calls):
    x = np.arange(12, dtype="float32").reshape(4, 3)
    big = np.zeros((4, 6), "float32")
    y = big[:, ::2]                          # a non-contiguous output
    interpret(strided_call_func(), x, y)
    np.testing.assert_array_equal(big[:, ::2], x * 2)
    np.testing.assert_array_equal(big[:, 1::2], 0)
    assert calls[0][1] == (20, 4)            # T's padded rows


def test_interpreter_reports_the_function_by_name():
    func = call_func()
    x, y = np.ones((2, 3), "float32"), np.zeros((2, 3), "float32")
    with pytest.raises(ExternCallError, match="function 'test.tir.record' is not registered"):
        interpret(func, x, y)

    def writes_its_input(x, y):
        x[0, 0] = 1.0

    tl.register_func("test.tir.record", writes_its_input)
    try:
        with pytest.raises(ExternCallError, match="'test.tir.record' raised ValueError: "
                                                  "assignment destination is read-only"):
            interpret(func, x, y)
    finally:
        tl.remove_global_func("test.tir.record")


def test_verifier_checks_the_buffers_passed():
    X = tir.decl_buffer((4,), "float32", "X")
    outside = tir.decl_buffer((4,), "float32", "outside")
    func = S.PrimFunc("f", (X,), S.Evaluate(tir.call_packed("g", X, outside)))
    assert any("buffer 'outside' is passed to a call outside its allocation" in p
               for p in verify_well_formed(func))
    nameless = S.PrimFunc("f", (X,), S.Evaluate(tir.Call(tir.dtype("int32"), "tl.call_packed",
                                                         (tir.BufferArg(X),))))
    assert any("must start with the name" in p for p in verify_well_formed(nameless))


def test_packed_calls_keep_their_names_in_the_structural_hash():
    A = te.placeholder((4,), name="A")

    def lowered(name):
        B = te.extern((4,), [A], lambda ins, outs: tir.call_packed(name, ins[0], outs[0]),
                      name="B")
        return tl.lower(tl.create_schedule(B.op), [A, B])

    assert tir.structural_hash(lowered("f")) == tir.structural_hash(lowered("f"))
    assert tir.structural_hash(lowered("f")) != tir.structural_hash(lowered("g"))
