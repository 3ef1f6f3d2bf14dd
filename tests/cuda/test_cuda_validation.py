"""Must-fail cases of CUDA builds: each error names the stage and the loop or buffer, and
says what to change."""
from __future__ import annotations

import numpy as np
import pytest

from tensorlang import tir
from tensorlang.errors import BuildError
from tensorlang.tir import op
from tensorlang.tir import Allocate, BufferStore, PrimFunc, decl_buffer
from tensorlang.target.cuda import build, emulate

from cuda_tir_kernels import bound, serial, stage, tiled_matmul


def copy_kernel(threads_x=32, threads_y=1, name="copy"):
    A = decl_buffer((4, threads_y, threads_x), "float32", "A")
    bx, ty, tx = tir.var("bx"), tir.var("ty"), tir.var("tx")
    store = BufferStore(A, A[bx, ty, tx] + 1.0, (bx, ty, tx))
    inner = bound(tx, threads_x, "threadIdx.x", store)
    if threads_y > 1:
        inner = bound(ty, threads_y, "threadIdx.y", inner)
    else:
        inner = tir.substitute(inner, {ty: op.const(0)})
    return PrimFunc(name, (A,), stage("A", bound(bx, 4, "blockIdx.x", inner)))


def test_unbound_host_loop_names_stage_and_loop():
    n = tir.var("n")
    A = decl_buffer((n,), "float32", "A")
    i = tir.var("i.outer")
    func = PrimFunc("f", (A,), stage("relu", serial(i, n, BufferStore(
        A, op.maximum(A[i], 0.0), (i,)))))
    with pytest.raises(BuildError, match=r"stage 'relu': loop 'i.outer'.*bind it to "
                                         r"blockIdx/threadIdx"):
        build(func, "cuda")


def test_serial_loop_around_a_kernel_is_unbound():
    A = decl_buffer((4, 32), "float32", "A")
    outer, tx = tir.var("k"), tir.var("tx")
    func = PrimFunc("f", (A,), stage("B", serial(outer, 4, bound(
        tx, 32, "threadIdx.x", BufferStore(A, A[outer, tx] * 2.0, (outer, tx))))))
    with pytest.raises(BuildError, match=r"stage 'B': loop 'k' \(a serial loop\).*bind it"):
        build(func, "cuda")


def test_more_than_1024_threads_per_block():
    with pytest.raises(BuildError, match=r"stage 'A'.*2048 threads per block.*'tx' -> "
                                         r"threadIdx.x.*'ty' -> threadIdx.y.*limit of 1024"):
        build(copy_kernel(threads_x=32, threads_y=64), "cuda")
    with pytest.raises(BuildError, match=r"stage 'A': loop 'tx' binds 2048 threads to "
                                         r"'threadIdx.x'.*split the axis"):
        build(copy_kernel(threads_x=2048), "cuda")
    # the device limit of the target applies
    with pytest.raises(BuildError, match=r"256 threads per block.*limit of 128"):
        build(copy_kernel(threads_x=256), "cuda -max-threads-per-block=128")
    assert build(copy_kernel(threads_x=1024), "cuda") is not None


def test_threads_per_block_of_symbolic_extent_is_checked_at_launch():
    n = tir.var("n")
    A = decl_buffer((n,), "float32", "A")
    tx = tir.var("tx")
    func = PrimFunc("f", (A,), stage("A", bound(tx, n, "threadIdx.x", BufferStore(
        A, A[tx] + 1.0, (tx,)))))
    mod = build(func, "cuda")
    a = np.zeros(64, "float32")
    mod.emulate(a)
    assert (a == 1).all()
    with pytest.raises(BuildError, match=r"stage 'A'.*2000 threads per block"):
        mod.emulate(np.zeros(2000, "float32"))


def test_shared_memory_over_48_kib():
    func = tiled_matmul(tile=80)  # two 80x80 float tiles: 51200 bytes
    with pytest.raises(BuildError, match=r"stage 'C'.*51200 bytes of shared memory.*"
                                         r"'A.shared' \(25600 bytes.*more than the 49152"):
        build(func, "cuda -max-threads-per-block=6400")
    # a device with more shared memory per block accepts it
    mod = build(func, "cuda -max-threads-per-block=6400 -max-shared-memory=101376")
    assert mod.program.kernels[0].shared_bytes == 51200


def test_same_thread_tag_with_different_extents():
    A = decl_buffer((64,), "float32", "A")
    B = decl_buffer((64,), "float32", "B")
    bx, tx, tx2 = tir.var("bx"), tir.var("tx"), tir.var("ax0")
    body = tir.seq(bound(tx, 32, "threadIdx.x", BufferStore(A, A[tx] + 1.0, (tx,))),
                   stage("B", bound(tx2, 64, "threadIdx.x", BufferStore(B, A[tx2], (tx2,)))))
    func = PrimFunc("f", (A, B), stage("A", bound(bx, 1, "blockIdx.x", body)))
    with pytest.raises(BuildError, match=r"stage 'B': loop 'ax0' is bound to 'threadIdx.x' "
                                         r"with extent 64, but loop 'tx' of stage 'A' binds "
                                         r"'threadIdx.x' with extent 32"):
        build(func, "cuda")


