"""Printed TIR: golden text of hand-built functions, identifier names, float constants,
stage comments, determinism."""
import numpy as np
import pytest

from tensorlang import tir
from tensorlang.tir import (Allocate, AttrStmt, BufferLoad, BufferStore, Broadcast, Evaluate,
                            FloatImm, For, ForKind, IfThenElse, LetStmt, PrimFunc, Ramp,
                            call_builtin, call_intrin, const, decl_buffer, format_node, seq,
                            var)
from tensorlang.tir.datatype import bfloat16, float16, float32, float64, int32
from tensorlang.tir.printer import float_text, identifier


def tiled_matmul():
    """A blocked matmul with a local accumulator, stage markers and a vector store."""
    n = var("n")
    A = decl_buffer((n, 64), "float32", "A")
    B = decl_buffer((64, 64), "float32", "B")
    C = decl_buffer((n, 64), "float32", "C")
    acc = decl_buffer((4,), "float32", "C.local", scope="local")
    i_outer, i_inner = var("i.outer"), var("i.inner")
    j, k = var("j"), var("k")
    i = i_outer * 4 + i_inner
    vec = float32.with_lanes(4)
    lanes = Ramp(const(0), const(1), 4, int32.with_lanes(4))
    init = BufferStore(acc, Broadcast(const(0.0), 4, vec), (lanes,))
    update = For(k, const(0), const(64), ForKind.SERIAL, For(
        i_inner, const(0), const(4), ForKind.UNROLLED,
        BufferStore(acc, acc[i_inner] + A[i, k] * B[k, j], (i_inner,))))
    write_back = For(i_inner, const(0), const(4), ForKind.VECTORIZED,
                     IfThenElse(i < n, BufferStore(C, acc[i_inner], (i, j))))
    body = For(i_outer, const(0), (n + 3) // 4, ForKind.PARALLEL, For(
        j, const(0), const(64), ForKind.SERIAL,
        AttrStmt("C.local", "stage", const(0), Allocate(acc, seq(init, update,
                                                                  AttrStmt("C", "stage", const(0),
                                                                           write_back))))))
    return PrimFunc("tiled.matmul", (A, B, C), body)


def gpu_kernel():
    A = decl_buffer((256,), "float16", "A")
    B = decl_buffer((256,), "float16", "B")
    shared = decl_buffer((32,), "float16", "A.shared", scope="shared")
    bx, tx = var("blockIdx.x"), var("threadIdx.x")
    t = var("t", "float16")
    body = For(bx, const(0), const(8), ForKind.THREAD_BINDING, Allocate(shared, seq(
        For(tx, const(0), const(32), ForKind.THREAD_BINDING,
            BufferStore(shared, A[bx * 32 + tx], (tx,)), thread_tag="threadIdx.x"),
        Evaluate(call_builtin("tl.syncthreads", "int32")),
        For(tx, const(0), const(32), ForKind.THREAD_BINDING,
            LetStmt(t, shared[31 - tx], BufferStore(
                B, call_intrin("exp", t) * FloatImm(float16, 0.1), (bx * 32 + tx,))),
            thread_tag="threadIdx.x"))), thread_tag="blockIdx.x")
    return PrimFunc("reverse_exp", (A, B), body)


def test_golden_tiled_matmul(golden):
    golden("tir/printer_tiled_matmul", tiled_matmul().script())


def test_golden_gpu_kernel(golden):
    golden("tir/printer_gpu_kernel", gpu_kernel().script())


def test_printed_text_is_valid_python_syntax():
    import ast
    for func in (tiled_matmul(), gpu_kernel()):
        ast.parse(func.script())


def test_printing_is_deterministic():
    assert tiled_matmul().script() == tiled_matmul().script()
    func = gpu_kernel()
    assert func.script() == func.script() == str(func)


def test_names_become_identifiers():
    assert identifier("i.outer") == "i_outer"
    assert identifier("A.shared") == "A_shared"
    assert identifier("blockIdx.x") == "blockIdx_x"
    assert identifier("0k") == "v0k"
    assert identifier("lambda") == "lambda_"
    assert identifier("") == "v"
    text = tiled_matmul().script()
    assert "i_outer" in text and "C_local" in text and "def tiled_matmul(" in text
    assert "i.outer" not in text


