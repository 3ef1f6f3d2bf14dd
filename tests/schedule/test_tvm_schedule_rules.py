"""Schedules TVM accepts and tensorlang must too: compute_at into a stage that reads the
producer only through stages computed inside it (TVM's softmax schedules), the memory
scope of a stage computed inside thread-bound loops (TVM's storage scope inference), and
the store predicate of a cross-thread reduction."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.errors import LoweringError, ScheduleError
from tensorlang.settings import settings


def _softmax(m=6, n=13):
    x = te.placeholder((m, n), name="x")
    k = te.reduce_axis((0, n), name="k")
    mx = te.compute((m,), lambda i: te.max(x[i, k], axis=k), name="mx")
    ex = te.compute((m, n), lambda i, j: te.exp(x[i, j] - mx[i]), name="ex")
    k2 = te.reduce_axis((0, n), name="k2")
    total = te.compute((m,), lambda i: te.sum(ex[i, k2], axis=k2), name="total")
    out = te.compute((m, n), lambda i, j: ex[i, j] / total[i], name="out")
    return x, mx, ex, total, out


def _expected(xv):
    e = np.exp(xv - xv.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("order", ["producer_first", "consumers_first"])
def test_compute_at_through_stages_computed_inside(order):
    x, mx, ex, total, out = _softmax()
    s = tl.create_schedule(out)
    row = out.op.axis[0]
    stages = [mx, ex, total] if order == "producer_first" else [total, ex, mx]
    for t in stages:   # out reads mx only through ex, computed at the same row loop
        s[t].compute_at(s[out], row)
    text = str(tl.lower(s, [x, out]))
    assert text.index("mx") < text.index("ex[")
    xv = np.random.default_rng(0).standard_normal((6, 13)).astype("float32")
    for build in (lambda: tl.build(s, [x, out]),):
        o = np.zeros((6, 13), "float32")
        build()(xv, o)
        np.testing.assert_allclose(o, _expected(xv), rtol=1e-5)
    # the printed schedule rebuilds the same loops
    assert "compute_at(s[out]" in str(s)


def test_a_consumer_left_outside_the_loop_is_refused_at_lowering():
    x, mx, ex, total, out = _softmax()
    s = tl.create_schedule(out)
    s[mx].compute_at(s[out], out.op.axis[0])   # accepted: out reads mx through ex ...
    with pytest.raises(LoweringError, match="stage 'mx' is computed at axis 'i' of stage "
                                            "'out', but its consumer 'ex' reads it outside"):
        tl.lower(s, [x, out])                  # ... but ex stays at the root


def test_compute_at_a_stage_that_never_reads_it_is_refused():
    x, mx, ex, total, out = _softmax()
    y = te.placeholder((6,), name="y")
    other = te.compute((6,), lambda i: y[i] * 2, name="other")
    s = tl.create_schedule([out, other])
    with pytest.raises(ScheduleError, match="stage 'other' does not read 'mx', directly "
                                            "or through other stages"):
        s[mx].compute_at(s[other], other.op.axis[0])


def _cross_thread_sum(n=64, set_scope=None):
    A = te.placeholder((n, n), name="A")
    k = te.reduce_axis((0, n), name="k")
    B = te.compute((n,), lambda i: te.sum(A[i, k], axis=k), name="B")
    s = tl.create_schedule(B)
    ko, ki = s[B].split(B.op.reduce_axis[0], factor=16)
    BF = s.rfactor(B, ki)
    xo, xi = s[B].split(s[B].op.axis[0], factor=32)
    s[B].bind(xo, te.thread_axis("blockIdx.x"))
    s[B].bind(xi, te.thread_axis("threadIdx.y"))
    tx = te.thread_axis("threadIdx.x")
    s[B].bind(s[B].op.reduce_axis[0], tx)
    s[BF].compute_at(s[B], s[B].op.reduce_axis[0])
    if set_scope:
        s[BF].set_scope(set_scope)
    return s, A, B, BF, tx


@pytest.mark.parametrize("set_scope", [None, "local"])
def test_a_stage_inside_thread_loops_defaults_to_local(set_scope):
    s, A, B, BF, tx = _cross_thread_sum(set_scope=set_scope)
    func = tl.lower(s, [A, B])
    assert "local" in str(func)
    mod = tl.build(s, [A, B], target="cuda")
    a = np.random.rand(64, 64).astype("float32")
    b = np.zeros(64, "float32")
    mod.emulate(a, b)
    np.testing.assert_allclose(b, a.sum(axis=1), rtol=1e-4)


def test_a_stage_inside_block_loops_only_defaults_to_shared():
    n = 64
    A = te.placeholder((n,), name="A")
    AA = te.compute((n,), lambda i: A[i] + 1, name="AA")
    B = te.compute((n,), lambda i: AA[i] * 2, name="B")
    s = tl.create_schedule(B)
    bx, tx = s[B].split(B.op.axis[0], factor=16)
    s[B].bind(bx, te.thread_axis("blockIdx.x"))
    s[B].bind(tx, te.thread_axis("threadIdx.x"))
    s[AA].compute_at(s[B], bx)
    ax = s[AA].op.axis[0]
    s[AA].bind(ax, te.thread_axis("threadIdx.x"))
    func = tl.lower(s, [A, B])
    assert "shared" in str(func)
    mod = tl.build(s, [A, B], target="cuda")
    a = np.random.rand(n).astype("float32")
    b = np.zeros(n, "float32")
    with settings.override(cuda_emulate=True):
        mod(a, b)
    np.testing.assert_allclose(b, (a + 1) * 2, rtol=1e-6)


def test_store_predicate_of_a_cross_thread_reduction():
    s, A, B, BF, tx = _cross_thread_sum()
    s[B].set_store_predicate(tx.var.equal(0))
    a = np.random.rand(64, 64).astype("float32")
    b = np.zeros(64, "float32")
    tl.build(s, [A, B], target="cuda").emulate(a, b)
    np.testing.assert_allclose(b, a.sum(axis=1), rtol=1e-4)
    i = s[B].op.axis[0]
    with pytest.raises(ScheduleError, match="guard the value with te.if_then_else"):
        s[B].set_store_predicate(i.var < 3)
    with pytest.raises(ScheduleError, match="boolean expression"):
        s[B].set_store_predicate(tx.var)


def _matmul(n=40):
    A = te.placeholder((n, n), name="A")
    B = te.placeholder((n, n), name="B")
    k = te.reduce_axis((0, n), name="k")
    C = te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    return A, B, C


def test_cache_write_keeps_the_splits_made_before_it():
    A, B, C = _matmul()
    s = tl.create_schedule(C)
    yo, xo, yi, xi = s[C].tile(C.op.axis[0], C.op.axis[1], 8, 16)   # not dividing 40
    s[C].parallel(yo)
    CC = s.cache_write(C, "local")           # TVM drops the tiling here; tensorlang keeps it
    assert s[C].leaf_iter_vars == [yo, xo, yi, xi]
    s[CC].compute_at(s[C], xo)
    s[C].vectorize(xi)
    text = str(tl.lower(s, [A, B, C]))
    assert "parallel" in text and "C.local" in text
    rng = np.random.default_rng(0)
    a, b = rng.random((40, 40), dtype="float32"), rng.random((40, 40), dtype="float32")
    c = np.zeros((40, 40), "float32")
    tl.build(s, [A, B, C])(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4)
    # the printed schedule replays cache_write with the same kept loops
    A2, B2, C2 = _matmul()
    namespace = {"tl": tl, "te": te, "A": A2, "B": B2, "C": C2}
    exec(str(s), namespace)
    assert str(tl.lower(namespace["s"], [A2, B2, C2])) == text


def test_cache_write_after_scheduling_the_reduction_is_refused():
    A, B, C = _matmul()
    s = tl.create_schedule(C)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=4)
    with pytest.raises(ScheduleError, match="reduction axis 'k.outer' was already split"):
        s.cache_write(C, "local")
    A, B, C = _matmul()
    s = tl.create_schedule(C)
    i, j = C.op.axis
    s[C].reorder(i, C.op.reduce_axis[0], j)
    with pytest.raises(ScheduleError, match="call cache_write before scheduling the "
                                            "reduction of 'C'"):
        s.cache_write(C, "local")


def test_an_inlined_tensor_in_the_arguments_is_stored_too():
    """TVM's ``tvm.lower(s, [A, B, C])`` with B inlined: B is inlined into C and also
    written in full, so the caller's B holds its values (never left unwritten)."""
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: A[i] + 1.0, name="B")
    C = te.compute((n,), lambda i: B[i] * 2.0, name="C")
    D = te.compute((n,), lambda i: C[i] - B[i], name="D")
    s = te.create_schedule(D.op)
    s[B].compute_inline()
    io, ii = s[D].split(D.op.axis[0], factor=4)
    s[C].compute_at(s[D], io)
    text = str(tl.lower(s, [A, B, D]))
    assert "B[i] = A[i] + T.float32(1.0)" in text   # stored ...
    assert "(A[" in text and "+ T.float32(1.0)) * T.float32(2.0)" in text   # ... and inlined
    mod = tl.build(s, [A, B, D])
    a = np.random.default_rng(0).random(11).astype("float32")
    b, d = np.full_like(a, np.nan), np.full_like(a, np.nan)
    mod(a, b, d)
    np.testing.assert_allclose(b, a + 1, rtol=1e-6)
    np.testing.assert_allclose(d, (a + 1) * 2 - (a + 1), rtol=1e-6)