def test_local_buffer_of_symbolic_size():
    n = tir.var("n")
    A = decl_buffer((n,), "float32", "A")
    regs = decl_buffer((n,), "float32", "regs", scope="local")
    tx = tir.var("tx")
    func = PrimFunc("f", (A,), stage("A.local", bound(tx, 32, "threadIdx.x", Allocate(
        regs, BufferStore(regs, A[tx], (tx,))))))
    with pytest.raises(BuildError, match=r"stage 'A.local': local buffer 'regs' has the "
                                         r"non-constant size n"):
        build(func, "cuda")


def test_global_allocation_inside_a_kernel():
    A = decl_buffer((32,), "float32", "A")
    tmp = decl_buffer((32,), "float32", "tmp")
    tx = tir.var("tx")
    func = PrimFunc("f", (A,), stage("T", bound(tx, 32, "threadIdx.x", Allocate(
        tmp, BufferStore(tmp, A[tx], (tx,))))))
    with pytest.raises(BuildError, match=r"stage 'T': buffer 'tmp' is allocated in global "
                                         r"memory inside a GPU kernel"):
        build(func, "cuda")


def test_shared_buffer_spanning_two_kernels():
    A = decl_buffer((32,), "float32", "A")
    sh = decl_buffer((32,), "float32", "A.shared", scope="shared")
    tx, tx2 = tir.var("tx"), tir.var("tx2")
    func = PrimFunc("f", (A,), Allocate(sh, tir.seq(
        stage("A.shared", bound(tx, 32, "threadIdx.x", BufferStore(sh, A[tx], (tx,)))),
        stage("A", bound(tx2, 32, "threadIdx.x", BufferStore(A, sh[tx2], (tx2,)))))))
    with pytest.raises(BuildError, match=r"shared buffer 'A.shared'.*used by 2 of them.*"
                                         r"compute_at"):
        build(func, "cuda")


def test_unknown_target_and_input():
    with pytest.raises(BuildError, match=r"cannot build for target 'llvm'"):
        build(copy_kernel(), "llvm")
    with pytest.raises(BuildError, match=r"builds a lowered PrimFunc"):
        build("not a function", "cuda")
    with pytest.raises(BuildError, match=r"unknown CUDA build option 'unroll'"):
        build(copy_kernel(), "cuda", unroll=True)


def test_loop_free_host_statement_becomes_a_single_thread_kernel():
    A = decl_buffer((1,), "float32", "A")
    func = PrimFunc("init", (A,), stage("A", BufferStore(A, op.const(3.0), (op.const(0),))))
    mod = build(func, "cuda")
    a = np.zeros(1, "float32")
    mod.emulate(a)
    assert a[0] == 3.0
    assert "init_kernel0" in mod.get_source()


def test_emulate_checks_the_same_rules():
    with pytest.raises(BuildError, match=r"2048 threads per block"):
        emulate(copy_kernel(threads_x=32, threads_y=64), np.zeros((4, 64, 32), "float32"))


def test_shared_tiles_of_a_schedule_over_the_limit_name_the_loop():
    import tensorlang as tl
    from tensorlang import te
    A = te.placeholder((256, 256), name="A")
    B = te.placeholder((256, 256), name="B")
    k = te.reduce_axis((0, 256), name="k")
    C = te.compute((256, 256), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    s = te.create_schedule(C)
    CL = s.cache_write(C, "local")
    AS, BS = (s.cache_read(t, "shared", [CL]) for t in (A, B))
    i, j = s[C].op.axis
    bi, ti = s[C].split(i, factor=128)
    bj, tj = s[C].split(j, factor=128)
    ty, _ = s[C].split(ti, nparts=16)
    tx, _ = s[C].split(tj, nparts=16)
    s[C].reorder(bi, bj, ty, tx)
    for axis, tag in ((bi, "blockIdx.y"), (bj, "blockIdx.x"), (ty, "threadIdx.y"),
                      (tx, "threadIdx.x")):
        s[C].bind(axis, te.thread_axis(tag))
    s[CL].compute_at(s[C], tx)
    # two tiles of about 128 x 64 floats: over 48 KiB
    ko, _ = s[CL].split(s[CL].op.reduce_axis[0], factor=64)
    for cached in (AS, BS):
        s[cached].compute_at(s[CL], ko)
        fused = s[cached].fuse(*s[cached].op.axis)
        _, fx = s[cached].split(fused, factor=16)
        s[cached].bind(fx, te.thread_axis("threadIdx.x"))
    with pytest.raises(BuildError, match=r"stage 'C'.* bytes of shared memory "
                                         r"\('A.shared' \(\d+ bytes, allocated in loop "
                                         r"'k.outer' of stage 'C.local'\).*more than the "
                                         r"49152 bytes.*smaller split factors"):
        build(tl.lower(s, [A, B, C]), "cuda")
