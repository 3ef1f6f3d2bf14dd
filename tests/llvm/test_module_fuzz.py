"""Fuzz tests of compiled modules' calls.

Hypothesis calls modules built with ``tl.build`` from tensor expressions (symbolic sizes,
scalar parameters, int8 / uint8 / float16 / bool / int32 buffers, shape expressions,
several outputs) with random bad arguments: a wrong count, None, lists, scalars in place
of arrays and arrays in place of scalars, wrong dtypes (byte-swapped and object ones
included), wrong ndim, wrong or mismatched sizes, read-only or aliased outputs.  Each
call must raise ``TypeError`` or ``ValueError`` naming the parameter at fault, never
reach compiled code.  Valid variations (misaligned, offset, strided, transposed or
reversed views for inputs and outputs, read-only inputs, numpy scalars, 0-d arrays as
scalars) must compute the right result, written through into output views.

A second fuzz test feeds data-dependent and scalar-computed indices to ``bounds_check``
builds: an out-of-bounds access raises ``IndexError`` naming the buffer and the index
(under serial, vectorized and parallel schedules); in-bounds ones compute numpy's result.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tensorlang as tl
from tensorlang import ops, te

from schedule_strategies import draw_layout

FUZZ_SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------
# the modules under test

class Workload:
    """A built module, its parameters (name, kind, dtype, output?) and functions making
    good arguments for drawn sizes and the expected outputs."""

    def __init__(self, mod, params, make_args, expected):
        self.mod, self.params = mod, params
        self.make_args, self.expected = make_args, expected
        # per parameter, the dimensions that are a plain te.var (bound by the call)
        self.symbolic_dims = [[d for d, spec in enumerate(p.get("shape", ()))
                               if isinstance(spec, dict)] for p in mod.signature.params]

    @property
    def names(self) -> list[str]:
        return [p[0] for p in self.params]


def _scaled_matmul() -> Workload:
    """C = alpha * (A @ B) with symbolic n, k, m and a float scalar alpha."""
    n, k, m = te.var("n"), te.var("k"), te.var("m")
    alpha = te.var("alpha", "float32")
    A = te.placeholder((n, k), name="A")
    B = te.placeholder((k, m), name="B")
    r = te.reduce_axis((0, k), name="r")
    C = te.compute((n, m), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r) * alpha, name="C")
    mod = tl.build(tl.create_schedule(C), [A, B, alpha, C], target="llvm",
                   name="scaled_matmul")

    def make_args(rng, sizes):
        n_, k_, m_ = sizes
        return [rng.random((n_, k_), dtype="float32"), rng.random((k_, m_), dtype="float32"),
                float(rng.random()), np.zeros((n_, m_), "float32")]

    def expected(args):
        a, b, scale, _ = args
        return {3: (a.astype(np.float64) @ b) * float(scale)}
    return Workload(mod, [("A", "buffer", "float32", False), ("B", "buffer", "float32", False),
                          ("alpha", "scalar", "float32", False),
                          ("C", "buffer", "float32", True)], make_args, expected)


def _mixed_types() -> Workload:
    """Two outputs of constant shape: Out = float16(X) * Y (broadcast) and the int32 row
    sums of the int8 X."""
    X = te.placeholder((3, 5), "int8", name="X")
    Y = te.placeholder((5,), "float16", name="Y")
    out = te.compute((3, 5), lambda i, j: X[i, j].astype("float16") * Y[j], name="Out")
    r = te.reduce_axis((0, 5), name="r")
    sums = te.compute((3,), lambda i: te.sum(X[i, r].astype("int32"), axis=r), name="Sums")
    mod = tl.build(tl.create_schedule([out, sums]), [X, Y, out, sums], target="llvm",
                   name="mixed_types")

    def make_args(rng, sizes):
        return [rng.integers(-100, 100, (3, 5)).astype("int8"),
                rng.uniform(-2, 2, 5).astype("float16"),
                np.zeros((3, 5), "float16"), np.zeros(3, "int32")]

    def expected(args):
        x, y = args[0], args[1]
        return {2: x.astype(np.float16) * y, 3: x.astype(np.int64).sum(axis=1)}
    return Workload(mod, [("X", "buffer", "int8", False), ("Y", "buffer", "float16", False),
                          ("Out", "buffer", "float16", True),
                          ("Sums", "buffer", "int32", True)], make_args, expected)


def _padded_mask() -> Workload:
    """An int32 scalar n that is also the size of X (uint8); outputs of shape n + 2 (a
    shape expression) and a bool mask."""
    n = te.var("n")
    X = te.placeholder((n,), "uint8", name="X")
    padded = ops.pad(X, (1,), (1,), pad_value=7)
    out = te.compute(padded.shape, lambda i: padded[i] * 2, name="Out")
    mask = te.compute((n,), lambda i: X[i] > 3, name="Mask")
    sched = tl.create_schedule([out, mask])
    sched[padded].compute_inline()
    mod = tl.build(sched, [n, X, out, mask], target="llvm", name="padded_mask")

    def make_args(rng, sizes):
        size = sizes[0]
        return [size, rng.integers(0, 256, size).astype("uint8"),
                np.zeros(size + 2, "uint8"), np.zeros(size, "bool")]

    def expected(args):
        x = args[1]
        return {2: np.pad(x, 1, constant_values=7) * np.uint8(2), 3: x > 3}
    return Workload(mod, [("n", "scalar", "int32", False), ("X", "buffer", "uint8", False),
                          ("Out", "buffer", "uint8", True), ("Mask", "buffer", "bool", True)],
                    make_args, expected)


@pytest.fixture(scope="module")
def workloads():
    return [_scaled_matmul(), _mixed_types(), _padded_mask()]


# ---------------------------------------------------------------------------------------
# corruptions

OTHER_DTYPES = ["float64", "float32", "float16", "int8", "uint8", "int32", "int64", "bool",
                ">f4", ">i4", "object", "complex64"]


class _Unprintable:
    """An argument whose repr fails: error messages must still come out."""

    def __repr__(self):
        raise RuntimeError("no repr")


ANY_CORRUPTIONS = ["none", "list", "tuple", "string", "object"]
BUFFER_CORRUPTIONS = ANY_CORRUPTIONS + ["python scalar", "numpy scalar", "dtype", "ndim",
                                       "shape", "mismatched symbolic dim"]
OUTPUT_CORRUPTIONS = BUFFER_CORRUPTIONS + ["read-only output", "aliased output"]
SCALAR_CORRUPTIONS = ANY_CORRUPTIONS + ["scalar as array", "scalar of the wrong kind"]
ALL_CORRUPTIONS = list(dict.fromkeys(OUTPUT_CORRUPTIONS + SCALAR_CORRUPTIONS))


def _applies(kind: str, workload: Workload, position: int) -> bool:
    _, param_kind, _, output = workload.params[position]
    kinds = SCALAR_CORRUPTIONS if param_kind == "scalar" else \
        OUTPUT_CORRUPTIONS if output else BUFFER_CORRUPTIONS
    if kind == "mismatched symbolic dim":
        return bool(workload.symbolic_dims[position])
    return kind in kinds


def _draw_corruption(data, workload: Workload, position: int) -> str:
    kinds = [k for k in ALL_CORRUPTIONS if _applies(k, workload, position)]
    return data.draw(st.sampled_from(kinds), label="corruption")


def _corrupt(data, workload: Workload, args: list, position: int, kind: str):
    """Replace ``args[position]`` by a bad value of ``kind``; returns False when the kind
    does not apply to that parameter."""
    name, param_kind, dtype, output = workload.params[position]
    good = args[position]
    buffer = param_kind == "buffer"
    if kind == "none":
        args[position] = None
    elif kind == "list":
        args[position] = good.tolist() if buffer else [good]
    elif kind == "tuple":
        args[position] = tuple(np.ravel(good).tolist())
    elif kind == "python scalar" and buffer:
        args[position] = data.draw(st.sampled_from([0, 1.5, True, -3]), label="scalar")
    elif kind == "numpy scalar" and buffer:
        args[position] = np.dtype(dtype).type(1)
    elif kind == "string":
        args[position] = "data"
    elif kind == "object":
        args[position] = data.draw(st.sampled_from([object(), _Unprintable(), {}]),
                                   label="object")
    elif kind == "dtype" and buffer:
        other = data.draw(st.sampled_from([d for d in OTHER_DTYPES
                                           if np.dtype(d) != np.dtype(dtype)]), label="dtype")
        args[position] = good.astype(other)
    elif kind == "ndim" and buffer:
        if good.ndim and good.shape[0] and data.draw(st.booleans(), label="drop a dim"):
            args[position] = good[0].copy()
        else:
            args[position] = good[None]
    elif kind == "shape" and buffer:
        dim = data.draw(st.integers(0, good.ndim - 1), label="dimension")
        shape = list(good.shape)
        shape[dim] += data.draw(st.sampled_from([-1, 1, 2]), label="size change")
        assume(shape[dim] >= 0)
        args[position] = np.zeros(shape, good.dtype)
    elif kind == "mismatched symbolic dim" and buffer:
        # a size that another argument (or a scalar) also determines, changed here only
        dim = data.draw(st.sampled_from(workload.symbolic_dims[position]), label="dimension")
        shape = list(good.shape)
        shape[dim] += 1
        args[position] = np.zeros(shape, good.dtype)
    elif kind == "read-only output" and buffer and output:
        good.flags.writeable = False
    elif kind == "aliased output" and buffer and output:
        # right shapes and dtypes, but the output overlaps another buffer argument
        partners = [k for k, p in enumerate(workload.params) if k != position and
                    isinstance(args[k], np.ndarray) and args[k].dtype == good.dtype and
                    args[k].size]
        assume(partners and good.size)
        partner = data.draw(st.sampled_from(partners), label="overlapping argument")
        shared = np.zeros(args[partner].size + good.size - 1, good.dtype)
        shared[:args[partner].size] = args[partner].ravel()
        args[partner] = shared[:args[partner].size].reshape(args[partner].shape)
        args[position] = shared[args[partner].size - 1:].reshape(good.shape)
    elif kind == "scalar as array" and not buffer:
        args[position] = np.array([good, good])
    elif kind == "scalar of the wrong kind" and not buffer:
        if dtype.startswith("int"):
            args[position] = data.draw(st.sampled_from([1.5, 2 ** 40, -2 ** 31 - 1, True,
                                                        complex(1, 0), 10 ** 5000,
                                                        np.float64(2.0), np.array([3])]),
                                       label="bad int")
        else:
            args[position] = data.draw(st.sampled_from([True, complex(1, 0), "1.0",
                                                        np.zeros(2), 2 ** 1100, -10 ** 5000,
                                                        np.array(1 + 2j)]),
                                       label="bad float")
    else:
        return False
    return True


def _names_parameter(message: str, name: str) -> bool:
    return f"'{name}'" in message


def _check_results(workload: Workload, args: list) -> None:
    for position, want in workload.expected(args).items():
        got = args[position]
        if got.dtype.kind == "f":
            np.testing.assert_allclose(got.astype(np.float64), want, rtol=2e-3, atol=1e-5)
        else:
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", ALL_CORRUPTIONS)
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_bad_arguments_raise_errors_naming_the_parameter(workloads, kind, data):
    workload = data.draw(st.sampled_from(workloads), label="module")
    positions = [k for k in range(len(workload.params)) if _applies(kind, workload, k)]
    assume(positions)
    sizes = data.draw(st.tuples(*[st.integers(1, 5)] * 3), label="sizes")
    args = workload.make_args(np.random.default_rng(list(sizes)), sizes)
    position = data.draw(st.sampled_from(positions), label="parameter")
    assert _corrupt(data, workload, args, position, kind)
    name = workload.names[position]
    with pytest.raises((TypeError, ValueError)) as caught:
        workload.mod(*args)
    message = str(caught.value)
    assert _names_parameter(message, name), (kind, name, message)


@FUZZ_SETTINGS
@given(data=st.data())
def test_several_bad_arguments_and_wrong_counts(workloads, data):
    """Several corruptions at once, sometimes with arguments missing or added: an error
    naming one of the parameters (or the expected count), or a right result when the
    changes happen to leave the call valid."""
    workload = data.draw(st.sampled_from(workloads), label="module")
    sizes = data.draw(st.tuples(*[st.integers(0, 4)] * 3), label="sizes (0 allowed)")
    args = workload.make_args(np.random.default_rng(list(sizes)), sizes)
    for position in data.draw(st.lists(st.integers(0, len(args) - 1), max_size=3,
                                       unique=True), label="corrupted parameters"):
        _corrupt(data, workload, args, position, _draw_corruption(data, workload, position))
    count = data.draw(st.sampled_from(["same", "fewer", "more"]), label="count")
    if count == "fewer":
        args = args[:data.draw(st.integers(0, len(args) - 1), label="kept")]
    elif count == "more":
        args = args + [args[-1]] * data.draw(st.integers(1, 2), label="added")
    try:
        workload.mod(*args)
    except (TypeError, ValueError) as error:
        message = str(error)
        if count != "same":
            assert f"takes {len(workload.params)} argument(s)" in message, message
            assert all(n in message for n in workload.names), message
        else:
            assert any(_names_parameter(message, n) for n in workload.names), message
    else:
        assert count == "same"
        _check_results(workload, args)


@FUZZ_SETTINGS
@given(data=st.data())
def test_valid_variations_compute_the_right_result(workloads, data):
    """Misaligned, strided, transposed and reversed arrays (inputs and outputs), read-only
    inputs, numpy scalars and 0-d arrays for scalar parameters, empty sizes: all
    accepted, all right."""
    workload = data.draw(st.sampled_from(workloads), label="module")
    sizes = data.draw(st.tuples(*[st.integers(0, 5)] * 3), label="sizes")
    args = workload.make_args(np.random.default_rng(list(sizes)), sizes)
    for position, (name, kind, dtype, output) in enumerate(workload.params):
        variation = data.draw(st.sampled_from(["as is", "misaligned", "drawn layout",
                                               "read-only", "numpy scalar", "0-d array"]),
                              label=f"{name} variation")
        good = args[position]
        if kind == "buffer" and variation == "misaligned" and good.dtype.itemsize > 1:
            raw = np.zeros(good.nbytes + 1, "uint8")
            shifted = raw[1:].view(good.dtype).reshape(good.shape)
            shifted[...] = good
            args[position] = shifted
        elif kind == "buffer" and variation == "drawn layout":
            args[position] = draw_layout(data, good, name)
        elif kind == "buffer" and variation == "read-only" and not output:
            good.flags.writeable = False
        elif kind == "scalar" and variation == "numpy scalar":
            args[position] = np.dtype(dtype).type(good)
        elif kind == "scalar" and variation == "0-d array":
            args[position] = np.array(good, dtype=dtype)
    workload.mod(*args)
    _check_results(workload, args)


# ---------------------------------------------------------------------------------------
# bounds checks on data-dependent indices

def _gather_module(schedule: str):
    """Out[i] = A[Index[i]]: every index comes from the data."""
    n, m = te.var("n"), te.var("m")
    A = te.placeholder((n,), name="A")
    index = te.placeholder((m,), "int32", name="Index")
    out = te.compute((m,), lambda i: A[index[i]], name="Out")
    sched = tl.create_schedule(out)
    if schedule == "vectorized":
        _, inner = sched[out].split(out.op.axis[0], factor=4)
        sched[out].vectorize(inner)
    elif schedule == "parallel":
        outer, _ = sched[out].split(out.op.axis[0], factor=2)
        sched[out].parallel(outer)
    return tl.build(sched, [A, index, out], target="llvm", bounds_check=True,
                    name=f"gather_{schedule}")


def _strided_module():
    """Out[i, j] = A[i * step + offset, j]: the row index comes from scalar arguments."""
    n, m = te.var("n"), te.var("m")
    step, offset = te.var("step"), te.var("offset")
    A = te.placeholder((n, 3), name="A")
    out = te.compute((m, 3), lambda i, j: A[i * step + offset, j], name="Out")
    sched = tl.create_schedule(out)
    sched[out].vectorize(out.op.axis[1])
    return tl.build(sched, [A, step, offset, out], target="llvm", bounds_check=True,
                    name="strided_rows")


@pytest.fixture(scope="module")
def gather_modules():
    return {schedule: _gather_module(schedule)
            for schedule in ["serial", "vectorized", "parallel"]}


@pytest.fixture(scope="module")
def strided_module():
    return _strided_module()


@settings(max_examples=120, deadline=None, derandomize=True)
@given(data=st.data())
def test_bounds_checked_gather_raises_index_error(gather_modules, data):
    schedule = data.draw(st.sampled_from(sorted(gather_modules)), label="schedule")
    n = data.draw(st.integers(1, 9), label="n")
    indices = data.draw(st.lists(st.one_of(st.integers(0, n - 1), st.integers(-n - 3, n + 3),
                                           st.sampled_from([-2 ** 31, 2 ** 31 - 1])),
                                 min_size=0, max_size=11), label="indices")
    a = np.arange(1, n + 1, dtype="float32")
    index = np.array(indices, dtype="int32")
    out = np.full(len(indices), -1, "float32")
    bad = [i for i in indices if not 0 <= i < n]
    if bad:
        with pytest.raises(IndexError) as caught:
            gather_modules[schedule](a, index, out)
        message = str(caught.value)
        assert "buffer 'A'" in message and f"extent {n}" in message, message
        reported = int(message.split("index ", 1)[1].split(" ", 1)[0])
        assert reported in bad, message
    else:
        gather_modules[schedule](a, index, out)
        np.testing.assert_array_equal(out, a[index])


@settings(max_examples=60, deadline=None, derandomize=True)
@given(n=st.integers(1, 8), m=st.integers(0, 6), step=st.integers(-3, 3),
       offset=st.integers(-2, 8))
def test_bounds_checked_scalar_computed_index(strided_module, n, m, step, offset):
    a = np.arange(n * 3, dtype="float32").reshape(n, 3)
    out = np.zeros((m, 3), "float32")
    rows = [i * step + offset for i in range(m)]
    if any(not 0 <= r < n for r in rows):
        with pytest.raises(IndexError, match=r"dimension 0 of buffer 'A' with extent "
                                             rf"{n}"):
            strided_module(a, step, offset, out)
    else:
        strided_module(a, step, offset, out)
        np.testing.assert_array_equal(out, a[rows].reshape(m, 3))


# ---------------------------------------------------------------------------------------
# the environment

@pytest.mark.parametrize("threads", ["0", "-3", "two", "100000", "3000000000"])
def test_unusable_thread_counts_raise_value_error(monkeypatch, threads):
    """The OpenMP runtime would kill the process when asked for more threads than the
    system starts (or for a count that wraps around); the call raises instead."""
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: A[i] + 1, name="B")
    sched = tl.create_schedule(B)
    sched[B].parallel(B.op.axis[0])
    mod = tl.build(sched, [A, B], target="llvm", name="add_one_parallel")
    a, b = np.arange(64, dtype="float32"), np.zeros(64, "float32")
    monkeypatch.setenv("TL_NUM_THREADS", threads)
    with pytest.raises(ValueError, match="TL_NUM_THREADS"):
        mod(a, b)
    monkeypatch.setenv("TL_NUM_THREADS", "3")
    mod(a, b)
    np.testing.assert_array_equal(b, a + 1)
