"""Extern stages (te.extern) in schedules: lowering, bound inference (an extern stage reads
its inputs whole), the primitives around them and the ones refused on them.  Results run
in the TIR interpreter and are checked against the numpy reference."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te, tir
from tensorlang.errors import LoweringError, ScheduleError
from tensorlang.te.reference import evaluate
from tensorlang.tir.interpreter import interpret

N, L, M = 12, 5, 7


def _matmul(a, b, c, transa, transb):
    np.matmul(a.T if transa else a, b.T if transb else b, out=c)


def _scale(x, y, factor):
    y[...] = x * factor


@pytest.fixture(autouse=True, scope="module")
def functions():
    tl.register_func("test.schedule.matmul", _matmul, override=True)
    tl.register_func("test.schedule.scale", _scale, override=True)
    yield
    tl.remove_global_func("test.schedule.matmul")
    tl.remove_global_func("test.schedule.scale")


def matmul_extern(A, B, name="C"):
    return te.extern((A.shape[0], B.shape[1]), [A, B], lambda ins, outs: tir.call_packed(
        "test.schedule.matmul", ins[0], ins[1], outs[0], False, False), name=name)


def scale_extern(X, factor=2, name="S"):
    return te.extern(X.shape, [X], lambda ins, outs: tir.call_packed(
        "test.schedule.scale", ins[0], outs[0], factor), name=name)


def inputs(*tensors, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(tuple(int(d) for d in t.shape)).astype(t.dtype)
            for t in tensors]


def check(s, params, placeholders, outputs):
    """Lower ``s``, interpret it, compare each output with the reference."""
    func = tl.lower(s, params)
    arrays = inputs(*placeholders)
    results = [np.zeros(tuple(int(d) for d in t.shape), t.dtype) for t in outputs]
    values = dict(zip(placeholders, arrays))
    interpret(func, *arrays, *results)
    for got, expected in zip(results, evaluate(outputs, values)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    return func


def test_the_extern_stage_is_one_call_over_whole_buffers():
    A, B = te.placeholder((N, L), name="A"), te.placeholder((L, M), name="B")
    bias = te.var("bias", dtype="float32")
    C = matmul_extern(A, B)
    D = te.compute(C.shape, lambda i, j: C[i, j] + bias, name="D")
    s = tl.create_schedule(D.op)
    text = str(tl.lower(s, [A, B, D, bias], name="matmul_bias"))
    assert 'C = T.alloc_buffer((12, 7), "float32", scope="global")' in text
    assert '    # stage C\n    T.evaluate(tl.call_packed("test.schedule.matmul", A, B, C, ' \
           'False, False))\n    # stage D' in text
    a, b = inputs(A, B)
    d = np.zeros((N, M), "float32")
    interpret(tl.lower(s, [A, B, D, bias]), a, b, d, 10.0)
    np.testing.assert_allclose(d, a @ b + 10.0, rtol=1e-5)


def test_consumers_of_an_extern_stage_are_scheduled_and_computed_at():
    A, B = te.placeholder((N, L), name="A"), te.placeholder((L, M), name="B")
    C = matmul_extern(A, B)
    D = te.compute(C.shape, lambda i, j: C[i, j] * 2.0, name="D")
    E = te.compute(C.shape, lambda i, j: D[i, j] + C[i, j], name="E")
    s = tl.create_schedule(E.op)
    io, jo, ii, ji = s[E].tile(E.op.axis[0], E.op.axis[1], 4, 3)
    s[D].compute_at(s[E], jo)
    func = check(s, [A, B, E], [A, B], [E])
    assert "D = T.alloc_buffer((4, 3)" in str(func)   # only the tile E needs


def test_producers_of_an_extern_stage_are_computed_whole():
    A = te.placeholder((N, M), name="A")
    P = te.compute(A.shape, lambda i, j: A[i, j] + 1.0, name="P")
    S = scale_extern(P, 3)
    Q = te.compute(A.shape, lambda i, j: S[i, j] - P[i, j], name="Q")
    s = tl.create_schedule(Q.op)
    xo, xi = s[Q].split(Q.op.axis[0], 5)
    func = check(s, [A, Q], [A], [Q])
    assert 'P = T.alloc_buffer((12, 7)' in str(func)
    s[P].compute_at(s[Q], xo)   # Q could read a part, the extern stage needs all of P
    with pytest.raises(LoweringError, match="stage 'P' is computed at axis 'i.outer' of "
                                            "stage 'Q', but its consumer 'S' reads it "
                                            "outside that loop"):
        tl.lower(s, [A, Q])


def test_a_producer_with_storage_align_reaches_the_function_strided():
    seen = []

    def record(x, y, factor):
        seen.append(x.strides)
        y[...] = x * factor

    A = te.placeholder((N, M), name="A")
    P = te.compute(A.shape, lambda i, j: A[i, j] + 1.0, name="P")
    S = te.extern(P.shape, [P], lambda ins, outs: tir.call_packed(
        "test.schedule.record", ins[0], outs[0], 2.0), name="S")
    s = tl.create_schedule(S.op)
    s[P].storage_align(P.op.axis[0], 16, 3)
    tl.register_func("test.schedule.record", record)
    try:
        check(s, [A, S], [A], [S])
    finally:
        tl.remove_global_func("test.schedule.record")
    assert seen[0] == (19 * 4, 4)   # rows padded to 16k + 3 elements


def test_cache_read_and_cache_write_around_an_extern_stage():
    A = te.placeholder((N, M), name="A")
    P = te.compute(A.shape, lambda i, j: A[i, j] * A[i, j], name="P")
    S = scale_extern(P, 2)
    Q = te.compute(A.shape, lambda i, j: S[i, j] + 1.0, name="Q")
    s = tl.create_schedule(Q.op)
    PP = s.cache_read(P, "local", [S])      # the extern stage reads the copy
    s.cache_write(P, "local")               # and P's readers follow its new operation
    SS = s.cache_read(S, "local", [Q])
    xo, xi = s[Q].split(Q.op.axis[1], 4)
    s[SS].compute_at(s[Q], xo)
    func = check(s, [A, Q], [A], [Q])
    # P.local (the cache_read copy) prints as P_local_1, the cache_write stage took P_local
    assert PP.name == "P.local"
    assert 'tl.call_packed("test.schedule.scale", P_local_1, S, 2)' in str(func)


def test_several_outputs():
    def split_sign(x, pos, neg):
        pos[...] = np.maximum(x, 0)
        neg[...] = np.minimum(x, 0)

    A = te.placeholder((N,), name="A")
    pos, neg = te.extern([(N,), (N,)], [A], lambda ins, outs: tir.call_packed(
        "test.schedule.split_sign", ins[0], outs[0], outs[1]), name="split")
    R = te.compute((N,), lambda i: pos[i] * 2.0 + neg[i], name="R")
    s = tl.create_schedule(R.op)
    tl.register_func("test.schedule.split_sign", split_sign)
    try:
        check(s, [A, R], [A], [R])
        check(tl.create_schedule([R.op, pos.op]), [A, pos, R], [A], [pos, R])
    finally:
        tl.remove_global_func("test.schedule.split_sign")


@pytest.mark.parametrize("primitive", [
    lambda s, S, Q: s[S].split(Q.op.axis[0], 2),
    lambda s, S, Q: s[S].fuse(Q.op.axis[0]),
    lambda s, S, Q: s[S].reorder(Q.op.axis[0]),
    lambda s, S, Q: s[S].vectorize(Q.op.axis[0]),
    lambda s, S, Q: s[S].parallel(Q.op.axis[0]),
    lambda s, S, Q: s[S].unroll(Q.op.axis[0]),
    lambda s, S, Q: s[S].bind(Q.op.axis[0], te.thread_axis("threadIdx.x")),
    lambda s, S, Q: s[S].pragma(Q.op.axis[0], "unroll"),
    lambda s, S, Q: s[S].compute_at(s[Q], Q.op.axis[0]),
    lambda s, S, Q: s[S].compute_inline(),
    lambda s, S, Q: s.cache_write(S, "local"),
    lambda s, S, Q: s.rfactor(S, Q.op.axis[0]),
])
def test_loop_primitives_on_an_extern_stage_are_refused(primitive):
    A = te.placeholder((N, M), name="A")
    S = scale_extern(A)
    Q = te.compute(A.shape, lambda i, j: S[i, j] + 1.0, name="Q")
    s = tl.create_schedule(Q.op)
    with pytest.raises(ScheduleError, match=r"on stage 'S': 'S' is an extern stage \(te.extern "
                                            r"calling 'test.schedule.scale'\): one call "
                                            r"computes all of it at the root, so it has no "
                                            r"loops to schedule"):
        primitive(s, S, Q)


def test_what_needs_no_loops_is_accepted_on_an_extern_stage():
    A = te.placeholder((N, M), name="A")
    S = scale_extern(A)
    Q = te.compute(A.shape, lambda i, j: S[i, j] + 1.0, name="Q")
    s = tl.create_schedule(Q.op)
    s[S].set_scope("local")
    s[S].compute_root()
    assert s[S].leaf_iter_vars == [] and s[S].is_extern
    check(s, [A, Q], [A], [Q])


def test_stages_around_an_extern_stage_cannot_go_inside_it():
    A = te.placeholder((N, M), name="A")
    P = te.compute(A.shape, lambda i, j: A[i, j] + 1.0, name="P")
    S = scale_extern(P)
    s = tl.create_schedule(S.op)
    with pytest.raises(ScheduleError, match="stage 'S' is an extern stage .*has no loops to "
                                            "compute 'P' in"):
        s[P].compute_at(s[S], P.op.axis[0])
    with pytest.raises(ScheduleError, match="the extern stage 'S' reads 'P', and the function "
                                            "it calls receives whole buffers, so 'P' must be "
                                            "stored"):
        s[P].compute_inline()
