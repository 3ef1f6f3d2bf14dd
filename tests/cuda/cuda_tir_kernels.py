"""Hand-built thread-bound loop IR used by the CUDA backend tests.

Each builder returns a PrimFunc shaped like what the schedule lowering produces for a
GPU schedule: every stage wrapped in a ``stage`` attribute, loops bound to blockIdx /
threadIdx, shared tiles fetched cooperatively by the threads of a block.
"""
from __future__ import annotations

from tensorlang import tir
from tensorlang.tir import op
from tensorlang.tir import (Allocate, AttrStmt, BufferStore, For, ForKind, IfThenElse,
                            PrimFunc, decl_buffer)


def serial(var, extent, body, kind=ForKind.SERIAL):
    return For(var, op.const(0, var.dtype), op.convert(extent), kind, body)


def bound(var, extent, tag, body):
    return For(var, op.const(0, var.dtype), op.convert(extent), ForKind.THREAD_BINDING, body,
               thread_tag=tag)


def stage(name, body):
    return AttrStmt(name, "stage", op.const(0), body)


def elementwise(block=64, n=None):
    """``B[i] = A[i] * 2 + 1`` over a symbolic length with a guarded tail."""
    n = n if n is not None else tir.var("n")
    A = decl_buffer((n,), "float32", "A")
    B = decl_buffer((n,), "float32", "B")
    bx, tx = tir.var("i.outer"), tir.var("i.inner")
    i = bx * block + tx
    body = IfThenElse(i < n, BufferStore(B, A[i] * 2.0 + 1.0, (i,)))
    nest = bound(bx, (n + block - 1) // block, "blockIdx.x",
                 bound(tx, block, "threadIdx.x", body))
    return PrimFunc("scale", (A, B), stage("B", nest))


def vector_copy(n=1024, lanes=4, threads=64, offset=0):
    """``B[i] = A[i + offset] * 3`` with a Ramp of ``lanes`` lanes per thread."""
    A = decl_buffer((n + offset,), "float32", "A")
    B = decl_buffer((n,), "float32", "B")
    bx, tx = tir.var("bx"), tir.var("tx")
    base = (bx * threads + tx) * lanes
    index = op.ramp(base, 1, lanes)
    load = A[op.ramp(base + offset, 1, lanes)]
    store = BufferStore(B, load * op.broadcast(op.const(3.0), lanes), (index,))
    nest = bound(bx, n // (threads * lanes), "blockIdx.x", bound(tx, threads, "threadIdx.x",
                                                                  store))
    return PrimFunc("vector_copy", (A, B), stage("B", nest))


def row_sum(rows=None, cols=None, threads=64, barriers=False):
    """``B[r] = sum(A[r, :])``: one block per row, a strided partial sum per thread, then
    a shared-memory tree reduction (barriers written by hand when ``barriers``)."""
    rows = rows if rows is not None else tir.var("rows")
    cols = cols if cols is not None else tir.var("cols")
    A = decl_buffer((rows, cols), "float32", "A")
    B = decl_buffer((rows,), "float32", "B")
    red = decl_buffer((threads,), "float32", "red", scope="shared")
    part = decl_buffer((1,), "float32", "part", scope="local")
    r, t, c = tir.var("r"), tir.var("t"), tir.var("c")
    col = c * threads + t
    steps = [BufferStore(part, op.const(0.0), (op.const(0),)),
             serial(c, (cols + threads - 1) // threads, IfThenElse(
                 col < cols, BufferStore(part, part[0] + A[r, col], (op.const(0),)))),
             BufferStore(red, part[0], (t,))]
    s = threads // 2
    while s >= 1:
        if barriers:
            steps.append(sync())
        steps.append(IfThenElse(t < s, BufferStore(red, red[t] + red[t + s], (t,))))
        s //= 2
    if barriers:
        steps.append(sync())
    steps.append(IfThenElse(t == 0, BufferStore(B, red[0], (r,))))
    body = Allocate(red, bound(t, threads, "threadIdx.x", Allocate(part, tir.seq(*steps))))
    return PrimFunc("row_sum", (A, B), stage("B", bound(r, rows, "blockIdx.x", body)))


def sync():
    from tensorlang.target.cuda import syncthreads
    return syncthreads()


def tiled_matmul(M=None, N=None, K=None, tile=8, dtype="float32"):
    """``C = A @ B`` with ``tile`` x ``tile`` blocks of threads, each thread one output,
    the A and B tiles of each k step fetched into shared memory by all threads."""
    M = M if M is not None else tir.var("M")
    N = N if N is not None else tir.var("N")
    K = K if K is not None else tir.var("K")
    A = decl_buffer((M, K), dtype, "A")
    B = decl_buffer((K, N), dtype, "B")
    C = decl_buffer((M, N), dtype, "C")
    AS = decl_buffer((tile, tile), dtype, "A.shared", scope="shared")
    BS = decl_buffer((tile, tile), dtype, "B.shared", scope="shared")
    acc = decl_buffer((1,), dtype, "C.local", scope="local")
    by, bx, ty, tx = (tir.var(n) for n in ("i.outer", "j.outer", "i.inner", "j.inner"))
    ko, ki = tir.var("k.outer"), tir.var("k.inner")
    zero = op.const(0.0, dtype)
    ay, ax = tir.var("ax0"), tir.var("ax1")
    a_row, a_col = by * tile + ay, ko * tile + ax
    fetch_a = stage("A.shared", bound(ay, tile, "threadIdx.y", bound(ax, tile, "threadIdx.x",
        BufferStore(AS, op.select((a_row < M) & (a_col < K), A[a_row, a_col], zero),
                    (ay, ax)))))
    by2, bx2 = tir.var("ax0"), tir.var("ax1")
    b_row, b_col = ko * tile + by2, bx * tile + bx2
    fetch_b = stage("B.shared", bound(by2, tile, "threadIdx.y", bound(bx2, tile, "threadIdx.x",
        BufferStore(BS, op.select((b_row < K) & (b_col < N), B[b_row, b_col], zero),
                    (by2, bx2)))))
    compute = serial(ki, tile, BufferStore(acc, acc[0] + AS[ty, ki] * BS[ki, tx],
                                           (op.const(0),)))
    row, col = by * tile + ty, bx * tile + tx
    thread_body = Allocate(acc, tir.seq(
        BufferStore(acc, zero, (op.const(0),)),
        serial(ko, (K + tile - 1) // tile, tir.seq(fetch_a, fetch_b, compute)),
        IfThenElse((row < M) & (col < N), BufferStore(C, acc[0], (row, col)))))
    nest = bound(by, (M + tile - 1) // tile, "blockIdx.y",
                 bound(bx, (N + tile - 1) // tile, "blockIdx.x",
                       Allocate(AS, Allocate(BS, bound(ty, tile, "threadIdx.y",
                                                       bound(tx, tile, "threadIdx.x",
                                                             thread_body))))))
    return PrimFunc("matmul", (A, B, C), stage("C", nest))
