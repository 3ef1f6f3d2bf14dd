"""Placement of __syncthreads() by inject_syncthreads."""
from __future__ import annotations

import pytest

from tensorlang import tir
from tensorlang.errors import BuildError
from tensorlang.tir import (Allocate, AttrStmt, BufferStore, For, IfThenElse, PrimFunc,
                            SeqStmt, decl_buffer)
import numpy as np

from tensorlang.target.cuda import EmulationError, emulate, inject_syncthreads
from tensorlang.tir.transform.inject_syncthreads import is_syncthreads

from cuda_tir_kernels import bound, elementwise, row_sum, serial, stage, tiled_matmul


def find_loops(node, name):
    found = []
    tir.post_order_visit(node, lambda n: found.append(n)
                         if isinstance(n, For) and n.loop_var.name == name else None)
    return found


def count_barriers(node):
    found = []
    tir.post_order_visit(node, lambda n: found.append(n) if is_syncthreads(n) else None)
    return len(found)


def kinds(seq):
    """'sync' / the stage name / the loop variable of each statement of a sequence."""
    out = []
    for s in seq.seq:
        if is_syncthreads(s):
            out.append("sync")
        elif isinstance(s, AttrStmt):
            out.append(s.node)
        elif isinstance(s, For):
            out.append(s.loop_var.name)
        else:
            out.append(type(s).__name__)
    return out


def assert_barriers_are_needed_and_enough(func, result, *arrays):
    """The emulator finds a race without the barriers and none with them."""
    with pytest.raises(EmulationError, match="data race"):
        emulate(func, *(a.copy() for a in arrays))
    emulate(result, *arrays)


def test_tiled_matmul_gets_the_double_barrier_inside_the_k_loop():
    result = inject_syncthreads(tiled_matmul())
    (k_loop,) = find_loops(result.body, "k.outer")
    assert isinstance(k_loop.body, SeqStmt)
    # before the tile loads (the previous step's reads are done), and before the compute
    # (the loads are done); nowhere else
    assert kinds(k_loop.body) == ["sync", "A.shared", "B.shared", "sync", "k.inner"]
    assert count_barriers(result) == 2


def test_tree_reduction_gets_a_barrier_before_every_step():
    result = inject_syncthreads(row_sum(threads=64))
    (thread_loop,) = find_loops(result.body, "t")
    body = thread_loop.body.body  # inside the local allocation
    assert kinds(body) == ["BufferStore", "c", "BufferStore"] + \
        ["sync", "IfThenElse"] * 6 + ["sync", "IfThenElse"]
    assert count_barriers(result) == 7


def test_existing_barriers_are_respected():
    func = row_sum(threads=32, barriers=True)
    assert inject_syncthreads(func) is func
    once = inject_syncthreads(tiled_matmul())
    assert inject_syncthreads(once) is once


def test_nothing_changes_without_shared_memory():
    func = elementwise()
    assert inject_syncthreads(func) is func


def test_each_thread_reading_its_own_element_needs_no_barrier():
    A = decl_buffer((64,), "float32", "A")
    sh = decl_buffer((64,), "float32", "sh", scope="shared")
    bx, tx, tx2 = tir.var("bx"), tir.var("tx"), tir.var("tx2")
    body = tir.seq(BufferStore(sh, A[tx] * 2.0, (tx,)),
                   bound(tx2, 64, "threadIdx.x", BufferStore(A, sh[tx2] + 1.0, (tx2,))))
    func = PrimFunc("own", (A,), stage("A", bound(bx, 1, "blockIdx.x", Allocate(
        sh, bound(tx, 64, "threadIdx.x", body)))))
    assert inject_syncthreads(func) is func
    # reading a neighbour's element does need one
    body = tir.seq(BufferStore(sh, A[tx] * 2.0, (tx,)),
                   BufferStore(A, sh[63 - tx], (tx,)))
    func = PrimFunc("neighbour", (A,), stage("A", bound(bx, 1, "blockIdx.x", Allocate(
        sh, bound(tx, 64, "threadIdx.x", body)))))
    result = inject_syncthreads(func)
    assert count_barriers(result) == 1
    (thread_loop,) = find_loops(result.body, "tx")
    assert kinds(thread_loop.body) == ["BufferStore", "sync", "BufferStore"]
    a = np.arange(64, dtype="float32")
    assert_barriers_are_needed_and_enough(func, result, a)
    np.testing.assert_array_equal(a, np.arange(64, dtype="float32")[::-1] * 2)