def test_distinct_objects_with_one_name_are_numbered_in_order():
    A = decl_buffer((4,), "int32", "A")
    first, second, third = var("i"), var("i"), var("i.0")
    lookalike = var("i_1")
    body = seq(For(first, const(0), const(4), ForKind.SERIAL, BufferStore(A, first, (first,))),
               For(second, const(0), const(4), ForKind.SERIAL,
                   BufferStore(A, lookalike, (second,))),
               For(third, const(0), const(4), ForKind.SERIAL, BufferStore(A, third, (third,))))
    text = format_node(PrimFunc("f", (A, lookalike), body))
    lines = text.splitlines()
    assert lines[1] == 'def f(A: T.Buffer((4,), "int32"), i_1: T.int32):'
    assert lines[2].startswith("    for i in range(4):")
    assert lines[4] == "    for i_2 in range(4):"
    assert lines[5] == "        A[i_2] = i_1"
    assert lines[6] == "    for i_0 in range(4):"


def test_reserved_names_are_renamed():
    T = decl_buffer((4,), "float32", "T")
    text = format_node(PrimFunc("f", (T,), BufferStore(T, const(1.0), (const(0),))))
    assert "T_1[0] = T.float32(1.0)" in text


def test_stage_attribute_prints_as_a_comment_at_the_same_depth():
    A = decl_buffer((4,), "float32", "A")
    i = var("i")
    body = AttrStmt("A", "stage", const(0),
                    For(i, const(0), const(4), ForKind.SERIAL, BufferStore(A, const(0.0), (i,))))
    assert format_node(body).splitlines() == ["# stage A", "for i in range(4):",
                                              "    A[i] = T.float32(0.0)"]
    other = AttrStmt("threadIdx.x", "thread_extent", const(32), Evaluate(const(1)))
    assert format_node(other).splitlines()[0] == \
        'with T.attr("threadIdx.x", "thread_extent", 32):'


@pytest.mark.parametrize("value,dtype,text", [
    (0.0, float32, "0.0"), (1.0, float32, "1.0"), (0.1, float32, "0.1"),
    (float(np.float32(0.1)), float32, "0.1"), (-2.5, float32, "-2.5"),
    (1e-8, float32, "1e-08"), (3.4028234663852886e38, float32, "3.4028235e+38"),
    (1e300, float32, '"inf"'), (float("-inf"), float32, '"-inf"'),
    (float("nan"), float32, '"nan"'), (0.1, float64, "0.1"),
    (float(np.float32(0.1)), float64, "0.10000000149011612"), (0.1, float16, "0.1"),
    (65504.0, float16, "6.55e+04"), (1.5, bfloat16, "1.5"),
])
def test_float_constants_print_shortest_unambiguous(value, dtype, text):
    assert float_text(value, dtype) == text
    assert format_node(FloatImm(dtype, value)) == f"T.{dtype}({text})"


def test_float32_text_reads_back_to_the_same_value():
    values = np.random.default_rng(0).standard_normal(200).astype(np.float32) * 1e3
    for value in values:
        assert np.float32(float(float_text(float(value), float32))) == value


def test_golden_fixture_writes_compares_and_reports(golden, tmp_path):
    checker = type(golden)(update=False, directory=tmp_path)
    checker("area/sample", "line 1\nline 2   \n")
    assert (tmp_path / "area" / "sample.txt").read_text() == "line 1\nline 2\n"
    checker("area/sample", "line 1\nline 2")  # same text up to trailing whitespace
    with pytest.raises(pytest.fail.Exception, match=r"(?s)-line 2.*\+line two.*--update-golden"):
        checker("area/sample", "line 1\nline two")
    type(golden)(update=True, directory=tmp_path)("area/sample", "line 1\nline two")
    checker("area/sample", "line 1\nline two")
    with pytest.raises(ValueError, match="golden name"):
        checker("../escape", "x")


def test_printed_vector_nodes():
    A = decl_buffer((16,), "float32", "A")
    ramp = Ramp(const(4), const(2), 4, int32.with_lanes(4))
    load = BufferLoad(A, (ramp,), float32.with_lanes(4))
    assert format_node(load) == "A[T.Ramp(4, 2, 4)]"
    assert format_node(Broadcast(const(1.5), 4, float32.with_lanes(4))) == \
        "T.Broadcast(T.float32(1.5), 4)"
    assert format_node(tir.cast(var("x"), "float16")) == 'T.Cast("float16", x)'
