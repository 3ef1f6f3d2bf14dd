"""The tuner's random inputs: integer inputs that index a tensor hold values that keep
every read they index in bounds (from bound analysis), other inputs are drawn in their
own dtype, bfloat16 included; bfloat16 arrays of ml_dtypes are accepted wherever
bfloat16 is."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorlang as tl
from tensorlang import te
from tensorlang.autotune import MeasureOptions
from tensorlang.autotune.inputs import input_ranges
from tensorlang.autotune.measure_worker import compare, empty_output, task_inputs
from tensorlang.autotune.record import MemoryLog
from tensorlang.autotune.tuner import Task
from tensorlang.autotune.workload_space import make_space
from tensorlang.errors import TuneError
from tensorlang.tir.interpreter import interpret

FAST = dict(verbose=0, n_parallel=2, population_size=16, num_generations=1, retime=0)
OPTIONS = MeasureOptions(timeout=5.0, min_timeout=1.0, min_measure_seconds=0.005)


def measure_task(outputs, params=None):
    """The tuner's measurement task of ``outputs`` (no process is started)."""
    space = make_space(outputs, "llvm", params=params)
    task = Task(space, "llvm", MemoryLog(), None, seed=0)
    return space, task.make_measure_task(None)


def tuner_inputs(outputs, seed=0):
    """``(params, {position: array})``: the inputs the tuner measures ``outputs`` on."""
    space, task = measure_task(outputs)
    return space.args, task_inputs(task.spec_tuples(), seed)


INDEX_DTYPES = ("int32", "int64", "uint8", "int8")


@st.composite
def gathers(draw):
    """A gather ``out[i, (k,) c] = T[I[i] * scale + offset (+ k), c]`` over a table of a
    drawn size, with an index input of a drawn dtype, shape and offset; the row index
    computed inline or by a stage of its own (``R = I * scale + offset``)."""
    rows = draw(st.integers(1, 12))
    cols = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from(INDEX_DTYPES))
    scale = draw(st.sampled_from((1, 1, 2, -1)))
    offset = draw(st.integers(-3, 3))
    window = draw(st.integers(1, 3))       # a reduction over k < window reads k rows on
    batch = draw(st.sampled_from([(5,), (3, 4)]))
    staged = draw(st.booleans())
    return rows, cols, dtype, scale, offset, window, batch, staged


def declare(rows, cols, dtype, scale, offset, window, batch, staged):
    T = te.placeholder((rows, cols), name="T")
    I = te.placeholder(batch, dtype, name="I")

    def inline_row(index):
        value = index.astype("int32") if dtype != "int32" else index
        return value * scale + offset

    if staged:
        R = te.compute(batch, lambda *i: inline_row(I[i]), name="R")

        def row(index):
            return R[index.indices]
    else:
        row = inline_row

    if window == 1:
        if len(batch) == 1:
            out = te.compute((*batch, cols), lambda i, c: T[row(I[i]), c] * 2.0, name="G")
        else:
            out = te.compute((*batch, cols), lambda i, j, c: T[row(I[i, j]), c] * 2.0,
                             name="G")
    else:
        k = te.reduce_axis((0, window), name="k")
        if len(batch) == 1:
            out = te.compute((*batch, cols),
                             lambda i, c: te.sum(T[row(I[i]) + k, c], axis=k), name="G")
        else:
            out = te.compute((*batch, cols), lambda i, j, c:
                             te.sum(T[row(I[i, j]) + k, c], axis=k), name="G")
    return T, I, out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gathers(), st.integers(0, 2 ** 16))
def test_index_inputs_stay_in_range_and_reference_and_compiled_agree(case, seed):
    rows, cols, dtype, scale, offset, window, batch, _ = case
    T, I, G = declare(*case)
    info = np.iinfo(dtype)
    # every value of the dtype whose reads T[v * scale + offset + k] are all in bounds
    values = np.arange(max(info.min, -400), min(info.max, 400) + 1)
    lowest = np.minimum(values * scale + offset, values * scale + offset + window - 1)
    highest = np.maximum(values * scale + offset, values * scale + offset + window - 1)
    safe = values[(lowest >= 0) & (highest < rows)]
    if safe.size == 0:
        with pytest.raises(TuneError, match="'I'"):
            measure_task(G)
        return
    space, task = measure_task(G)
    position = space.args.index(I)
    # linear in the read: the range is exactly the safe values
    assert task.specs[position].value_range == (safe.min(), safe.max())
    params, inputs = tuner_inputs(G)
    index = inputs[position]
    assert index.dtype == np.dtype(dtype) and index.shape == batch
    assert np.isin(index, safe).all()
    assert inputs[params.index(T)].dtype == np.float32
    # the bounds-checked reference accepts them, and compiled code agrees: unscheduled
    # and as a candidate of the search space
    [expected] = te.reference.evaluate([G], {T: inputs[params.index(T)], I: index})
    candidate = space.apply(space.sample(np.random.default_rng(seed)))
    for schedule, args in [(tl.create_schedule(G), params), candidate]:
        out = np.full(expected.shape, np.nan, np.float32)
        tl.build(schedule, args, bounds_check=True)(
            *[inputs.get(k, out) for k in range(len(args))])
        np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_nested_and_two_dimensional_lookups():
    U = te.placeholder((10,), name="U")
    I = te.placeholder((16,), "int32", name="I")
    J = te.placeholder((6,), "uint8", name="J")
    H = te.compute((6,), lambda i: U[I[J[i]]] + U[I[J[i]] % 4], name="H")
    params = [U, I, J, H]
    ranges, unbounded = input_ranges(params)
    assert ranges == {1: (0, 9), 2: (0, 15)} and not unbounded
    # two reads of one input in one index: each value keeps the sum in bounds
    K = te.placeholder((7,), "int64", name="K")
    S = te.compute((6,), lambda i: U[K[i] + K[i + 1]], name="S")
    ranges, _ = input_ranges([U, K, S])
    assert ranges[1][0] >= 0 and 2 * ranges[1][1] <= 9