def test_two_threads_per_element_through_division_need_a_barrier():
    A = decl_buffer((64,), "float32", "A")
    sh = decl_buffer((32,), "float32", "sh", scope="shared")
    bx, tx = tir.var("bx"), tir.var("tx")
    body = tir.seq(IfThenElse(tx % 2 == 0, BufferStore(sh, A[tx], (tx // 2,))),
                   BufferStore(A, sh[tx // 2], (tx,)))
    func = PrimFunc("pairs", (A,), stage("A", bound(bx, 1, "blockIdx.x", Allocate(
        sh, bound(tx, 64, "threadIdx.x", body)))))
    assert count_barriers(inject_syncthreads(func)) == 1


def test_barrier_goes_before_a_guarded_block_not_inside_it():
    A = decl_buffer((64,), "float32", "A")
    sh = decl_buffer((64,), "float32", "sh", scope="shared")
    bx, tx = tir.var("bx"), tir.var("tx")
    body = tir.seq(BufferStore(sh, A[tx], (tx,)),
                   IfThenElse(tx < 32, BufferStore(A, sh[tx + 32], (tx,))))
    func = PrimFunc("guard", (A,), stage("A", bound(bx, 1, "blockIdx.x", Allocate(
        sh, bound(tx, 64, "threadIdx.x", body)))))
    result = inject_syncthreads(func)
    (thread_loop,) = find_loops(result.body, "tx")
    assert kinds(thread_loop.body) == ["BufferStore", "sync", "IfThenElse"]


def test_exchange_under_a_thread_dependent_condition_is_refused():
    A = decl_buffer((64,), "float32", "A")
    sh = decl_buffer((64,), "float32", "sh", scope="shared")
    bx, tx = tir.var("bx"), tir.var("tx")
    inner = tir.seq(BufferStore(sh, A[tx], (tx,)), BufferStore(A, sh[63 - tx], (tx,)))
    func = PrimFunc("bad", (A,), stage("A", bound(bx, 1, "blockIdx.x", Allocate(
        sh, bound(tx, 64, "threadIdx.x", IfThenElse(tx < 40, inner))))))
    with pytest.raises(BuildError, match=r"depends on the thread index"):
        inject_syncthreads(func)


def test_loop_carried_reuse_gets_a_barrier_at_the_top_of_the_loop():
    # each step overwrites the tile the previous step read from other threads' slots
    A = decl_buffer((8, 32), "float32", "A")
    sh = decl_buffer((32,), "float32", "sh", scope="shared")
    bx, tx, step = tir.var("bx"), tir.var("tx"), tir.var("step")
    body = serial(step, 8, tir.seq(BufferStore(sh, A[step, tx], (tx,)),
                                   BufferStore(A, sh[31 - tx], (step, tx))))
    func = PrimFunc("carry", (A,), stage("A", bound(bx, 1, "blockIdx.x", Allocate(
        sh, bound(tx, 32, "threadIdx.x", body)))))
    result = inject_syncthreads(func)
    (loop,) = find_loops(result.body, "step")
    assert kinds(loop.body) == ["sync", "BufferStore", "sync", "BufferStore"]
    a = np.arange(256, dtype="float32").reshape(8, 32)
    expected = a[:, ::-1].copy()
    assert_barriers_are_needed_and_enough(func, result, a)
    np.testing.assert_array_equal(a, expected)
