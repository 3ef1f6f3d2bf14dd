"""Property tests: partitioning random guarded loop nests never changes what they compute."""
import numpy as np
from hypothesis import given, settings, strategies as st

import tensorlang as tl
from tensorlang import te, tir
from tensorlang.tir import (BufferStore, For, ForKind, IfThenElse, PrimFunc, const,
                            decl_buffer, post_order_visit)
from tensorlang.tir.interpreter import interpret
from tensorlang.tir.transform.loop_partition import partition_loops
from tensorlang.tir.transform.simplify import simplify
from tensorlang.tir.verify import verify

KINDS = [ForKind.SERIAL, ForKind.VECTORIZED, ForKind.UNROLLED, ForKind.PARALLEL]


def guarded_tiles(rows, cols, row_factor, col_factor, inner_kind, offset):
    """What lowering a 2-D tiling with non-dividing factors produces: a guard per axis
    (one of them written with a lower bound, as padding does)."""
    A = decl_buffer((rows + offset, cols), "float32", "A")
    B = decl_buffer((rows + offset, cols), "float32", "B")
    yo, xo, yi, xi = (tir.var(v) for v in ("yo", "xo", "yi", "xi"))
    y, x = yo * row_factor + yi, xo * col_factor + xi
    cond = (y + offset >= offset) & (y < rows) & (x < cols)
    body = IfThenElse(cond, BufferStore(B, A[y + offset, x] * 2.0 + 1.0, (y + offset, x)))
    nest = For(yo, const(0), const(-(-rows // row_factor)), ForKind.SERIAL,
               For(xo, const(0), const(-(-cols // col_factor)), ForKind.SERIAL,
                   For(yi, const(0), const(row_factor), ForKind.SERIAL,
                       For(xi, const(0), const(col_factor), inner_kind, body))))
    return PrimFunc("tiles", (A, B), nest)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 19), st.integers(1, 19), st.integers(1, 8), st.integers(1, 8),
       st.sampled_from(KINDS), st.integers(0, 3))
def test_partitioned_tiles_compute_the_same(rows, cols, row_factor, col_factor, kind,
                                            offset):
    func = guarded_tiles(rows, cols, row_factor, col_factor, kind, offset)
    out = simplify(partition_loops(simplify(func)))
    verify(out)
    a = np.random.default_rng(rows * 31 + cols).standard_normal(
        (rows + offset, cols)).astype("float32")
    want = np.zeros_like(a)
    got = np.zeros_like(a)
    interpret(func, a, want)
    interpret(out, a, got)
    np.testing.assert_array_equal(want, got)

    # vectorized / unrolled loops never keep a guard after partitioning
    def check(node):
        if isinstance(node, For) and node.kind in (ForKind.VECTORIZED, ForKind.UNROLLED):
            guards = []
            post_order_visit(node.body, lambda n: guards.append(n)
                             if isinstance(n, IfThenElse) else None)
            assert not guards, out.script()
    post_order_visit(out, check)


def test_lowered_blocked_matmul_main_body_is_clean():
    n = 100
    A = te.placeholder((n, n), name="A")
    B = te.placeholder((n, n), name="B")
    k = te.reduce_axis((0, n), name="k")
    C = te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    s = tl.create_schedule(C)
    i, j = C.op.axis
    io, jo, ii, ji = s[C].tile(i, j, 32, 32)
    ko, ki = s[C].split(k, factor=8)
    s[C].reorder(io, jo, ko, ii, ki, ji)
    s[C].vectorize(ji)
    func = tl.lower(s, [A, B, C])
    verify(func)
    text = func.script()
    assert "// 32" not in text and "% 32" not in text, text
    # the first nest is the main part: no guard anywhere inside it
    first = func.body
    while not isinstance(first, For):
        first = first.body if not isinstance(first, tir.SeqStmt) else first.seq[0]
    guards = []
    post_order_visit(first, lambda node: guards.append(node)
                     if isinstance(node, (IfThenElse, tir.Select)) else None)
    assert not guards, text
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype("float32")
    b = rng.standard_normal((n, n)).astype("float32")
    c = np.zeros((n, n), "float32")
    interpret(func, a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)