def test_uses_that_cannot_all_be_in_bounds_are_refused():
    U = te.placeholder((4,), name="U")
    V = te.placeholder((20,), name="V")
    I = te.placeholder((8,), "int32", name="I")
    W = te.compute((8,), lambda i: U[I[i]] + V[I[i] - 10], name="W")
    with pytest.raises(TuneError, match=r"'I': no value keeps .*U\[I\[i\]\]' needs 0..3"):
        measure_task(W)


def test_a_gather_over_a_small_table_tunes_correctly():
    T = te.placeholder((4, 8), name="T")
    I = te.placeholder((32,), "int32", name="I")
    G = te.compute((32, 8), lambda i, j: T[I[i], j] * 2.0, name="G")
    res = tl.autotune(G, trials=4, batch_size=4, measure_options=OPTIONS, **FAST)
    assert res.num_trials == 4 and not res.errors


def test_bfloat16_inputs_are_bfloat16_values_and_workloads_tune():
    A = te.placeholder((64,), "bfloat16", name="A")
    B = te.compute((64,), lambda i: A[i] * 2.0 + 1.0, name="B")
    _, inputs = tuner_inputs(B)
    bits = inputs[0]
    assert bits.dtype == np.uint16
    values = bits.view(ml_dtypes.bfloat16).astype(np.float32)
    assert np.all((-1 <= values) & (values < 1)) and len(np.unique(values)) > 16
    assert np.isnan(empty_output((3,), "bfloat16").view(ml_dtypes.bfloat16).astype(
        np.float32)).all()
    res = tl.autotune(B, trials=3, batch_size=3, measure_options=OPTIONS, **FAST)
    assert res.num_trials == 3 and not res.errors, res.history[0].error_msg
    a = np.linspace(-2, 2, 64).astype(ml_dtypes.bfloat16)
    b = np.zeros(64, ml_dtypes.bfloat16)
    res.build()(a, b)
    np.testing.assert_allclose(b.astype(np.float32), a.astype(np.float32) * 2 + 1,
                               rtol=1e-2)


def test_bfloat16_outputs_are_compared_as_values():
    values = np.linspace(-3, 3, 50, dtype=np.float32)
    bits = values.astype(ml_dtypes.bfloat16).view(np.uint16)
    nudged = (values * (1 + 2 ** -7)).astype(ml_dtypes.bfloat16).view(np.uint16)
    assert not np.array_equal(bits, nudged)
    assert compare(nudged, bits, "B", "bfloat16") is None
    wrong = bits.copy()
    wrong[7] = np.float32(100.0).astype(ml_dtypes.bfloat16).view(np.uint16)
    assert "differs" in compare(wrong, bits, "B", "bfloat16")


def test_ml_dtypes_bfloat16_arrays_are_accepted_everywhere():
    A = te.placeholder((8,), "bfloat16", name="A")
    B = te.compute((8,), lambda i: A[i] * 2.0, name="B")
    s = tl.create_schedule(B)
    a = np.linspace(-1, 1, 8).astype(ml_dtypes.bfloat16)
    expected = a.astype(np.float32) * 2
    compiled = np.zeros(8, ml_dtypes.bfloat16)
    tl.build(s)(a, compiled)
    interpreted = np.zeros(8, ml_dtypes.bfloat16)
    interpret(tl.lower(s), a, interpreted)
    [reference] = te.reference.evaluate([B], {A: a})
    for result in (compiled, interpreted, reference.view(ml_dtypes.bfloat16)):
        np.testing.assert_array_equal(result.astype(np.float32), expected)
    # bit patterns as uint16 still work
    bits = np.zeros(8, np.uint16)
    tl.build(s)(a.view(np.uint16), bits)
    np.testing.assert_array_equal(bits, compiled.view(np.uint16))


def test_a_float_array_for_bfloat16_gets_advice_that_keeps_the_values():
    A = te.placeholder((8,), "bfloat16", name="A")
    B = te.compute((8,), lambda i: A[i] * 2.0, name="B")
    s = tl.create_schedule(B)
    floats = np.ones(8, np.float32)
    out = np.zeros(8, ml_dtypes.bfloat16)
    with pytest.raises(TypeError) as error:
        tl.build(s)(floats, out)
    message = str(error.value)
    assert "ml_dtypes.bfloat16" in message and 'astype("uint16")' not in message
    with pytest.raises(TypeError, match="ml_dtypes.bfloat16"):
        interpret(tl.lower(s), floats, out)
    with pytest.raises(tl.TensorLangError, match="ml_dtypes.bfloat16"):
        te.reference.evaluate([B], {A: floats})
