"""Loop partitioning: guards peeled into head/tail loops, main bodies guard-free."""
import numpy as np
import pytest

from tensorlang import tir
from tensorlang.tir import (BufferStore, For, ForKind, IfThenElse, PrimFunc, const,
                            decl_buffer, post_order_visit)
from tensorlang.tir.interpreter import interpret
from tensorlang.tir.transform.loop_partition import partition_loops
from tensorlang.tir.transform.simplify import simplify
from tensorlang.tir.verify import verify


def loop(var, extent, body, kind=ForKind.SERIAL):
    return For(var, const(0), const(extent) if isinstance(extent, int) else extent, kind,
               body)


def count(node, cls):
    found = []
    post_order_visit(node, lambda n: found.append(n) if isinstance(n, cls) else None)
    return len(found)


def run(func, *arrays):
    outs = [a.copy() if isinstance(a, np.ndarray) else a for a in arrays]
    interpret(func, *outs)
    return outs


def split_func(extent, factor, inner_kind=ForKind.SERIAL, symbolic=False):
    n = tir.var("n") if symbolic else extent
    A = decl_buffer((n,), "float32", "A")
    B = decl_buffer((n,), "float32", "B")
    xo, xi = tir.var("xo"), tir.var("xi")
    idx = xo * factor + xi
    body = IfThenElse(idx < n, BufferStore(B, A[idx] * 2.0 + 1.0, (idx,)))
    outer_extent = (n + factor - 1) // factor
    nest = loop(xo, outer_extent, loop(xi, factor, body, inner_kind))
    params = (A, B, n) if symbolic else (A, B)
    return PrimFunc("f", params, nest)


def test_split_tail_is_peeled():
    func = split_func(100, 8, ForKind.VECTORIZED)
    out = partition_loops(func)
    main, tail = out.body.seq
    assert main.extent.value == 12 and main.body.kind == ForKind.VECTORIZED
    assert count(main, IfThenElse) == 0
    # the single tail iteration becomes straight-line code over the 4 remaining lanes
    assert isinstance(tail, For) and tail.extent.value == 4
    assert tail.kind == ForKind.VECTORIZED and count(tail, IfThenElse) == 0
    a = np.arange(100, dtype="float32")
    want, = run(func, a, np.zeros(100, "float32"))[1:]
    got, = run(out, a, np.zeros(100, "float32"))[1:]
    np.testing.assert_array_equal(want, got)
    verify(out)


def test_divisible_split_has_no_tail():
    func = split_func(96, 8)
    out = simplify(func)
    assert count(out, IfThenElse) == 0
    assert partition_loops(out) is out


