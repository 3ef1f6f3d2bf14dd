"""compute_at / compute_inline / compute_root and the regions bound inference gives."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import te
from tensorlang.schedule.bound import infer_bounds, inline_bodies
from tensorlang.tir import stmt as S
from tensorlang.tir.functor import post_order_visit


def allocations(func):
    found = {}
    post_order_visit(func.body, lambda n: found.__setitem__(n.buffer.name, n.buffer)
                     if isinstance(n, S.Allocate) else None)
    return found


def region_extents(s, stage):
    bounds = infer_bounds(s, inline_bodies(s))
    result = []
    for iv in s[stage].op.axis:
        extent = bounds.ranges[iv][1]
        assert extent.is_const(), f"{iv} has a symbolic extent"
        result.append(extent.const)
    return result


def blur(n=20):
    A = te.placeholder((n, n), name="A")
    B = te.compute((n, n), lambda y, x: A[y, x] * 2.0, name="B")
    C = te.compute((n - 2, n - 2), lambda y, x: B[y, x] + B[y + 1, x + 1] + B[y + 2, x + 2],
                   name="C")
    return A, B, C


def test_compute_at_stencil_region_has_halo(check):
    A, B, C = blur()
    s = tl.create_schedule(C)
    yo, xo, yi, xi = s[C].tile(C.op.axis[0], C.op.axis[1], 4, 4)
    s[B].compute_at(s[C], xo)
    assert region_extents(s, B) == [6, 6]  # 4 + halo of 2
    func = check(s, [A], [C])
    assert [e.value for e in allocations(func)["B"].shape] == [6, 6]


def test_compute_at_outer_loop_region(check):
    A, B, C = blur()
    s = tl.create_schedule(C)
    yo, yi = s[C].split(C.op.axis[0], factor=5)
    s[B].compute_at(s[C], yo)
    assert region_extents(s, B) == [7, 20]
    check(s, [A], [C])


def test_compute_at_non_divisible_split_is_guarded(check):
    A, B, C = blur(23)
    s = tl.create_schedule(C)
    yo, xo, yi, xi = s[C].tile(C.op.axis[0], C.op.axis[1], 4, 8)
    s[B].compute_at(s[C], xo)
    check(s, [A], [C])


def test_strided_access_region(check):
    A = te.placeholder((40,), name="A")
    B = te.compute((40,), lambda i: A[i] + 1.0, name="B")
    C = te.compute((19,), lambda i: B[2 * i] + B[2 * i + 1] + B[2 * i + 2], name="C")
    s = tl.create_schedule(C)
    co, ci = s[C].split(C.op.axis[0], factor=4)
    s[B].compute_at(s[C], co)
    assert region_extents(s, B) == [9]  # 2*3 + 2 + 1
    check(s, [A], [C])


def test_compute_at_reduction_consumer(check):
    A = te.placeholder((16, 12), name="A")
    B = te.compute((16, 12), lambda i, k: A[i, k] * A[i, k], name="B")
    r = te.reduce_axis((0, 12), name="r")
    C = te.compute((16,), lambda i: te.sum(B[i, r], axis=r), name="C")
    s = tl.create_schedule(C)
    io, ii = s[C].split(C.op.axis[0], factor=4)
    ro, ri = s[C].split(C.op.reduce_axis[0], factor=5)
    s[C].reorder(io, ro, ii, ri)
    s[B].compute_at(s[C], ro)
    assert region_extents(s, B) == [4, 5]
    check(s, [A], [C])


def test_chained_compute_at(check):
    A = te.placeholder((30,), name="A")
    B = te.compute((30,), lambda i: A[i] + 1.0, name="B")
    C = te.compute((29,), lambda i: B[i] * B[i + 1], name="C")
    D = te.compute((28,), lambda i: C[i] - C[i + 1], name="D")
    s = tl.create_schedule(D)
    do, di = s[D].split(D.op.axis[0], factor=8)
    s[C].compute_at(s[D], do)
    co, ci = s[C].split(s[C].op.axis[0], factor=3)
    s[B].compute_at(s[C], co)
    assert region_extents(s, C) == [9]
    assert region_extents(s, B) == [4]
    check(s, [A], [D])


def test_producer_attached_at_root_reads_consumer_attach(check):
    A = te.placeholder((30,), name="A")
    B = te.compute((30,), lambda i: A[i] + 1.0, name="B")
    C = te.compute((30,), lambda i: B[i] * 2.0, name="C")
    D = te.compute((30,), lambda i: C[i] + B[i], name="D")
    s = tl.create_schedule(D)
    do, di = s[D].split(D.op.axis[0], factor=7)
    s[C].compute_at(s[D], do)
    check(s, [A], [D])


def test_compute_inline(check):
    A, B, C = blur()
    s = tl.create_schedule(C)
    s[B].compute_inline()
    func = check(s, [A], [C])
    assert "B" not in allocations(func)
    assert "A[" in str(func)


def test_inline_chain_and_compute_at_through_inlined(check):
    A = te.placeholder((20,), name="A")
    B = te.compute((20,), lambda i: A[i] + 1.0, name="B")
    C = te.compute((20,), lambda i: B[i] * 2.0, name="C")
    D = te.compute((19,), lambda i: C[i] + C[i + 1], name="D")
    s = tl.create_schedule(D)
    s[C].compute_inline()
    do, di = s[D].split(D.op.axis[0], factor=5)
    s[B].compute_at(s[D], do)  # D reads B through the inlined C
    assert region_extents(s, B) == [6]
    check(s, [A], [D])


def test_compute_root_undoes_compute_at(check):
    A, B, C = blur()
    s = tl.create_schedule(C)
    yo, yi = s[C].split(C.op.axis[0], factor=5)
    s[B].compute_at(s[C], yo)
    s[B].compute_root()
    func = check(s, [A], [C])
    assert [e.value for e in allocations(func)["B"].shape] == [20, 20]


def test_padding_stage_inlined_into_conv(check):
    data = te.placeholder((1, 2, 6, 6), name="data")
    kernel = te.placeholder((3, 2, 3, 3), name="kernel")
    pad = te.compute((1, 2, 8, 8), lambda b, c, y, x: te.if_then_else(
        te.all(y >= 1, y < 7, x >= 1, x < 7), data[b, c, y - 1, x - 1], 0.0), name="pad")
    rc = te.reduce_axis((0, 2), name="rc")
    ry = te.reduce_axis((0, 3), name="ry")
    rx = te.reduce_axis((0, 3), name="rx")
    conv = te.compute((1, 3, 6, 6), lambda b, f, y, x: te.sum(
        pad[b, rc, y + ry, x + rx] * kernel[f, rc, ry, rx], axis=[rc, ry, rx]), name="conv")
    s = tl.create_schedule(conv)
    b, f, y, x = s[conv].op.axis
    yo, yi = s[conv].split(y, factor=4)
    s[pad].compute_at(s[conv], yo)
    check(s, [data, kernel], [conv])
    s2 = tl.create_schedule(conv)
    s2[pad].compute_inline()
    check(s2, [data, kernel], [conv])


def test_lowering_error_when_consumer_runs_outside_attach_point():
    A = te.placeholder((10,), name="A")
    B = te.compute((10,), lambda i: A[i] + 1.0, name="B")
    C = te.compute((10,), lambda i: B[i] * 2.0, name="C")
    D = te.compute((10,), lambda i: B[i] + C[i], name="D")
    s = tl.create_schedule(D)
    s[B].compute_at(s[C], s[C].op.axis[0])  # but D reads B too
    with pytest.raises(tl.LoweringError, match=r"consumer 'D' reads it outside that loop.*"
                                               r"s\[B\]\.compute_root\(\)"):
        tl.lower(s, [A, D])


def softmax_stages(rows=4, cols=16):
    from tensorlang import ops
    x = te.placeholder((rows, cols), name="x")
    out = ops.softmax(x)
    exp, expsum = out.op.input_tensors
    maxelem = exp.op.input_tensors[1]
    return x, maxelem, exp, expsum, out


def test_compute_at_chain_on_softmax_whose_middle_stage_has_another_consumer():
    """``exp`` is read by ``expsum`` and by the output: computed at ``expsum``'s row loop
    (itself inside the output's row loop) its buffer would not exist where the output
    reads it.  Lowering says where to compute it instead (it raised InternalError from
    code generation)."""
    x, maxelem, exp, expsum, out = softmax_stages()
    s = tl.create_schedule(out)
    s[expsum].compute_at(s[out], out.op.axis[0])
    s[exp].compute_at(s[expsum], expsum.op.axis[0])
    s[maxelem].compute_at(s[exp], exp.op.axis[0])
    with pytest.raises(tl.LoweringError,
                       match=r"stage 'T_softmax_exp' is computed at axis 'i0' of stage "
                             r"'T_softmax_expsum', but its consumer 'T_softmax' reads it "
                             r"outside that loop.*"
                             r"s\[T_softmax_exp\]\.compute_at\(s\[T_softmax\], i0\)"):
        tl.build(s, [x, out])


def test_compute_at_chain_on_softmax_into_the_loop_enclosing_all_consumers(check):
    """The chain max -> exp -> (sum, output) with every stage computed per row."""
    x, maxelem, exp, expsum, out = softmax_stages(5, 11)
    s = tl.create_schedule(out)
    row = out.op.axis[0]
    s[expsum].compute_at(s[out], row)
    s[exp].compute_at(s[out], row)
    s[maxelem].compute_at(s[exp], exp.op.axis[0])
    check(s, [x], [out])
    mod = tl.build(s, [x, out])
    a = np.random.default_rng(0).standard_normal((5, 11)).astype("float32")
    got = np.zeros_like(a)
    mod(a, got)
    e = np.exp(a - a.max(axis=1, keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(axis=1, keepdims=True), rtol=1e-5)


def test_compute_at_a_loop_that_encloses_only_some_consumers_names_the_common_loop(check):
    """A producer computed at an inner loop of one consumer while a second consumer is
    computed at an outer loop of the first: the message names the loop enclosing both."""
    A = te.placeholder((8, 8), name="A")
    B = te.compute((8, 8), lambda i, j: A[i, j] + 1.0, name="B")
    C = te.compute((8, 8), lambda i, j: B[i, j] * 2.0, name="C")
    D = te.compute((8, 8), lambda i, j: B[i, j] + C[i, j], name="D")
    s = tl.create_schedule(D)
    i, j = D.op.axis
    s[C].compute_at(s[D], j)
    s[B].compute_at(s[C], s[C].op.axis[1])
    with pytest.raises(tl.LoweringError, match=r"consumer 'D' reads it outside.*"
                                               r"compute_at\(s\[D\], j\)"):
        tl.lower(s, [A, D])
    s[B].compute_at(s[D], j)
    check(s, [A], [D])


def test_lowering_error_when_attach_axis_split_later():
    A, B, C = blur()
    s = tl.create_schedule(C)
    y = C.op.axis[0]
    s[B].compute_at(s[C], y)
    s[C].split(y, factor=2)
    with pytest.raises(tl.LoweringError, match="no longer a loop"):
        tl.lower(s, [A, C])
