"""Every operator of ``tensorlang.ops``, compiled for the CPU, against plain numpy.

Each operator is built twice, with its default schedule and with a typical CPU schedule
(injective producers inlined, every other stage split on its innermost spatial axis with
the inner part vectorized and the fused outer axes parallel), in up to four variants:
float32, an integer type (exact equality), float16 storage (float16 tolerance) and
symbolic sizes (``te.var`` dimensions bound by the arguments, called with two sizes).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

import tensorlang as tl
from tensorlang import ops, te
from tensorlang.te.graph import ComputeOp
from tensorlang.tir.expr import IntImm, Var

VECTOR_LANES = 4


# ---------------------------------------------------------------------------------------
# numpy references (float64 for floats; integer results in the output's own type)

def np_conv2d(x, w, stride, padding, dilation, multiplier=None):
    """Direct convolution summing one strided window per kernel tap; ``padding`` is
    (top, left, bottom, right).  With ``multiplier``, ``w`` is a depthwise kernel."""
    (sh, sw), (dh, dw), (top, left, bottom, right) = stride, dilation, padding
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    kh, kw = w.shape[2:]
    oh = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = 0
    for ry in range(kh):
        for rx in range(kw):
            patch = xp[:, :, ry * dh: ry * dh + sh * (oh - 1) + 1: sh,
                       rx * dw: rx * dw + sw * (ow - 1) + 1: sw]
            if multiplier is None:
                out = out + np.einsum("nchw,kc->nkhw", patch, w[:, :, ry, rx])
            else:
                out = out + np.repeat(patch, multiplier, axis=1) * \
                    w[:, :, ry, rx].reshape(1, -1, 1, 1)
    return out


def np_pool2d(x, kernel, stride, padding, pool_type):
    """NCHW pooling; average counts the padding (``count_include_pad``); integer averages
    round down."""
    (kh, kw), (sh, sw), (top, left, bottom, right) = kernel, stride, padding
    fill = -np.inf if pool_type == "max" else 0
    if pool_type == "max" and x.dtype.kind in "iu":
        fill = np.iinfo(x.dtype).min
    wide = x.astype(np.float64) if x.dtype.kind == "f" else x.astype(np.int64)
    xp = np.pad(wide, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)
    oh, ow = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    taps = [xp[:, :, ry: ry + sh * (oh - 1) + 1: sh, rx: rx + sw * (ow - 1) + 1: sw]
            for ry in range(kh) for rx in range(kw)]
    if pool_type == "max":
        return np.max(taps, axis=0)
    total = np.sum(taps, axis=0)
    return total // (kh * kw) if x.dtype.kind in "iu" else total / (kh * kw)


def np_softmax(x):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_layer_norm(x, gamma, beta, epsilon=1e-5):
    x = x.astype(np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma.astype(np.float64) + \
        beta.astype(np.float64)


def _wide(x):
    """An input as the float references take it: float64 (integers keep their type, so
    that element-wise integer results wrap exactly as compiled code does)."""
    return x.astype(np.float64) if x.dtype.kind == "f" else x


def _exact(x):
    """An input for a sum of products: float64, or int64 for integers (no overflow)."""
    return x.astype(np.float64) if x.dtype.kind == "f" else x.astype(np.int64)


# ---------------------------------------------------------------------------------------
# the operators

@dataclass
class OpCase:
    """An operator application: ``declare(dtype, dims)`` returns (inputs, output) for
    dimensions given as ints or ``te.var``s (``dims`` maps names to them); ``reference``
    computes the expected output from the numpy inputs.  ``sizes`` gives each dimension
    two concrete values (the symbolic variant calls with both, the others use the first);
    ``symbolic`` names the dimensions that the symbolic variant makes ``te.var``s;
    ``int_dtype`` is the integer variant's input type (None: float operators only)."""
    name: str
    declare: Callable
    reference: Callable
    sizes: dict
    symbolic: tuple = ()
    int_dtype: str | None = "int32"
    int_range: tuple = (-4, 5)
    variants: list = field(default_factory=list)