def test_a_split_past_the_extent_is_one_step_without_a_guard():
    """split(8, factor=32) runs 8 iterations, not 32 guarded ones (TVM's bounds); a
    divisible symbolic split runs m steps; thread-bound loops keep the size given."""
    m = te.var("m")
    A = te.placeholder((8, 8 * m), name="A")
    B = te.compute(A.shape, lambda i, j: A[i, j] + 1.0, name="B")
    s = te.create_schedule(B.op)
    io, ii = s[B].split(B.op.axis[0], factor=32)
    jo, ji = s[B].split(B.op.axis[1], factor=8)
    text = str(tl.lower(s, [A, B, m]))   # m is no whole dimension: an argument
    assert "range(8)" in text and "range(32)" not in text and "if " not in text
    assert "range(m)" in text
    a = np.random.default_rng(1).random((8, 24)).astype("float32")
    b = np.zeros_like(a)
    tl.build(s, [A, B, m])(a, b, 3)
    np.testing.assert_allclose(b, a + 1)
    X = te.placeholder((8,), name="X")
    C = te.compute((8,), lambda i: X[i] * 2.0, name="C")
    sc = te.create_schedule(C.op)
    bo, bi = sc[C].split(C.op.axis[0], factor=32)
    sc[C].bind(bo, te.thread_axis("blockIdx.x"))
    sc[C].bind(bi, te.thread_axis("threadIdx.x"))
    assert "T.thread_binding(32" in str(tl.lower(sc, [X, C]))
