"""tl.lower: the pass pipeline, its options, and the classic blocked + packed matmul."""
from __future__ import annotations

import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.driver import LowerOptions
from tensorlang.tir import expr as E
from tensorlang.tir import stmt as S
from tensorlang.tir.functor import post_order_visit


def packed_matmul(M, N, K, bn=32):
    """The blocked matmul with a packed B of the TVM CPU tutorial."""
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    k = te.reduce_axis((0, K), name="k")
    packedB = te.compute((N // bn, K, bn), lambda x, y, z: B[y, x * bn + z], name="packedB")
    C = te.compute((M, N), lambda x, y: te.sum(A[x, k] * packedB[y // bn, k, y % bn], axis=k),
                   name="C")
    s = tl.create_schedule(C)
    CC = s.cache_write(C, "global")
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], bn, bn)
    s[CC].compute_at(s[C], yo)
    xc, yc = s[CC].op.axis
    ko, ki = s[CC].split(s[CC].op.reduce_axis[0], factor=4)
    s[CC].reorder(ko, xc, ki, yc)
    s[CC].unroll(ki)
    s[CC].vectorize(yc)
    s[C].parallel(xo)
    x, y, z = s[packedB].op.axis
    s[packedB].vectorize(z)
    s[packedB].parallel(x)
    return s, [A, B, C]


def nodes(node, cls):
    found = []
    post_order_visit(node, lambda n: found.append(n) if isinstance(n, cls) else None)
    return found


def test_packed_matmul_golden(golden):
    s, args = packed_matmul(1024, 1024, 1024)
    func = tl.lower(s, args, name="matmul")
    golden("schedule/packed_matmul_1024", func)
    text = str(func)
    assert "//" not in text and "%" not in text  # (x*32 + y) // 32 simplified away
    assert not nodes(func.body, S.IfThenElse)    # every split divides: no guard


def test_packed_matmul_not_dividing_guards_only_in_tails(check):
    s, args = packed_matmul(70, 64, 30)
    func = check(s, args[:2], args[2:])
    for loop in nodes(func.body, S.For):
        if loop.kind == S.ForKind.VECTORIZED:
            assert not nodes(loop.body, S.IfThenElse), f"guard inside a vectorized loop:\n{loop}"
            assert not nodes(loop.body, E.FloorDiv) and not nodes(loop.body, E.FloorMod)


def test_lower_default_args_and_name():
    s, (A, B, C) = packed_matmul(64, 64, 8)
    func = tl.lower(s)
    assert [p.name for p in func.params] == ["A", "B", "C"]
    assert func.name == "main"
    assert tl.lower(s, [A, B, C], name="mm").name == "mm"


def test_lower_accepts_a_primfunc_and_rejects_others():
    s, args = packed_matmul(64, 64, 8)
    func = tl.lower(s, args)
    again = tl.lower(func)
    assert str(again) == str(func)
    with pytest.raises(tl.LoweringError, match="expected a Schedule or a PrimFunc"):
        tl.lower("schedule", [])


def test_simple_mode_keeps_guards_unpeeled():
    s, args = packed_matmul(70, 64, 30)
    simple = tl.lower(s, args, simple_mode=True)
    full = tl.lower(s, args)
    assert nodes(simple.body, S.IfThenElse)
    assert len(nodes(full.body, S.For)) > len(nodes(simple.body, S.For))


def test_dump_ir_and_pass_timing(capsys):
    A = te.placeholder((8,), name="A")
    B = te.compute((8,), lambda i: A[i] + 1.0, name="B")
    s = tl.create_schedule(B)
    tl.lower(s, [A, B], options=LowerOptions(dump_ir=True, time_passes=True))
    err = capsys.readouterr().err
    assert "# after schedule_to_tir:" in err
    assert "unchanged" in err
    assert "[tl.lower] simplify:" in err


def test_options_from_environment(monkeypatch):
    monkeypatch.setenv("TL_DUMP_IR", "1")
    monkeypatch.delenv("TL_TIME_PASSES", raising=False)
    assert LowerOptions.from_environment() == LowerOptions(dump_ir=True, time_passes=False)
    monkeypatch.setenv("TL_DUMP_IR", "0")
    assert not LowerOptions.from_environment().dump_ir


def test_package_exports():
    assert tl.__version__ == "0.1.0"
    assert tl.create_schedule is tl.schedule.create_schedule
    A = te.placeholder((4,), name="A")
    B = te.compute((4,), lambda i: A[i] * 2.0, name="B")
    assert isinstance(te.create_schedule(B), tl.schedule.Schedule)


def test_gpu_shared_memory_matmul_golden(golden):
    n = 64
    A = te.placeholder((n, n), name="A")
    B = te.placeholder((n, n), name="B")
    k = te.reduce_axis((0, n), name="k")
    C = te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    s = tl.create_schedule(C)
    AA = s.cache_read(A, "shared", [C])
    BB = s.cache_read(B, "shared", [C])
    CL = s.cache_write(C, "local")
    by, bx, ty, tx = s[C].tile(C.op.axis[0], C.op.axis[1], 16, 16)
    for axis, tag in ((by, "blockIdx.y"), (bx, "blockIdx.x"), (ty, "threadIdx.y"),
                      (tx, "threadIdx.x")):
        s[C].bind(axis, te.thread_axis(tag))
    s[CL].compute_at(s[C], tx)
    ko, ki = s[CL].split(s[CL].op.reduce_axis[0], factor=8)
    s[AA].compute_at(s[CL], ko)
    s[BB].compute_at(s[CL], ko)
    for XX in (AA, BB):
        y, x = s[XX].op.axis
        s[XX].bind(y, te.thread_axis("threadIdx.y"))
        s[XX].bind(x, te.thread_axis("threadIdx.x"))
    golden("schedule/gpu_shared_matmul", tl.lower(s, [A, B, C], name="matmul_gpu"))


def test_blur_compute_at_golden(golden):
    A = te.placeholder((32, 30), name="A")
    B = te.compute((32, 30), lambda y, x: A[y, x] + A[y, x], name="B")
    C = te.compute((30, 30), lambda y, x: B[y, x] + B[y + 1, x] + B[y + 2, x], name="C")
    s = tl.create_schedule(C)
    yo, xo, yi, xi = s[C].tile(C.op.axis[0], C.op.axis[1], 8, 8)
    s[B].compute_at(s[C], xo)
    s[C].vectorize(xi)
    golden("schedule/blur_compute_at", tl.lower(s, [A, C], name="blur"))


@pytest.mark.parametrize("bad", ["register blocking", "2mm", "", "naïve", None])
def test_function_name_must_be_an_identifier(bad):
    s, args = packed_matmul(64, 64, 8)
    with pytest.raises(tl.LoweringError, match="must be an ASCII identifier"):
        tl.lower(s, args, name=bad)
    with pytest.raises(tl.LoweringError, match="must be an ASCII identifier"):
        tl.build(s, args, target="cuda", name=bad)