def _matmul(transpose_a, transpose_b, out_dtype=None):
    def declare(dtype, d):
        a_shape = (d["k"], d["m"]) if transpose_a else (d["m"], d["k"])
        b_shape = (d["n"], d["k"]) if transpose_b else (d["k"], d["n"])
        a = te.placeholder(a_shape, dtype, name="A")
        b = te.placeholder(b_shape, dtype, name="B")
        int_out = out_dtype if dtype == "int8" else None
        return [a, b], ops.matmul(a, b, transpose_a, transpose_b, out_dtype=int_out)

    def reference(a, b):
        a, b = _exact(a), _exact(b)
        return (a.T if transpose_a else a) @ (b.T if transpose_b else b)
    return declare, reference


def _batch_matmul(dtype, d):
    a = te.placeholder((d["b"], d["m"], d["k"]), dtype, name="A")
    b = te.placeholder((1, d["n"], d["k"]), dtype, name="B")
    return [a, b], ops.batch_matmul(a, b, transpose_b=True)


def _conv2d(stride, padding, dilation, pads):
    def declare(dtype, d):
        data = te.placeholder((1, 3, d["h"], d["w"]), dtype, name="data")
        kernel = te.placeholder((4, 3, 3, 2), dtype, name="kernel")
        out_dtype = "int32" if dtype == "int8" else None
        return [data, kernel], ops.conv2d_nchw(data, kernel, stride, padding, dilation,
                                               out_dtype=out_dtype)

    def reference(x, w):
        pair = (lambda v: (v, v) if isinstance(v, int) else v)
        return np_conv2d(_exact(x), _exact(w), pair(stride), pads, pair(dilation))
    return declare, reference


def _depthwise(dtype, d):
    data = te.placeholder((1, 3, d["h"], d["w"]), dtype, name="data")
    kernel = te.placeholder((3, 2, 3, 3), dtype, name="kernel")
    return [data, kernel], ops.depthwise_conv2d_nchw(data, kernel, stride=(1, 2), padding=1)


def _depthwise_reference(x, w):
    return np_conv2d(_wide(x), _wide(w), (1, 2), (1, 1, 1, 1), (1, 1), multiplier=2)


def _pool(pool_type):
    def declare(dtype, d):
        data = te.placeholder((1, 2, d["h"], d["w"]), dtype, name="data")
        return [data], ops.pool2d(data, kernel=3, stride=2, padding=1, pool_type=pool_type)

    def reference(x):
        return np_pool2d(x, (3, 3), (2, 2), (1, 1, 1, 1), pool_type)
    return declare, reference


def _softmax(dtype, d):
    x = te.placeholder((d["rows"], d["cols"]), dtype, name="x")
    return [x], ops.softmax(x)


def _layer_norm(dtype, d):
    x = te.placeholder((d["rows"], 2, d["cols"]), dtype, name="x")
    gamma = te.placeholder((d["cols"],), dtype, name="gamma")
    beta = te.placeholder((d["cols"],), dtype, name="beta")
    return [x, gamma, beta], ops.layer_norm(x, gamma, beta, axis=-1)


def _relu(dtype, d):
    x = te.placeholder((d["n"], d["m"]), dtype, name="x")
    return [x], ops.relu(x)


def _add(dtype, d):
    a = te.placeholder((d["n"], 4, d["m"]), dtype, name="A")
    b = te.placeholder((4, 1), dtype, name="B")
    return [a, b], ops.add(a, b)


def _multiply(dtype, d):
    a = te.placeholder((d["n"], 1, d["m"]), dtype, name="A")
    b = te.placeholder((3, 1), dtype, name="B")
    return [a, b], ops.multiply(a, b)


def _pad(dtype, d):
    x = te.placeholder((d["n"], d["m"]), dtype, name="x")
    return [x], ops.pad(x, (1, 2), (2, 1), pad_value=3)


def _transpose(dtype, d):
    x = te.placeholder((d["n"], d["m"], 3), dtype, name="x")
    return [x], ops.transpose(x, (2, 0, 1))


def _reshape(dtype, d):
    x = te.placeholder((d["n"], 6), dtype, name="x")
    return [x], ops.reshape(x, (d["n"] * 2, 3) if isinstance(d["n"], Var) else (-1, 3))


