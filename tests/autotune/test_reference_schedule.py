"""The correctness reference of tuning: the computation as written, with the reduction
moved out of the last spatial loop where an input streams along it and the outer loops in
parallel; each output point sums its terms in the order written, so its value is the
plain computation's (up to a multiply-add contraction), and a read out of bounds is still
caught."""
from __future__ import annotations

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import ops, te
from tensorlang.autotune import MeasureOptions
from tensorlang.autotune.space import reference_schedule
from tensorlang.errors import TuneError


def _loops(s, args):
    text = str(tl.lower(s, args))
    return [line.strip() for line in text.splitlines() if line.strip().startswith("for ")]


def _matmul(n=24, m=40, k=16):
    A = te.placeholder((n, k), name="A")
    B = te.placeholder((k, m), name="B")
    return A, B, ops.matmul(A, B)


def test_matmul_reference_runs_rows_of_b_in_order_in_parallel():
    A, B, C = _matmul()
    s = reference_schedule([C.op])
    loops = _loops(s, [A, B, C])
    assert loops[0].startswith("for i in T.parallel(24)")
    # the reduction between the rows and the columns (the columns' init loop first)
    names = [line.split()[1] for line in loops]
    assert names.index("k") < names.index("j") and "j_init" in names
    rng = np.random.default_rng(0)
    a = rng.standard_normal((24, 16)).astype("float32")
    b = rng.standard_normal((16, 40)).astype("float32")
    got, plain = np.zeros((24, 40), "float32"), np.zeros((24, 40), "float32")
    tl.build(s, [A, B, C], bounds_check=True)(a, b, got)
    tl.build(tl.create_schedule(C), [A, B, C])(a, b, plain)
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, plain, rtol=1e-6, atol=1e-6)


def test_matrix_vector_product_keeps_its_rows_streaming():
    A = te.placeholder((32, 64), name="A")
    x = te.placeholder((64,), name="x")
    k = te.reduce_axis((0, 64), name="k")
    y = te.compute((32,), lambda i: te.sum(A[i, k] * x[k], axis=k), name="y")
    loops = _loops(reference_schedule([y.op]), [A, x, y])
    assert [line.split()[1] for line in loops] == ["i", "k"]


def test_row_reduction_stays_as_written_but_runs_rows_in_parallel():
    # sum over the last input axis: nothing streams along the output's last axis
    X = te.placeholder((4, 6, 32), name="X")
    k = te.reduce_axis((0, 32), name="k")
    S = te.compute((4, 6), lambda b, r: te.sum(X[b, r, k], axis=k), name="S")
    loops = _loops(reference_schedule([S.op]), [X, S])
    assert loops[0].startswith("for b in T.parallel(4)")
    assert [line.split()[1] for line in loops][-1] == "k"


def test_scan_stages_stay_as_written():
    m, n = 6, 8
    X = te.placeholder((m, n), name="X")
    state = te.placeholder((m, n), name="state")
    init = te.compute((1, n), lambda _, i: X[0, i], name="init")
    update = te.compute((m, n), lambda t, i: state[t - 1, i] + X[t, i], name="update")
    scan = te.scan(init, update, state, inputs=[X])
    s = reference_schedule([scan.op])
    assert "parallel" not in str(tl.lower(s, [X, scan]))
    x = np.random.default_rng(0).standard_normal((m, n)).astype("float32")
    out = np.zeros((m, n), "float32")
    tl.build(s, [X, scan])(x, out)
    np.testing.assert_allclose(out, np.cumsum(x, axis=0), rtol=1e-5, atol=1e-5)


def test_a_two_dimensional_read_out_of_bounds_is_caught_in_parallel(tmp_path):
    A = te.placeholder((8, 8), name="A")
    B = te.compute((8, 8), lambda i, j: A[i, (j * j) % 16] + 1.0, name="B")
    assert "parallel" in str(tl.lower(reference_schedule([B.op]), [A, B]))
    with pytest.raises(TuneError, match=r"correctness reference failed.*IndexError.*"
                                        r"buffer 'A'"):
        tl.autotune(B, trials=4, log_file=tmp_path / "oob2.jsonl", verbose=0,
                    n_parallel=2, pretrained=False,
                    measure_options=MeasureOptions(timeout=2.0, min_timeout=1.0,
                                                   min_measure_seconds=0.01))
