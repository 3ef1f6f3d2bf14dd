"""Parallel loops: outlined bodies run by libgomp threads, nested and sibling loops,
captured scalars and buffers, per-thread allocations, thread counts, the GIL."""
import threading
import time

import numpy as np
import pytest

from tensorlang import tir
from tensorlang.tir import stmt as S

from llvm_testing import PARALLEL, buffer, compile_and_run, func, loop, store


@pytest.fixture(params=["1", "2", "3"])
def thread_count(request, monkeypatch):
    monkeypatch.setenv("TL_NUM_THREADS", request.param)
    return int(request.param)


def _scaled_copy(n):
    A, Out = buffer("A", (n,)), buffer("Out", (n,))
    i = tir.var("i")
    return func("par_scale", [A, Out], loop(i, n, store(Out, A[i] * 3.0 + 1.0, i), PARALLEL))


@pytest.mark.parametrize("size", [0, 1, 2, 5, 1000])
def test_parallel_loop_covers_every_iteration_once(size, thread_count):
    n = tir.var("n")
    f = _scaled_copy(n)
    a = np.arange(size, dtype="float32")
    out = np.full(size, -7, dtype="float32")
    compile_and_run(f, a, out)
    np.testing.assert_array_equal(out, a * 3 + 1)


def test_nested_parallel_loops_run_inner_serially(thread_count):
    A, Out = buffer("A", (9, 13), "int32"), buffer("Out", (9, 13), "int32")
    i, j = tir.var("i"), tir.var("j")
    body = loop(i, 9, loop(j, 13, store(Out, A[i, j] + i * 100, i, j), PARALLEL), PARALLEL)
    f = func("nested", [A, Out], body)
    a = np.arange(9 * 13, dtype="int32").reshape(9, 13)
    out = np.zeros_like(a)
    mod = compile_and_run(f, a, out)
    np.testing.assert_array_equal(out, a + np.arange(9)[:, None] * 100)
    # one region: a single launch function
    assert mod.get_source("ll").count("define internal void @nested_parallel_launch") == 1


def test_sibling_parallel_loops_and_parallel_inside_serial_loop(thread_count):
    n = 64
    A, Tmp, Out = buffer("A", (n,)), buffer("Tmp", (n,)), buffer("Out", (4, n))
    i, j, r, s = tir.var("i"), tir.var("j"), tir.var("r"), tir.var("s")
    first = loop(i, n, store(Tmp, A[i] * 2.0, i), PARALLEL)
    # the second loop reads neighbours written by other threads of the first region
    second = loop(r, 4, loop(j, n, store(Out, Tmp[(j + r) % n] + r.astype("float32"), r, j),
                             PARALLEL))
    f = func("siblings", [A, Tmp, Out], S.seq(first, second))
    a = np.arange(n, dtype="float32")
    tmp = np.zeros(n, "float32")
    out = np.zeros((4, n), "float32")
    compile_and_run(f, a, tmp, out)
    expected = np.stack([np.roll(a * 2, -r) + r for r in range(4)])
    np.testing.assert_array_equal(out, expected)
    del s


def test_captured_let_values_and_scalar_parameters(thread_count):
    n = tir.var("n")
    scale = tir.var("scale", "float32")
    A, Out = buffer("A", (n,)), buffer("Out", (n,))
    i, offset = tir.var("i"), tir.var("offset", "float32")
    body = S.LetStmt(offset, scale * 10.0,
                     loop(i, n, store(Out, A[i] * scale + offset, i), PARALLEL))
    f = func("captured", [A, Out, scale], body)
    a = np.arange(50, dtype="float32")
    out = np.zeros(50, "float32")
    compile_and_run(f, a, out, 0.5)
    np.testing.assert_allclose(out, a * 0.5 + 5)