CASES = [
    OpCase("matmul", *_matmul(False, False, "int32"), {"m": (7, 12), "n": (9, 5),
                                                       "k": (6, 3)}, ("m", "k"), "int8"),
    OpCase("matmul_transpose_a", *_matmul(True, False), {"m": (5, 9), "n": (7, 4),
                                                         "k": (6, 2)}, ("m", "n")),
    OpCase("matmul_transpose_b", *_matmul(False, True), {"m": (6, 3), "n": (9, 11),
                                                         "k": (5, 7)}, ("n", "k"), None),
    OpCase("matmul_transpose_both", *_matmul(True, True), {"m": (5, 8), "n": (6, 3),
                                                           "k": (4, 9)}, ("m",), None),
    OpCase("batch_matmul", _batch_matmul,
           lambda a, b: _wide(a) @ np.swapaxes(_wide(b), 1, 2),
           {"b": (2, 3), "m": (5, 4), "n": (7, 9), "k": (3, 6)}, ("b", "n")),
    OpCase("conv2d_stride2_pad1", *_conv2d(2, 1, 1, (1, 1, 1, 1)),
           {"h": (9, 12), "w": (8, 7)}, ("h", "w"), "int8"),
    OpCase("conv2d_asymmetric_pad_dilation", *_conv2d((2, 1), (0, 1, 2, 0), (1, 2),
                                                      (0, 1, 2, 0)),
           {"h": (8, 11), "w": (9, 6)}, ("h",)),
    OpCase("depthwise_conv2d", _depthwise, _depthwise_reference,
           {"h": (7, 10), "w": (9, 6)}, ("h", "w")),
    OpCase("pool2d_max", *_pool("max"), {"h": (7, 10), "w": (8, 5)}, ("h", "w"), "int8"),
    OpCase("pool2d_avg", *_pool("avg"), {"h": (8, 9), "w": (7, 6)}, ("h", "w")),
    OpCase("softmax", _softmax, np_softmax, {"rows": (5, 3), "cols": (11, 6)},
           ("rows", "cols"), None),
    OpCase("layer_norm", _layer_norm, np_layer_norm, {"rows": (3, 5), "cols": (10, 7)},
           ("rows", "cols"), None),
    OpCase("relu", _relu, lambda x: np.maximum(x, 0), {"n": (5, 8), "m": (9, 3)},
           ("n", "m"), "int8"),
    OpCase("add_broadcast", _add, np.add, {"n": (2, 3), "m": (7, 5)}, ("n", "m"), "int8",
           int_range=(-128, 128)),
    OpCase("multiply_broadcast", _multiply, np.multiply, {"n": (2, 4), "m": (6, 9)},
           ("n", "m"), "int8", int_range=(-128, 128)),
    OpCase("pad", _pad, lambda x: np.pad(x, ((1, 2), (2, 1)), constant_values=3),
           {"n": (4, 6), "m": (5, 3)}, ("n", "m"), "int8"),
    OpCase("transpose", _transpose, lambda x: np.transpose(x, (2, 0, 1)),
           {"n": (4, 2), "m": (5, 7)}, ("n", "m")),
    OpCase("reshape", _reshape, lambda x: x.reshape(-1, 3), {"n": (5, 3)}, ("n",), "int8"),
]
for _case in CASES:
    _case.variants = ["float32", "float16", "symbolic"] + \
        ([_case.int_dtype] if _case.int_dtype else [])


# ---------------------------------------------------------------------------------------
# schedules

def cpu_schedule(output):
    """Inline every injective producer; split every other stage's innermost spatial axis
    by VECTOR_LANES, move the reduction loops outside the inner part, vectorize it and
    run the fused outer spatial axes in parallel."""
    sched = tl.create_schedule(output)
    stages = [stage for stage in sched.stages if isinstance(stage.op, ComputeOp)]
    for stage in stages:
        if stage.op is not output.op and not stage.op.reduce_axis:
            stage.compute_inline()
            continue
        spatial, reduce = list(stage.op.axis), list(stage.op.reduce_axis)
        outer_axis, inner_axis = stage.split(spatial[-1], factor=VECTOR_LANES)
        outer = spatial[:-1] + [outer_axis]
        fused = outer[0]
        for axis in outer[1:]:
            fused = stage.fuse(fused, axis)
        stage.reorder(fused, *reduce, inner_axis)
        stage.vectorize(inner_axis)
        stage.parallel(fused)
    return sched


