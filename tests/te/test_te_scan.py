"""te.scan as TVM declares it, its checks, and the numpy reference evaluation of scans
against recurrences written in plain numpy."""
import numpy as np
import pytest

from tensorlang import te
from tensorlang.errors import TensorLangTypeError, TensorLangValueError
from tensorlang.te.graph import ScanOp, default_parameters
from tensorlang.te.reference import OutOfBoundsError, evaluate
from scan_strategies import rnn, rnn_numpy

RNG = np.random.default_rng(7)


def cumsum(m, n):
    X = te.placeholder((m, n), name="X")
    s_state = te.placeholder((m, n), name="s_state")
    s_init = te.compute((1, n), lambda _, i: X[0, i], name="s_init")
    s_update = te.compute((m, n), lambda t, i: s_state[t - 1, i] + X[t, i], name="s_update")
    return X, s_state, s_init, s_update, te.scan(s_init, s_update, s_state, inputs=[X])


def test_scan_is_a_tensor_of_the_state_shape_with_a_scan_axis():
    m, n = te.var("m"), te.var("n")
    X, s_state, s_init, s_update, s_scan = cumsum(m, n)
    op = s_scan.op
    assert isinstance(op, ScanOp) and s_scan.name == "scan"
    assert s_scan.shape == s_state.shape and s_scan.dtype == s_update.dtype
    assert op.scan_axis.var.name == "scan.idx" and op.scan_axis.iter_type == "ordered"
    assert op.scan_axis.dom.min.value == 1   # the steps after the init's one step
    assert [o.name for o in op.body_ops] == ["s_update"]
    assert op.input_tensors == (s_init, s_update)
    assert len(op.spatial_axis) == 1 and op.spatial_axis[0].iter_type == "opaque"
    # the state is the scan's own output, not a parameter
    assert default_parameters([s_scan]) == [X, s_scan]


def test_cumsum_reference():
    X, _, _, _, s_scan = cumsum(te.var("m"), te.var("n"))
    x = RNG.random((9, 5)).astype("float32")
    [got] = evaluate([s_scan], {X: x})
    np.testing.assert_allclose(got, np.cumsum(x, axis=0), rtol=1e-6)


def test_two_states_return_a_list_and_read_each_other():
    m, n, l_ = te.var("m"), te.var("n"), te.var("l")
    X = te.placeholder((m, n), name="X")
    s1 = te.placeholder((m, n), name="s1")
    s2 = te.placeholder((m, l_), name="s2")
    init1 = te.compute((1, n), lambda _, i: X[0, i])
    init2 = te.compute((1, l_), lambda _, i: 0.0)
    update1 = te.compute((m, n), lambda t, i: s1[t - 1, i] + X[t, i])
    update2 = te.compute((m, l_), lambda t, i: s2[t - 1, i] + s1[t - 1, 0])
    outs = te.scan([init1, init2], [update1, update2], [s1, s2], inputs=[X])
    assert isinstance(outs, list) and [o.name for o in outs] == ["scan.v0", "scan.v1"]
    x = RNG.random((6, 4)).astype("float32")
    a, b = evaluate(outs, {X: x}, shape_vars={l_: 3})
    want_a = np.cumsum(x, axis=0)
    want_b = np.zeros((6, 3), "float32")
    for t in range(1, 6):
        want_b[t] = want_b[t - 1] + want_a[t - 1, 0]
    np.testing.assert_allclose(a, want_a, rtol=1e-6)
    np.testing.assert_allclose(b, want_b, rtol=1e-6)


def test_rnn_step_through_a_reduction_stage():
    W, X, h2h, h_update, _, h_scan = rnn(7, 12)
    assert [o.name for o in h_scan.op.body_ops] == ["h2h", "h_update"]
    w = (RNG.random((12, 12)) * 0.3).astype("float32")
    x = RNG.random((7, 12)).astype("float32")
    [got] = evaluate([h_scan], {W: w, X: x})
    np.testing.assert_allclose(got, rnn_numpy(w, x), rtol=1e-5, atol=1e-6)


def test_two_init_steps_and_reads_two_steps_back():
    """Fibonacci rows: the init gives two steps, the update reads t - 1 and t - 2."""
    X = te.placeholder((2, 3), "int32", name="X")
    state = te.placeholder((10, 3), "int32", name="F")
    init = te.compute((2, 3), lambda t, i: X[t, i], name="F_init")
    update = te.compute((10, 3), lambda t, i: state[t - 1, i] + state[t - 2, i], name="F_next")
    fib = te.scan(init, update, state)
    x = np.array([[0, 1, 2], [1, 1, 3]], "int32")
    [got] = evaluate(fib, {X: x})
    want = np.zeros((10, 3), "int32")
    want[:2] = x
    for t in range(2, 10):
        want[t] = want[t - 1] + want[t - 2]
    np.testing.assert_array_equal(got, want)


