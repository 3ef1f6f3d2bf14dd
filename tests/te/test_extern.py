"""te.extern declarations, the function registry, and the numpy reference of extern
stages (it calls the registered function)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from registry_helpers import registered
from tensorlang import te, tir
from tensorlang.errors import ExternCallError, TensorLangTypeError, TensorLangValueError
from tensorlang.te.reference import evaluate


def add_one(x, y):
    y[...] = x + 1


# -- the registry ----------------------------------------------------------------------

def test_register_as_decorator_with_and_without_a_name():
    @tl.register_func("test.te.decorated")
    def decorated(x):
        return x * 2

    @tl.register_func
    def test_te_plain(x):
        return x + 1

    try:
        assert tl.get_global_func("test.te.decorated") is decorated
        assert tl.get_global_func("test_te_plain")(1) == 2
        assert {"test.te.decorated", "test_te_plain"} <= set(tl.list_global_func_names())
    finally:
        tl.remove_global_func("test.te.decorated")
        tl.remove_global_func("test_te_plain")
    assert "test_te_plain" not in tl.list_global_func_names()


def test_registering_a_name_again_needs_override():
    with registered("test.te.twice", add_one):
        with pytest.raises(TensorLangValueError, match="already registered as 'test.te.twice'"
                                                       ".*override=True"):
            tl.register_func("test.te.twice", lambda x, y: None)
        replacement = tl.register_func("test.te.twice", abs, override=True)
        assert replacement is abs and tl.get_global_func("test.te.twice") is abs


def test_missing_functions():
    assert tl.get_global_func("test.te.never", allow_missing=True) is None
    with pytest.raises(ExternCallError, match="function 'test.te.never' is not registered"):
        tl.get_global_func("test.te.never")
    with pytest.raises(ExternCallError, match="not registered"):
        tl.remove_global_func("test.te.never")
    with pytest.raises(TensorLangTypeError, match="non-empty string"):
        tl.register_func("", add_one)
    with pytest.raises(TensorLangTypeError, match="expected a function"):
        tl.register_func("test.te.not_callable", 3)


# -- declarations ----------------------------------------------------------------------

def test_extern_declares_outputs_from_the_fcompute_buffers():
    n = te.var("n")
    A = te.placeholder((n, 4), name="A")
    seen = {}

    def fcompute(ins, outs):
        seen["ins"], seen["outs"] = ins, outs
        return tir.call_packed("test.te.any", ins[0], outs[0], outs[1], n, 2.5, "mode")

    B, C = te.extern([(n, 4), (n,)], [A], fcompute, name="B", dtype=["float32", "int32"])
    assert [t.name for t in (B, C)] == ["B.v0", "B.v1"]
    assert B.dtype == "float32" and C.dtype == "int32"
    assert [str(d) for d in C.shape] == ["n"]
    assert isinstance(B.op, te.ExternOp) and B.op.input_tensors == (A,)
    assert [b.name for b in seen["ins"]] == ["A"] and len(seen["outs"]) == 2
    assert B.op.called_names == ["test.te.any"]
    assert str(B.op.body) == 'T.evaluate(tl.call_packed("test.te.any", A, B_v0, B_v1, n, ' \
                             'T.float32(2.5), "mode"))'
    accesses = [a.access for a in B.op.body.value.args if isinstance(a, tir.BufferArg)]
    assert accesses == ["r", "w", "w"]


def test_extern_takes_declared_buffers_and_lists_of_calls():
    A = te.placeholder((8,), name="A")
    Ab = tir.decl_buffer((8,), "float32", name="Ain")
    Bb = tir.decl_buffer((8,), "float32", name="Bout")
    B = te.extern((8,), [A], lambda ins, outs: [tir.call_packed("f", ins[0], outs[0]),
                                                 tir.call_packed("g", outs[0])],
                  in_buffers=[Ab], out_buffers=Bb, name="B")
    assert B.op.input_placeholders == (Ab,) and B.op.output_placeholders == (Bb,)
    assert B.op.called_names == ["f", "g"]


@pytest.mark.parametrize("make, message", [
    (lambda A: te.extern((8,), [A], lambda ins, outs: ins[0][0] + 1.0),
     "fcompute must return tir.call_packed"),
    (lambda A: te.extern((8,), [A], lambda ins, outs: tir.call_packed("f", ins[0])),
     "output 0 .* is passed to no call"),
    (lambda A: te.extern((8,), [A], lambda ins, outs: tir.call_packed(
        "f", tir.decl_buffer((8,), name="other"), outs[0])),
     "buffer 'other', which is none of the buffers fcompute receives"),
    (lambda A: te.extern((8,), [A], lambda ins, outs: tir.call_packed("f", A, outs[0])),
     "argument 1 is the tensor 'A'; pass the buffers"),
    (lambda A: te.extern((8,), [A], lambda ins, outs: []), "returned no call"),
    (lambda A: te.extern((8,), [A, te.placeholder((2,), "int32", "I")],
                         lambda ins, outs: tir.call_packed("f", outs[0])),
     "output type cannot be inferred"),
    (lambda A: te.extern((8,), [A], lambda ins, outs: tir.call_packed("f", outs[0]),
                         in_buffers=[tir.decl_buffer((9,), name="X")]),
     r"in_buffers\[0\] 'X' is float32 of shape \('9',\), but its tensor"),
    (lambda A: te.extern((8,), A.op, lambda ins, outs: None), "inputs must be a list"),
    (lambda A: te.extern((8,), [A], "f"), "fcompute must be a function"),
    (lambda A: te.extern((8,), [A], lambda ins, outs: tir.call_packed("f", outs[0]),
                         dtype="bfloat16"), "bfloat16, which extern stages do not take"),
])
def test_extern_declaration_errors(make, message):
    A = te.placeholder((8,), name="A")
    with pytest.raises((TensorLangTypeError, TensorLangValueError), match=message):
        make(A)


def test_call_packed_and_call_extern_arguments():
    with pytest.raises(TensorLangTypeError, match="name of a registered function"):
        tir.call_packed(3)
    with pytest.raises(TensorLangTypeError, match="argument 1 is list"):
        tir.call_packed("f", [1, 2])
    B = tir.decl_buffer((4,), "float32", name="B")
    with pytest.raises(TensorLangTypeError, match="argument 1 is a buffer.*tir.call_packed"):
        tir.call_extern("float32", "vadd", B)


# -- the reference ------------------------------------------------------------------------

def test_reference_calls_the_registered_function():
    calls = []

    def scale(x, y, factor, label):
        calls.append((x.flags.writeable, y.flags.writeable, factor, label))
        y[...] = x * factor

    A = te.placeholder((3, 4), name="A")
    B = te.extern(A.shape, [A], lambda ins, outs: tir.call_packed(
        "test.te.scale", ins[0], outs[0], 3, "x3"), name="B")
    C = te.compute(A.shape, lambda i, j: B[i, j] + A[i, j], name="C")
    a = np.arange(12, dtype="float32").reshape(3, 4)
    with registered("test.te.scale", scale):
        b, c = evaluate([B, C], {A: a})
    np.testing.assert_array_equal(b, a * 3)
    np.testing.assert_array_equal(c, a * 4)
    assert calls == [(False, True, 3, "x3")]   # inputs read-only, scalars as Python values


def test_reference_passes_symbolic_scalars_and_raises_named_errors():
    n = te.var("n")
    A = te.placeholder((n,), name="A")

    def fill(y, count, value):
        y[:count] = value

    B = te.extern((n,), [A], lambda ins, outs: tir.call_packed("test.te.fill", outs[0], n,
                                                              1.5), name="B")
    with registered("test.te.fill", fill):
        [b] = evaluate([B], {A: np.zeros(5, "float32")})
    np.testing.assert_array_equal(b, np.full(5, 1.5, "float32"))
    with pytest.raises(ExternCallError, match="function 'test.te.fill' is not registered"):
        evaluate([B], {A: np.zeros(5, "float32")})

    def broken(y, count, value):
        raise KeyError("no such mode")

    with registered("test.te.fill", broken):
        with pytest.raises(ExternCallError, match="'test.te.fill' raised KeyError") as info:
            evaluate([B], {A: np.zeros(5, "float32")})
    assert isinstance(info.value.__cause__, KeyError)


def test_declared_strides_bind_to_the_compact_buffers():
    from tensorlang.errors import TensorLangValueError as ValueErr
    n = te.var("n")
    A = te.placeholder((n, 4, 3), name="A")
    s0, s1 = te.var("s0"), te.var("s1")
    Ab = tir.decl_buffer(A.shape, A.dtype, name="Ab", strides=[s0, s1, 1])
    B = te.extern(A.shape, [A], lambda ins, outs: tir.call_packed(
        "f", ins[0], outs[0], ins[0].strides[0], ins[0].strides[1]), in_buffers=[Ab],
        name="B")
    assert [str(a) for a in B.op.body.value.args[3:]] == ["12", "3"]
    with pytest.raises(ValueErr, match="stride 1 is '3'"):
        te.extern(A.shape, [A], lambda ins, outs: tir.call_packed("f", ins[0], outs[0]),
                  in_buffers=[tir.decl_buffer(A.shape, A.dtype, strides=[12, 4, 1])])
    with pytest.raises(TensorLangTypeError, match="2 strides for 3 dimensions"):
        tir.decl_buffer(A.shape, A.dtype, strides=[s0, 1])