# ---------------------------------------------------------------------------------------
# running a case

def _dims(case: OpCase, symbolic: bool) -> dict:
    return {name: te.var(name) if symbolic and name in case.symbolic else values[0]
            for name, values in case.sizes.items()}


def _concrete(shape, sizes: dict) -> tuple:
    """A placeholder shape with its variables replaced by ``sizes``."""
    values = []
    for dim in shape:
        if isinstance(dim, IntImm):
            values.append(dim.value)
        elif isinstance(dim, Var):
            values.append(sizes[dim.name])
        else:
            values.append(int(dim))
    return tuple(values)


def _random_inputs(case: OpCase, tensors, sizes: dict, rng) -> list[np.ndarray]:
    arrays = []
    for tensor in tensors:
        shape, dtype = _concrete(tensor.shape, sizes), np.dtype(str(tensor.dtype))
        if dtype.kind in "iu":
            low, high = case.int_range
            arrays.append(rng.integers(max(low, np.iinfo(dtype).min),
                                       min(high, np.iinfo(dtype).max + 1), shape)
                          .astype(dtype))
        else:
            arrays.append(rng.uniform(-1, 1, shape).astype(dtype))
    return arrays


def _tolerance(dtype: str) -> dict:
    if dtype == "float16":
        return {"rtol": 2e-2, "atol": 2e-2}
    return {"rtol": 2e-5, "atol": 2e-6}


def run_case(case: OpCase, variant: str) -> None:
    symbolic = variant == "symbolic"
    dtype = "float32" if symbolic else variant
    inputs, output = case.declare(dtype, _dims(case, symbolic))
    plain = tl.build(tl.create_schedule(output), inputs + [output], target="llvm",
                     name=f"{case.name}_plain")
    scheduled = tl.build(cpu_schedule(output), inputs + [output], target="llvm",
                         name=f"{case.name}_scheduled")
    rng = np.random.default_rng(len(case.name))
    calls = 2 if symbolic else 1
    for call in range(calls):
        sizes = {name: values[call] for name, values in case.sizes.items()}
        arrays = _random_inputs(case, inputs, sizes, rng)
        expected = case.reference(*arrays)
        out_dtype = np.dtype(str(output.dtype))
        for label, mod in (("default schedule", plain), ("cpu schedule", scheduled)):
            got = np.full(expected.shape, 99, dtype=out_dtype)
            mod(*arrays, got)
            message = f"{case.name} ({variant}, {label}, sizes {sizes})"
            if out_dtype.kind in "iu":
                assert np.array_equal(got, expected.astype(out_dtype)), message
            else:
                np.testing.assert_allclose(got.astype(np.float64), expected,
                                           err_msg=message, **_tolerance(dtype))


@pytest.mark.parametrize("case, variant", [
    pytest.param(case, variant, id=f"{case.name}-{variant}")
    for case in CASES for variant in case.variants])
def test_compiled_operator_matches_numpy(case, variant):
    run_case(case, variant)


def test_every_operator_is_covered():
    """Each operator of ``tensorlang.ops`` is applied in this file, and every case has
    its float16 and symbolic variants."""
    import inspect
    import sys
    source = inspect.getsource(sys.modules[__name__])
    for name in ops.__all__:
        if name != "broadcast_shape":
            assert f"ops.{name}(" in source or f"ops.{name}," in source, name
    for case in CASES:
        assert {"float32", "float16", "symbolic"} <= set(case.variants)


# ---------------------------------------------------------------------------------------
# the other element-wise operators, and integer division at its edges

def _vectorized(output):
    """The output split by VECTOR_LANES, vectorized inside and parallel outside."""
    sched = tl.create_schedule(output)
    outer, inner = sched[output].split(output.op.axis[-1], factor=VECTOR_LANES)
    sched[output].vectorize(inner)
    sched[output].parallel(outer)
    return sched