def test_symbolic_extent():
    func = split_func(0, 8, ForKind.VECTORIZED, symbolic=True)
    out = simplify(partition_loops(func))
    main = out.body.seq[0]
    assert tir.structural_equal(main.extent, func.params[2] // 8), out.script()
    assert count(main, IfThenElse) == 0 and main.body.kind == ForKind.VECTORIZED
    for n in (0, 5, 8, 37, 64):
        a = np.arange(n, dtype="float32")
        want = run(func, a, np.zeros(n, "float32"), n)[1]
        got = run(out, a, np.zeros(n, "float32"), n)[1]
        np.testing.assert_array_equal(want, got)


def test_tiles_with_two_guards():
    A = decl_buffer((30, 20), "float32", "A")
    B = decl_buffer((30, 20), "float32", "B")
    yo, xo, yi, xi = (tir.var(v) for v in ("yo", "xo", "yi", "xi"))
    y, x = yo * 8 + yi, xo * 8 + xi
    body = IfThenElse((y < 30) & (x < 20), BufferStore(B, A[y, x] + 1.0, (y, x)))
    nest = loop(yo, 4, loop(xo, 3, loop(yi, 8, loop(xi, 8, body, ForKind.VECTORIZED))))
    func = PrimFunc("f", (A, B), nest)
    out = simplify(partition_loops(func))
    first = out.body.seq[0]
    assert first.loop_var is yo and first.extent.value == 3
    assert count(first.body.seq[0], IfThenElse) == 0  # the full 8x8 tiles
    a = np.random.default_rng(0).standard_normal((30, 20)).astype("float32")
    want = run(func, a, np.zeros((30, 20), "float32"))[1]
    got = run(out, a, np.zeros((30, 20), "float32"))[1]
    np.testing.assert_array_equal(want, got)
    # every remaining guard sits outside vectorized loops
    def no_guard_in_vector_loop(node):
        if isinstance(node, For) and node.kind == ForKind.VECTORIZED:
            assert count(node, IfThenElse) == 0
    post_order_visit(out, no_guard_in_vector_loop)


def test_guard_with_lower_bound_is_peeled_at_the_head():
    # padding-like access: only 1 <= i < 33 reads A
    A = decl_buffer((32,), "float32", "A")
    B = decl_buffer((34,), "float32", "B")
    i = tir.var("i")
    body = IfThenElse((i >= 1) & (i < 33), BufferStore(B, A[i - 1], (i,)))
    func = PrimFunc("f", (A, B), loop(i, 34, body))
    out = simplify(partition_loops(func))
    assert count(out, IfThenElse) == 0, out.script()
    main = out.body
    assert main.min.value == 1 and main.extent.value == 32
    a = np.arange(32, dtype="float32")
    np.testing.assert_array_equal(run(func, a, np.zeros(34, "float32"))[1],
                                  run(out, a, np.zeros(34, "float32"))[1])


def test_likely_condition_of_select():
    A = decl_buffer((10,), "float32", "A")
    B = decl_buffer((16,), "float32", "B")
    i = tir.var("i")
    likely = tir.call_builtin("tl.likely", "bool", i < 10)
    value = tir.select(likely, A[tir.op.minimum(i, 9)], const(0.0, "float32"))
    func = PrimFunc("f", (A, B), loop(i, 16, BufferStore(B, value, (i,))))
    out = simplify(partition_loops(func))
    main = out.body.seq[0]
    assert main.extent.value == 10 and count(main, tir.Select) == 0, out.script()


def test_likely_condition_of_if():
    A = decl_buffer((20,), "float32", "A")
    io, ii = tir.var("io"), tir.var("ii")
    idx = io * 8 + ii
    cond = tir.call_builtin("tl.likely", "bool", idx < 20)
    func = PrimFunc("f", (A,), loop(io, 3, loop(ii, 8, IfThenElse(cond, BufferStore(
        A, A[idx] + 1.0, (idx,))))))
    out = simplify(partition_loops(func))
    assert count(out.body.seq[0], IfThenElse) == 0, out.script()
    a = np.arange(20, dtype="float32")
    np.testing.assert_array_equal(run(func, a)[0], run(out, a)[0])


def test_non_linear_guard_is_left_alone():
    A = decl_buffer((30,), "float32", "A")
    i = tir.var("i")
    func = PrimFunc("f", (A,), loop(i, 30, IfThenElse(i % 3 == 0, BufferStore(A, const(
        1.0, "float32"), (i,)))))
    assert partition_loops(func) is func


@pytest.mark.parametrize("extent", [50, 6])
def test_parallel_loop_keeps_every_iteration(extent):
    """A parallel loop is not cut: a peeled tail would run on one thread after it (and
    of a 2-iteration loop, one full tile and one partial, nothing would stay parallel).
    Its iterations branch to the guard-free unrolled body or to the guarded one."""
    func = split_func(extent, 4, ForKind.UNROLLED)
    func = func.replace(body=func.body.replace(kind=ForKind.PARALLEL))
    out = partition_loops(func)
    assert isinstance(out.body, For) and out.body.kind == ForKind.PARALLEL
    assert out.body.extent.value == -(-extent // 4)
    branch = out.body.body
    assert isinstance(branch, IfThenElse) and branch.else_case is not None
    main = branch.then_case
    assert main.kind == ForKind.UNROLLED and count(main, IfThenElse) == 0
    a = np.arange(extent, dtype="float32")
    want, = run(func, a, np.zeros(extent, "float32"))[1:]
    got, = run(out, a, np.zeros(extent, "float32"))[1:]
    np.testing.assert_array_equal(want, got)
    verify(out)


def test_outputs_are_well_formed():
    for func in (split_func(21, 4), split_func(0, 8, ForKind.VECTORIZED, symbolic=True)):
        out = partition_loops(func)
        verify(out)
        verify(simplify(out))


@pytest.mark.parametrize("extent, factor", [(1, 4), (7, 8), (9, 8), (33, 4), (64, 16),
                                            (17, 1), (100, 7)])
def test_split_shapes_compute_the_same(extent, factor):
    func = split_func(extent, factor)
    out = simplify(partition_loops(simplify(func)))
    a = np.arange(extent, dtype="float32")
    want = run(func, a, np.zeros(extent, "float32"))[1]
    got = run(out, a, np.zeros(extent, "float32"))[1]
    np.testing.assert_array_equal(want, got)
    assert count(out, IfThenElse) == 0, out.script()


def test_part_of_a_tail_where_the_guard_always_fails_is_dropped():
    # a symbolic extent split by 4 with an inner loop: in the last outer iteration the
    # inner loop runs [0, n - 4*xo) guard-free, and the rest, where the guard is false
    # everywhere, leaves no loop behind
    func = split_func(None, 4, symbolic=True)
    out = simplify(partition_loops(func))
    verify(out)
    assert count(out.body, IfThenElse) == 0, out
    for n in (1, 7, 8, 13):
        a = np.arange(n, dtype="float32")
        _, b, _ = run(out, a, np.zeros(n, "float32"), n)
        np.testing.assert_array_equal(b, a * 2.0 + 1.0)


def test_guard_that_depends_on_inner_loops_keeps_its_tail():
    # xo*4 + xi + j < n with j an inner loop: outside the main range the guard holds for
    # some j, so the tail must keep its body (partitioned further over j)
    n = tir.var("n")
    A = decl_buffer((n,), "float32", "A")
    B = decl_buffer((n,), "float32", "B")
    xo, xi, j = tir.var("xo"), tir.var("xi"), tir.var("j")
    idx = xo * 4 + xi
    body = loop(j, 2, IfThenElse(idx + j < n, BufferStore(B, A[idx + j] + 1.0, (idx + j,))))
    func = PrimFunc("f", (A, B, n), loop(xo, (n + 3) // 4, loop(xi, 4, body)))
    out = simplify(partition_loops(func))
    verify(out)
    for size in (1, 6, 9):
        a = np.arange(size, dtype="float32")
        _, b, _ = run(out, a, np.zeros(size, "float32"), size)
        np.testing.assert_array_equal(b, a + 1.0)


def test_vectorized_loop_with_expression_guards_stays_whole():
    """Padding read inside a vector (``likely`` in a select) becomes masked lanes: the
    vectorized loop keeps its width instead of being peeled into odd-width pieces."""
    A = decl_buffer((16,), "float32", "A")
    B = decl_buffer((8,), "float32", "B")
    j = tir.var("j")
    index = j * 2 - 1
    value = tir.select(tir.op.likely(index >= 0), A[index], const(0.0, "float32"))
    func = PrimFunc("f", (A, B), loop(j, 8, BufferStore(B, value, (j,)),
                                     ForKind.VECTORIZED))
    out = simplify(partition_loops(func))
    assert isinstance(out.body, For) and out.body.extent.value == 8, out.script()
    a = np.arange(16, dtype="float32")
    np.testing.assert_array_equal(run(func, a, np.zeros(8, "float32"))[1],
                                  run(out, a, np.zeros(8, "float32"))[1])


def test_vectorized_loop_with_if_guard_is_still_partitioned():
    A = decl_buffer((12,), "float32", "A")
    j = tir.var("j")
    func = PrimFunc("f", (A,), loop(j, 16, IfThenElse(j < 12, BufferStore(
        A, A[j] + 1.0, (j,))), ForKind.VECTORIZED))
    out = simplify(partition_loops(func))
    assert count(out, IfThenElse) == 0, out.script()


def test_likely_partitions_stay_within_the_growth_budget():
    """Peeling copies a loop's body: for likely guards alone, only while the statements
    the copies run stay within the budget (a pooling window, not a convolution's whole
    reduction)."""
    from tensorlang.tir.transform.loop_partition import LIKELY_GROWTH_BUDGET

    def padded_rows(inner):
        A = decl_buffer((40, 64), "float32", "A")
        B = decl_buffer((40, 64), "float32", "B")
        i, j = tir.var("i"), tir.var("j")
        value = tir.select(tir.op.likely(i >= 1), A[i - 1, j], const(0.0, "float32"))
        store = BufferStore(B, B[i, j] + value, (i, j))
        return PrimFunc("f", (A, B), loop(i, 40, loop(j, inner, store)))

    small = simplify(partition_loops(padded_rows(8)))
    assert count(small, For) == 3 and count(small, tir.Select) == 0, small.script()
    big = padded_rows(LIKELY_GROWTH_BUDGET)
    assert partition_loops(big) is big
    a = np.arange(40 * 64, dtype="float32").reshape(40, 64)
    np.testing.assert_array_equal(run(padded_rows(8), a, np.ones((40, 64), "float32"))[1],
                                  run(small, a, np.ones((40, 64), "float32"))[1])


def test_if_guard_tail_is_peeled_when_window_guards_admit_no_full_iteration():
    # 56 outputs in 2 vectors of 32, each reading x[2 * i - 1] (a padded stride-2 window):
    # the padding guard holds from the second vector on, the row guard only on the first;
    # the row guard's tail is still peeled, so the first vector runs unguarded
    A = decl_buffer((112,), "float32", "A")
    B = decl_buffer((56,), "float32", "B")
    xo, xi = tir.var("xo"), tir.var("xi")
    idx = xo * 32 + xi
    likely = tir.call_builtin("tl.likely", "bool", idx * 2 - 1 >= 0)
    value = tir.select(likely, A[tir.op.maximum(idx * 2 - 1, 0)], const(0.0, "float32"))
    func = PrimFunc("f", (A, B), loop(xo, 2, loop(xi, 32, IfThenElse(
        idx < 56, BufferStore(B, value, (idx,))), ForKind.VECTORIZED)))
    out = simplify(partition_loops(func))
    first = out.body.seq[0]
    assert count(first, IfThenElse) == 0, out.script()
    a = np.arange(112, dtype="float32")
    np.testing.assert_array_equal(run(func, a, np.zeros(56, "float32"))[1],
                                  run(out, a, np.zeros(56, "float32"))[1])
    verify(out)