def test_allocations_inside_and_outside_parallel_regions(thread_count):
    rows, cols = 16, 40000  # the shared buffer is large (heap), the per-row one small
    A, Out = buffer("A", (rows, 8)), buffer("Out", (rows,))
    Shared = buffer("Shared", (cols,))
    Row = buffer("Row", (8,), scope="local")
    i, j, k, c = tir.var("i"), tir.var("j"), tir.var("k"), tir.var("c")
    fill = loop(c, cols, store(Shared, c.astype("float32"), c), PARALLEL)
    per_row = S.Allocate(Row, S.seq(
        loop(j, 8, store(Row, A[i, j] * 2.0, j)),
        store(Out, tir.const(0.0, "float32"), i),
        loop(k, 8, store(Out, Out[i] + Row[k] + Shared[i * 1000], i))))
    body = S.Allocate(Shared, S.seq(fill, loop(i, rows, per_row, PARALLEL)))
    f = func("allocs", [A, Out], body)
    a = np.random.default_rng(0).random((rows, 8)).astype("float32")
    out = np.zeros(rows, "float32")
    compile_and_run(f, a, out)
    expected = (a * 2).sum(axis=1) + 8 * np.arange(rows) * 1000
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_heap_buffers_of_a_parallel_body_are_reused_across_iterations(thread_count):
    """A buffer too large for the stack inside a parallel loop is allocated once per
    thread and reused by every iteration the thread runs; each iteration still sees only
    what it wrote."""
    rows, cols = 23, 20000
    A, Out = buffer("A", (rows, cols)), buffer("Out", (rows,))
    Tmp = buffer("Tmp", (cols,), scope="global")
    i, j, k = tir.var("i"), tir.var("j"), tir.var("k")
    per_row = S.Allocate(Tmp, S.seq(
        loop(j, cols, store(Tmp, A[i, j] + i.astype("float32"), j)),
        store(Out, tir.const(0.0, "float32"), i),
        loop(k, cols, store(Out, Out[i] + Tmp[k], i))))
    f = func("heap_rows", [A, Out], loop(i, rows, per_row, PARALLEL))
    a = np.random.default_rng(0).random((rows, cols)).astype("float32")
    out = np.zeros(rows, "float32")
    compile_and_run(f, a, out)
    expected = a.astype(np.float64).sum(axis=1) + cols * np.arange(rows)
    np.testing.assert_allclose(out, expected, rtol=1e-4)


def test_a_parallel_body_buffer_too_large_to_allocate_raises(thread_count):
    n = tir.var("n")
    A, Out = buffer("A", (n,)), buffer("Out", (n,))
    Huge = buffer("Huge", (1 << 58,), scope="global")
    i, j = tir.var("i"), tir.var("j")
    body = S.Allocate(Huge, S.seq(loop(j, n, store(Huge, A[j], j)),
                                  store(Out, Huge[n - 1 - i], i)))
    f = func("huge_rows", [A, Out], loop(i, n, body, PARALLEL))
    with pytest.raises(MemoryError, match="Huge"):
        compile_and_run(f, np.zeros(4, "float32"), np.zeros(4, "float32"))


def test_out_of_bounds_inside_a_parallel_loop_raises(thread_count):
    A, Out = buffer("A", (10,)), buffer("Out", (10,))
    i = tir.var("i")
    f = func("oob_par", [A, Out], loop(i, 10, store(Out, A[i + 1], i), PARALLEL))
    with pytest.raises(IndexError, match="index 10 .* dimension 0 of buffer 'A'"):
        compile_and_run(f, np.zeros(10, "float32"), np.zeros(10, "float32"),
                        bounds_check=True)


def test_calls_release_the_gil():
    n = tir.var("n")
    A, Out = buffer("A", (n,), "float64"), buffer("Out", (n,), "float64")
    i, r = tir.var("i"), tir.var("r")
    # many passes over the data keep the call busy for a while
    body = loop(r, 400, loop(i, n, store(Out, Out[i] * 0.5 + A[i], i)))
    from tensorlang.target.llvm import build
    mod = build(func("busy", [A, Out], body), "llvm", use_cache=False)
    a, out = np.ones(200_000), np.zeros(200_000)
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0)

    counter = threading.Thread(target=count)
    counter.start()
    start = time.perf_counter()
    mod(a, out)
    elapsed = time.perf_counter() - start
    done.set()
    counter.join()
    np.testing.assert_allclose(out, 2 * (1 - 0.5 ** 400))
    # while compiled code ran, the Python thread kept running
    assert ticks > 10 or elapsed < 0.005