ELEMENTWISE = [  # (operator, numpy function, dtypes, input range)
    (ops.subtract, np.subtract, ["float32", "int8", "float16"], (-100, 100)),
    (ops.divide, np.divide, ["float32", "float16"], (0.5, 4)),
    (ops.maximum, np.maximum, ["float32", "int32", "uint8"], (0, 100)),
    (ops.minimum, np.minimum, ["float32", "int8"], (-100, 100)),
    (ops.floor_divide, np.floor_divide, ["int32", "int8", "uint8"], (-20, 20)),
    (ops.floor_mod, np.mod, ["int32", "int8", "uint16"], (-20, 20)),
    (ops.negative, np.negative, ["float32", "int32"], (-100, 100)),
    (lambda x: ops.cast(x, "int16"), lambda x: x.astype("int16"), ["float32", "int8"],
     (-100, 100)),
    (ops.exp, np.exp, ["float32", "float16"], (-5, 5)),
    (ops.log, np.log, ["float32"], (0.01, 10)),
    (ops.sqrt, np.sqrt, ["float32", "float16"], (0, 10)),
    (ops.tanh, np.tanh, ["float32"], (-5, 5)),
    (ops.sigmoid, lambda x: 1 / (1 + np.exp(-x.astype(np.float64))), ["float32"], (-8, 8)),
]


@pytest.mark.parametrize("operator, reference, dtype, value_range", [
    pytest.param(op, ref, dtype, value_range,
                 id=f"{getattr(op, '__name__', 'cast')}-{dtype}")
    for op, ref, dtypes, value_range in ELEMENTWISE for dtype in dtypes])
def test_elementwise_operators(operator, reference, dtype, value_range):
    n = te.var("n")
    a = te.placeholder((n, 7), dtype, name="A")
    unary = operator in (ops.negative, ops.exp, ops.log, ops.sqrt, ops.tanh, ops.sigmoid) \
        or getattr(operator, "__name__", "") == "<lambda>"
    b = None if unary else te.placeholder((7,), dtype, name="B")
    out = operator(a) if unary else operator(a, b)
    args = [a] + ([] if unary else [b]) + [out]
    rng = np.random.default_rng(3)
    low, high = value_range
    for sched in (tl.create_schedule(out), _vectorized(out)):
        mod = tl.build(sched, args, target="llvm")
        for rows in (3, 1):
            arrays = [rng.uniform(low, high, (rows, 7)).astype(dtype)] + \
                ([] if unary else [rng.uniform(low, high, 7).astype(dtype)])
            got = np.zeros((rows, 7), str(out.dtype))
            mod(*arrays, got)
            with np.errstate(all="ignore"):
                expected = reference(*arrays)
            if got.dtype.kind in "iu":
                np.testing.assert_array_equal(got, expected)
            else:
                np.testing.assert_allclose(got.astype(np.float64), expected,
                                           **_tolerance(dtype))


@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8", "int64"])
@pytest.mark.parametrize("operator, reference", [(ops.floor_divide, np.floor_divide),
                                                 (ops.floor_mod, np.mod)])
def test_integer_division_by_zero_and_overflow_gives_numpy_results(operator, reference,
                                                                    dtype):
    """A zero divisor gives 0, and the smallest value divided by -1 wraps, as in numpy;
    neither traps (the hardware division would kill the process)."""
    info = np.iinfo(dtype)
    a = te.placeholder((16,), dtype, name="A")
    b = te.placeholder((16,), dtype, name="B")
    out = operator(a, b)
    dividends = np.array([info.min, info.max, -7, 7, 0, 1, info.min, 5] * 2)
    divisors = np.array([-1, 0, 0, -1, 0, 3, 0, -2, 1, -1, 2, -3, 7, 0, 1, -1])
    x = np.clip(dividends, info.min, info.max).astype(dtype)
    y = (divisors % 256 if info.min == 0 else divisors).astype(dtype)
    with np.errstate(all="ignore"):
        expected = reference(x, y)
    for sched in (tl.create_schedule(out), _vectorized(out)):
        mod = tl.build(sched, [a, b, out], target="llvm")
        got = np.full(16, 99, dtype)
        mod(x, y, got)
        np.testing.assert_array_equal(got, expected)
