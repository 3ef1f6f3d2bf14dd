"""cache_read / cache_write / set_scope / storage_align."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.errors import ScheduleError
from tensorlang.schedule import Schedule
from tensorlang.tir import stmt as S
from tensorlang.tir.functor import post_order_visit



def matmul(m, n, k, transpose_b: bool = False):
    """``C = A @ B``, or ``A @ B^T`` with ``B`` of shape ``(n, k)``."""
    A = te.placeholder((m, k), name="A")
    B = te.placeholder((n, k) if transpose_b else (k, n), name="B")
    r = te.reduce_axis((0, k), name="k")
    C = te.compute((m, n), lambda i, j: te.sum(
        A[i, r] * (B[j, r] if transpose_b else B[r, j]), axis=r), name="C")
    return A, B, C


def allocations(func):
    found = {}
    post_order_visit(func.body, lambda n: found.__setitem__(n.buffer.name, n.buffer)
                     if isinstance(n, S.Allocate) else None)
    return found


def test_cache_write_keeps_original_axes_and_names(check):
    A, B, C = matmul(16, 16, 8)
    s = tl.create_schedule(C)
    CC = s.cache_write(C, "local")
    assert CC.name == "C.local" and s[CC].scope == "local"
    assert s[C].op.axis == C.op.axis  # the copy-out keeps C's axes
    assert [iv.var.name for iv in s[CC].op.axis] == ["i.c", "j.c"]
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], 4, 4)
    s[CC].compute_at(s[C], yo)
    func = check(s, [A, B], [C])
    buf = allocations(func)["C.local"]
    assert buf.scope == "local" and [e.value for e in buf.shape] == [4, 4]


def test_cache_write_reduction_reorder(check):
    A, B, C = matmul(10, 12, 9)
    s = tl.create_schedule(C)
    CC = s.cache_write(C, "global")
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], 4, 8)
    s[CC].compute_at(s[C], yo)
    xc, yc = s[CC].op.axis
    ko, ki = s[CC].split(s[CC].op.reduce_axis[0], factor=4)
    s[CC].reorder(ko, xc, ki, yc)
    s[CC].vectorize(yc)
    check(s, [A, B], [C])


def test_cache_read_into_shared_with_threads(check):
    A, B, C = matmul(16, 16, 16)
    s = tl.create_schedule(C)
    AA = s.cache_read(A, "shared", [C])
    BB = s.cache_read(B, "shared", [C])
    CL = s.cache_write(C, "local")
    assert AA.name == "A.shared" and BB.name == "B.shared"
    by, bx, ty, tx = s[C].tile(C.op.axis[0], C.op.axis[1], 8, 8)
    s[C].bind(by, te.thread_axis("blockIdx.y"))
    s[C].bind(bx, te.thread_axis("blockIdx.x"))
    s[C].bind(ty, te.thread_axis("threadIdx.y"))
    s[C].bind(tx, te.thread_axis("threadIdx.x"))
    s[CL].compute_at(s[C], tx)
    ko, ki = s[CL].split(s[CL].op.reduce_axis[0], factor=4)
    s[AA].compute_at(s[CL], ko)
    s[BB].compute_at(s[CL], ko)
    for XX in (AA, BB):
        fused = s[XX].fuse(*s[XX].op.axis)
        _, t = s[XX].split(fused, factor=8)
        s[XX].bind(t, te.thread_axis("threadIdx.x"))
    func = check(s, [A, B], [C])
    bufs = allocations(func)
    # shared tiles cover the whole block: threads are relaxed for shared scope
    assert [e.value for e in bufs["A.shared"].shape] == [8, 4]
    assert [e.value for e in bufs["B.shared"].shape] == [4, 8]
    assert bufs["C.local"].scope == "local" and [e.value for e in bufs["C.local"].shape] == [1, 1]


def test_cache_read_for_one_of_two_readers(check):
    A = te.placeholder((12,), name="A")
    B = te.compute((12,), lambda i: A[i] + 1.0, name="B")
    C = te.compute((12,), lambda i: A[i] * B[i], name="C")
    s = tl.create_schedule(C)
    AL = s.cache_read(A, "local", [B])
    assert [t.name for t in s[B].op.input_tensors] == ["A.local"]
    assert [t.name for t in s[C].op.input_tensors] == ["A", "B"]
    check(s, [A], [C])
    assert s[AL].op.input_tensors[0] is A


def test_cache_read_of_computed_tensor_follows_dataflow(check):
    A = te.placeholder((12,), name="A")
    B = te.compute((12,), lambda i: A[i] + 1.0, name="B")
    C = te.compute((12,), lambda i: B[i] * 2.0, name="C")
    D = te.compute((12,), lambda i: C[i] - B[i], name="D")
    s = tl.create_schedule(D)
    s.cache_read(B, "global", [C])
    s.cache_write(C, "local")
    check(s, [A], [D])


def test_storage_align_pads_rows(check):
    A = te.placeholder((8, 8), name="A")
    B = te.compute((8, 8), lambda i, j: A[i, j] + 1.0, name="B")
    C = te.compute((8, 8), lambda i, j: B[j, i] * 2.0, name="C")
    s = tl.create_schedule(C)
    s[B].storage_align(s[B].op.axis[0], 8, 1)
    func = check(s, [A], [C])
    buf = allocations(func)["B"]
    assert [e.value for e in buf.strides] == [9, 1]


def test_set_scope(check):
    A = te.placeholder((8,), name="A")
    B = te.compute((8,), lambda i: A[i] + 1.0, name="B")
    C = te.compute((8,), lambda i: B[i] * 2.0, name="C")
    s = tl.create_schedule(C)
    s[B].set_scope("local")
    func = check(s, [A], [C])
    assert allocations(func)["B"].scope == "local"


def test_cache_write_of_several_outputs_of_one_operation(check):
    """TVM's ``s.cache_write([B0, B1], "local")``: the caches of the tensors listed, in
    their order; the copy-out keeps its splits; the result runs against the reference."""
    A = te.placeholder((13, 17), name="A")
    B0, B1 = te.compute((13, 17), lambda i, j: (A[i, j] + 1.0, A[i, j] * 2.0), name="B")
    s = tl.create_schedule([B0, B1])
    B1c, B0c = s.cache_write([B1, B0], "local")
    assert (B0c.name, B1c.name) == ("B.v0.local", "B.v1.local")
    assert B0c.op is B1c.op and s[B0c].scope == "local"
    jo, ji = s[B0].split(s[B0].op.axis[1], factor=4)
    s[B0c].compute_at(s[B0], jo)
    func = check(s, [A], [B0, B1])
    assert [e.value for e in allocations(func)["B.v0.local"].shape] == [1, 4]
    replayed = tl.create_schedule([B0, B1])
    for step in s.steps:
        step.apply(replayed)
    assert str(tl.lower(replayed, [A, B0, B1])) == str(func)


def test_cache_write_of_tensors_of_two_operations_is_refused():
    import pytest
    from tensorlang.errors import ScheduleError
    A = te.placeholder((4,), name="A")
    B = te.compute((4,), lambda i: A[i] + 1.0, name="B")
    C = te.compute((4,), lambda i: B[i] * 2.0, name="C")
    s = tl.create_schedule(C)
    with pytest.raises(ScheduleError, match=r"stages \['B', 'C'\]; one cache_write"):
        s.cache_write([B, C], "local")
    with pytest.raises(ScheduleError, match="give the outputs"):
        s.cache_write([], "local")


def _schedule_with_transposed_copy(A, B, C):
    s = tl.create_schedule(C)
    jo, ji = s[C].split(C.op.axis[1], factor=8)
    s[C].reorder(jo, C.op.axis[0], s[C].op.reduce_axis[0], ji)
    BT = s.cache_read(B, "global", [C], axes=(1, 0))
    s[BT].compute_at(s[C], jo)
    s[C].vectorize(ji)
    return s, BT


def test_cache_read_with_axes_stores_the_copy_transposed():
    A, B, C = matmul(6, 20, 5, transpose_b=True)
    s, BT = _schedule_with_transposed_copy(A, B, C)
    assert [int(d.value) for d in BT.shape] == [5, 20]
    func = tl.lower(s, [A, B, C])
    # the copy of a panel of 8 rows of B holds them along its last dimension
    assert [e.value for e in allocations(func)["B.global"].shape] == [5, 8]
    assert "B_global[k, j_inner]" in str(func)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 5)).astype("float32")
    b = rng.standard_normal((20, 5)).astype("float32")
    c = np.zeros((6, 20), "float32")
    tl.build(s, [A, B, C], bounds_check=True)(a, b, c)
    np.testing.assert_allclose(c, a @ b.T, rtol=1e-5, atol=1e-6)


def test_cache_read_axes_replay_and_print():
    A, B, C = matmul(6, 20, 5, transpose_b=True)
    s, _ = _schedule_with_transposed_copy(A, B, C)
    assert "s.cache_read(B, 'global', [C], axes=(1, 0))" in str(s)
    replayed = Schedule.from_json(s.to_json(), [C.op])
    assert str(tl.lower(replayed, [A, B, C])) == str(tl.lower(s, [A, B, C]))
    # a plain copy writes no axes, as before
    plain = tl.create_schedule(C)
    plain.cache_read(B, "global", [C])
    assert '"axes"' not in plain.to_json()


def test_cache_read_axes_must_order_every_dimension():
    A, B, C = matmul(6, 20, 5, transpose_b=True)
    s = tl.create_schedule(C)
    with pytest.raises(ScheduleError, match=r"axes must order the 2 dimensions of 'B'"):
        s.cache_read(B, "global", [C], axes=(0, 0))