def test_scan_output_read_by_a_later_stage():
    X, _, _, _, s_scan = cumsum(5, 4)
    C = te.compute((5, 4), lambda t, i: s_scan[t, i] * 2.0, name="C")
    x = RNG.random((5, 4)).astype("float32")
    [got] = evaluate(C, {X: x})
    np.testing.assert_allclose(got, 2 * np.cumsum(x, axis=0), rtol=1e-6)


def test_reading_before_the_first_step_is_out_of_bounds():
    X = te.placeholder((6, 2), name="X")
    state = te.placeholder((6, 2), name="S")
    init = te.compute((1, 2), lambda _, i: X[0, i])
    update = te.compute((6, 2), lambda t, i: state[t - 2, i] + X[t, i])
    out = te.scan(init, update, state)
    with pytest.raises(OutOfBoundsError, match="reads 'S' out of bounds"):
        evaluate(out, {X: np.zeros((6, 2), "float32")})


# -- declarations refused ---------------------------------------------------------------

def _parts(m=8, n=4):
    X = te.placeholder((m, n), name="X")
    state = te.placeholder((m, n), name="state")
    init = te.compute((1, n), lambda _, i: X[0, i], name="init")
    update = te.compute((m, n), lambda t, i: state[t - 1, i] + X[t, i], name="update")
    return X, state, init, update


def test_state_must_be_a_placeholder():
    X, state, init, update = _parts()
    with pytest.raises(TensorLangTypeError, match="state_placeholder 'update' must be a "
                                                  "te.placeholder"):
        te.scan(init, update, update)


def test_init_must_be_computed():
    X, state, init, update = _parts()
    X0 = te.placeholder((1, 4), name="X0")
    with pytest.raises(TensorLangTypeError, match="init 'X0' must be a te.compute tensor"):
        te.scan(X0, update, state)


def test_one_init_and_update_per_state():
    X, state, init, update = _parts()
    with pytest.raises(TensorLangValueError, match="one init and one update per state"):
        te.scan([init, init], [update], [state])


def test_arguments_must_be_tensors():
    X, state, init, update = _parts()
    with pytest.raises(TensorLangTypeError, match="update must be a tensor or a list"):
        te.scan(init, 3, state)
    with pytest.raises(TensorLangTypeError, match="inputs must be a tensor or a list"):
        te.scan(init, update, state, inputs="X")


def test_dtypes_and_shapes_must_match_the_state():
    X, state, init, update = _parts()
    as_int = te.compute((8, 4), lambda t, i: state[t - 1, i].astype("int32"), name="as_int")
    with pytest.raises(TensorLangTypeError, match="update 'as_int' is int32 but state "
                                                  "'state' is float32"):
        te.scan(init, as_int, state)
    narrow = te.compute((8, 3), lambda t, i: state[t - 1, i], name="narrow")
    with pytest.raises(TensorLangValueError, match="dimension 1 of update 'narrow' is 3 but "
                                                   "that of state 'state' is 4"):
        te.scan(init, narrow, state)
    init_wide = te.compute((1, 5), lambda _, i: 0.0, name="init_wide")
    with pytest.raises(TensorLangValueError, match="dimension 1 of init 'init_wide'"):
        te.scan(init_wide, update, state)
    flat = te.compute((8,), lambda t: state[t - 1, 0], name="flat")
    with pytest.raises(TensorLangValueError, match="update 'flat' has 1 dimension"):
        te.scan(init, flat, state)


def test_init_longer_than_the_state():
    X, state, init, update = _parts(m=3)
    long_init = te.compute((4, 4), lambda t, i: 0.0, name="long_init")
    with pytest.raises(TensorLangValueError, match="gives 4 steps, more than the 3"):
        te.scan(long_init, update, state)


def test_init_may_not_read_the_state():
    X, state, init, update = _parts()
    bad = te.compute((1, 4), lambda _, i: state[0, i], name="bad")
    with pytest.raises(TensorLangValueError, match="init 'bad' reads the state 'state'"):
        te.scan(bad, update, state)


@pytest.mark.parametrize("ahead,step", [(0, "t"), (1, "t \\+ 1")])
def test_update_may_not_read_the_current_or_a_later_step(ahead, step):
    X, state, init, _ = _parts()
    update = te.compute((8, 4), lambda t, i: state[t + ahead, i] * 2.0, name="ahead")
    with pytest.raises(TensorLangValueError, match=f"'ahead' reads the state 'state' at step "
                                                   f"{step}, which is not computed yet"):
        te.scan(init, update, state)


def test_stages_of_a_step_have_time_first():
    X, state, init, _ = _parts()
    flipped = te.compute((4, 8), lambda i, t: state[t - 1, i], name="flipped")
    update = te.compute((8, 4), lambda t, i: flipped[i, t] + X[t, i], name="update")
    with pytest.raises(TensorLangValueError, match="'flipped' is computed at each step .* its "
                                                   "first axis must be time"):
        te.scan(init, update, state)
