"""Loop primitives (split, fuse, reorder, tile, vectorize, unroll, parallel, pragma,
bind): the loop nest they produce and the values it computes."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.tir import stmt as S
from tensorlang.tir.functor import post_order_visit


def matmul(m=24, n=20, k=12):
    A = te.placeholder((m, k), name="A")
    B = te.placeholder((k, n), name="B")
    r = te.reduce_axis((0, k), name="k")
    C = te.compute((m, n), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), name="C")
    return A, B, C


def loops(func):
    found = []
    post_order_visit(func.body, lambda n: found.append(n) if isinstance(n, S.For) else None)
    return found[::-1]  # outermost first


def loop_names(func):
    return [f.loop_var.name for f in loops(func)]


def test_split_names_and_extents():
    A, B, C = matmul()
    s = tl.create_schedule(C)
    xo, xi = s[C].split(C.op.axis[0], factor=8)
    assert (xo.var.name, xi.var.name) == ("i.outer", "i.inner")
    assert s[C].leaf_iter_vars[:2] == [xo, xi]
    func = tl.lower(s, [A, B, C], simple_mode=True)
    extents = {f.loop_var.name: f.extent.value for f in loops(func)}
    assert extents["i.outer"] == 3 and extents["i.inner"] == 8


def test_split_nparts():
    A, B, C = matmul()
    s = tl.create_schedule(C)
    xo, xi = s[C].split(C.op.axis[1], nparts=3)
    func = tl.lower(s, [A, B, C], simple_mode=True)
    extents = {f.loop_var.name: f.extent.value for f in loops(func)}
    assert extents["j.outer"] == 3 and extents["j.inner"] == 7  # ceil(20 / 3)


@pytest.mark.parametrize("factor", [1, 5, 7, 8, 24, 30])
def test_split_any_factor_matches_reference(check, factor):
    A, B, C = matmul()
    s = tl.create_schedule(C)
    s[C].split(C.op.axis[0], factor=factor)
    s[C].split(C.op.reduce_axis[0], factor=factor)
    check(s, [A, B], [C])


def test_tile_reorder_vectorize_parallel(check):
    A, B, C = matmul(32, 32, 16)
    s = tl.create_schedule(C)
    io, jo, ii, ji = s[C].tile(C.op.axis[0], C.op.axis[1], 8, 8)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=4)
    s[C].reorder(io, jo, ko, ki, ii, ji)
    s[C].vectorize(ji)
    s[C].parallel(io)
    s[C].unroll(ki)
    func = check(s, [A, B], [C])
    kinds = {f.loop_var.name: f.kind for f in loops(func)}
    assert kinds["i.outer"] == S.ForKind.PARALLEL
    assert kinds["j.inner"] == S.ForKind.VECTORIZED
    assert kinds["k.inner"] == S.ForKind.UNROLLED
    # divisible tiles need no guard
    assert "if " not in str(func)


def test_reduction_init_is_hoisted_above_reduce_loops():
    A, B, C = matmul(32, 32, 16)
    s = tl.create_schedule(C)
    io, jo, ii, ji = s[C].tile(C.op.axis[0], C.op.axis[1], 8, 8)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=4)
    s[C].reorder(io, jo, ko, ki, ii, ji)
    func = tl.lower(s, [A, B, C], simple_mode=True)
    outer_jo = next(f for f in loops(func) if f.loop_var.name == "j.outer")
    body = outer_jo.body
    assert isinstance(body, S.SeqStmt) and len(body.seq) == 2
    init, update = body.seq
    assert [f.loop_var.name for f in loops(S.PrimFunc("f", (), init))] == \
        ["i.inner.init", "j.inner.init"]
    assert update.loop_var.name == "k.outer"


def test_fuse_then_split(check):
    A, B, C = matmul(6, 10, 4)
    s = tl.create_schedule(C)
    f = s[C].fuse(*C.op.axis)
    assert f.var.name == "i.j.fused"
    fo, fi = s[C].split(f, factor=7)
    s[C].parallel(fo)
    func = check(s, [A, B], [C])
    assert "i.j.fused.outer" in loop_names(func)


def test_fuse_three_axes_name(check):
    A = te.placeholder((3, 4, 5), name="A")
    B = te.compute((3, 4, 5), lambda x, y, z: A[x, y, z] * 2.0, name="B")
    s = tl.create_schedule(B)
    f = s[B].fuse(*B.op.axis)
    assert f.var.name == "x.y.z.fused"
    check(s, [A], [B])


def test_split_of_reduce_axis_non_divisible_guards(check):
    A, B, C = matmul(8, 8, 10)
    s = tl.create_schedule(C)
    s[C].split(C.op.reduce_axis[0], factor=4)
    func = check(s, [A, B], [C], simple_mode=True)
    assert "k.outer * 4 + k.inner < 10" in str(func).replace("k_outer", "k.outer") \
        .replace("k_inner", "k.inner")


def test_pragma_becomes_loop_annotation():
    A, B, C = matmul()
    s = tl.create_schedule(C)
    s[C].pragma(C.op.axis[0], "auto_unroll_max_step", 16)
    func = tl.lower(s, [A, B, C])
    outer = loops(func)[0]
    assert ("pragma_auto_unroll_max_step", 16) in outer.annotations


def test_bind_emits_thread_loops(check):
    A = te.placeholder((100,), name="A")
    B = te.compute((100,), lambda i: A[i] + 1.0, name="B")
    s = tl.create_schedule(B)
    bx, tx = s[B].split(B.op.axis[0], factor=32)
    s[B].bind(bx, te.thread_axis("blockIdx.x"))
    s[B].bind(tx, te.thread_axis("threadIdx.x"))
    func = check(s, [A], [B])
    tags = [(f.kind, f.thread_tag) for f in loops(func)]
    assert (S.ForKind.THREAD_BINDING, "blockIdx.x") in tags
    assert (S.ForKind.THREAD_BINDING, "threadIdx.x") in tags


def test_stage_attr_names_each_stage():
    A, B, C = matmul()
    s = tl.create_schedule(C)
    func = tl.lower(s, [A, B, C])
    attrs = []
    post_order_visit(func.body, lambda n: attrs.append(n) if isinstance(n, S.AttrStmt) else None)
    assert [(a.node, a.key) for a in attrs] == [("C", "stage")]


def test_reduction_with_nonzero_min_and_where(check):
    A = te.placeholder((6, 9), name="A")
    r = te.reduce_axis((2, 9), name="r")
    B = te.compute((6,), lambda i: te.sum(A[i, r], axis=r, where=r % 2 == 0), name="B")
    s = tl.create_schedule(B)
    s[B].split(B.op.reduce_axis[0], factor=3)
    check(s, [A], [B])


def test_max_reduction_and_multiple_reduce_axes(check):
    A = te.placeholder((4, 5, 6), name="A")
    r1 = te.reduce_axis((0, 5), name="r1")
    r2 = te.reduce_axis((0, 6), name="r2")
    B = te.compute((4,), lambda i: te.max(A[i, r1, r2], axis=[r1, r2]), name="B")
    s = tl.create_schedule(B)
    s[B].reorder(B.op.reduce_axis[1], B.op.axis[0], B.op.reduce_axis[0])
    check(s, [A], [B])


def test_argmax_tuple_reducer(check):
    def fcombine(x, y):
        take = x[1] >= y[1]
        return te.if_then_else(take, x[0], y[0]), te.if_then_else(take, x[1], y[1])

    def fidentity(t0, t1):
        return te.const(-1, t0), te.const(-1e30, t1)

    argmax = te.comm_reducer(fcombine, fidentity, name="argmax")
    A = te.placeholder((5, 7), name="A")
    r = te.reduce_axis((0, 7), name="r")
    idx, val = te.compute((5,), lambda i: argmax((r, A[i, r]), axis=r), name="T")
    s = tl.create_schedule(idx.op)
    s[idx].split(s[idx].op.reduce_axis[0], factor=3)
    check(s, [A], [idx, val])


def test_multi_output_elementwise(check):
    A = te.placeholder((10,), name="A")
    P, Q = te.compute((10,), lambda i: (A[i] + 1.0, A[i] * 3.0), name="PQ")
    s = tl.create_schedule(P.op)
    s[P].split(s[P].op.axis[0], factor=4)
    check(s, [A], [P, Q])


def test_symbolic_shape_lowering_binds_from_buffers():
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: A[i] * 2.0, name="B")
    s = tl.create_schedule(B)
    s[B].split(B.op.axis[0], factor=4)
    func = tl.lower(s, [A, B])
    assert len(func.params) == 2
    from tensorlang.tir.interpreter import interpret
    for size in (1, 7, 8, 13):
        a = np.arange(size, dtype="float32")
        b = np.zeros(size, "float32")
        interpret(func, a, b)
        np.testing.assert_allclose(b, a * 2)


def test_scalar_var_argument(check):
    n = te.var("n")
    alpha = te.var("alpha", "float32")
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: A[i] * alpha, name="B")
    s = tl.create_schedule(B)
    func = tl.lower(s, [A, B, alpha])
    assert func.params[2] is alpha
    from tensorlang.tir.interpreter import interpret
    a = np.arange(5, dtype="float32")
    b = np.zeros(5, "float32")
    interpret(func, a, b, np.float32(3))
    np.testing.assert_allclose(b, a * 3)
