"""Accuracy of the LLVM math functions (tensorlang.target.llvm.math) against numpy.

Each function is compiled into a small JIT kernel that walks an array with 16-lane vectors
and finishes with a scalar tail, then compared with numpy (or a float64 reference rounded
to the tested type) on ~1e5 values that span the whole range and the special values.
"""
from __future__ import annotations

import ctypes
import functools
import math
import re
import time

import llvmlite.binding as llvm
import numpy as np
import pytest
from llvmlite import ir

from tensorlang.errors import BuildError, InternalError
from tensorlang.target.llvm.math import SUPPORTED_FUNCTIONS, emit_math
from tensorlang.tir.datatype import DataType

VECTOR_WIDTH = 16
FLOAT32_TOLERANCE = 2e-6
FLOAT32_TINY = np.finfo(np.float32).tiny
SMALLEST_SUBNORMAL = np.float32(2.0 ** -149)
_LLVM_ELEMENT = {16: ir.HalfType, 32: ir.FloatType, 64: ir.DoubleType}
_NUMPY_ELEMENT = {16: np.float16, 32: np.float32, 64: np.float64}
POLYNOMIAL_FUNCTIONS = ("exp", "exp2", "log", "log2", "log10", "tanh", "sigmoid", "erf",
                        "pow")


# ---------------------------------------------------------------------------------------
# JIT harness
@functools.lru_cache(maxsize=None)
def _target_machine():
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                        features=llvm.get_host_cpu_features().flatten(),
                                        opt=3)


def _build_kernel_ir(name: str, bits: int, arity: int, vector_width: int) -> str:
    """``void kernel(ptr x0, [ptr x1,] ptr out, i64 n)``: out[i] = name(x0[i], ...), with
    ``vector_width``-lane vectors while a whole vector fits and scalars for the rest."""
    module = ir.Module(name=f"math_{name}")
    element = _LLVM_ELEMENT[bits]()
    index_type = ir.IntType(64)
    pointer = ir.PointerType()
    function = ir.Function(module, ir.FunctionType(ir.VoidType(),
                                                   [pointer] * (arity + 1) + [index_type]),
                           "kernel")
    *inputs, output, count = function.args
    builder = ir.IRBuilder(function.append_basic_block("entry"))
    entry = builder.block
    vector_check = function.append_basic_block("vector_check")
    vector_body = function.append_basic_block("vector_body")
    scalar_check = function.append_basic_block("scalar_check")
    scalar_body = function.append_basic_block("scalar_body")
    done = function.append_basic_block("done")
    builder.branch(vector_check)

    def body(index, lanes):
        llvm_type = element if lanes == 1 else ir.VectorType(element, lanes)
        args = [builder.load(builder.gep(x, [index], source_etype=element), typ=llvm_type,
                             align=bits // 8) for x in inputs]
        result = emit_math(builder, name, args, DataType("float", bits, lanes))
        builder.store(result, builder.gep(output, [index], source_etype=element),
                      align=bits // 8)
        return builder.add(index, ir.Constant(index_type, lanes))

    builder.position_at_end(vector_check)
    vector_index = builder.phi(index_type)
    vector_index.add_incoming(ir.Constant(index_type, 0), entry)
    fits = builder.icmp_signed("<=", builder.add(vector_index,
                                                 ir.Constant(index_type, vector_width)), count)
    builder.cbranch(fits, vector_body, scalar_check)
    builder.position_at_end(vector_body)
    vector_index.add_incoming(body(vector_index, vector_width), builder.block)
    builder.branch(vector_check)

    builder.position_at_end(scalar_check)
    scalar_index = builder.phi(index_type)
    scalar_index.add_incoming(vector_index, vector_check)
    builder.cbranch(builder.icmp_signed("<", scalar_index, count), scalar_body, done)
    builder.position_at_end(scalar_body)
    scalar_index.add_incoming(body(scalar_index, 1), builder.block)
    builder.branch(scalar_check)
    builder.position_at_end(done)
    builder.ret_void()
    # Use the full 512-bit registers where the CPU has them (LLVM prefers 256 otherwise).
    text = re.sub(r"^(define [^\n]*)$", r"\1 #0", str(module), count=1, flags=re.MULTILINE)
    return text + '\nattributes #0 = { "prefer-vector-width"="512" }\n'


class _Kernel:
    """A compiled kernel with its engine (which must stay alive) and assembly."""

    def __init__(self, ir_text: str, bits: int, arity: int):
        machine = _target_machine()
        module = llvm.parse_assembly(ir_text)
        module.verify()
        module.triple = machine.triple
        module.data_layout = str(machine.target_data)
        options = llvm.create_pipeline_tuning_options(speed_level=3)
        pass_builder = llvm.create_pass_builder(machine, options)
        pass_builder.getModulePassManager().run(module, pass_builder)
        self.assembly = machine.emit_assembly(module)
        self.engine = llvm.create_mcjit_compiler(module, machine)
        self.engine.finalize_object()
        address = self.engine.get_function_address("kernel")
        self.function = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * (arity + 1),
                                         ctypes.c_int64)(address)
        self.numpy_type = _NUMPY_ELEMENT[bits]
        self.arity = arity

    def __call__(self, *arrays):
        arrays = [np.ascontiguousarray(a, dtype=self.numpy_type) for a in arrays]
        assert len(arrays) == self.arity
        out = np.empty_like(arrays[0])
        self.function(*[a.ctypes.data for a in arrays], out.ctypes.data, out.size)
        return out


@functools.lru_cache(maxsize=None)
def compiled(name: str, bits: int = 32, vector_width: int = VECTOR_WIDTH) -> _Kernel:
    """The kernel applying ``name`` to float``bits`` arrays, compiled once per session."""
    arity = 2 if name == "pow" else 1
    return _Kernel(_build_kernel_ir(name, bits, arity, vector_width), bits, arity)


# ---------------------------------------------------------------------------------------
# inputs and references
SPECIALS = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 10.0, np.inf, -np.inf, np.nan,
                     FLOAT32_TINY, -FLOAT32_TINY, SMALLEST_SUBNORMAL, 1e-30, -1e-30,
                     88.72283, 88.72284, 89.0, -87.33654, -103.97208, -104.0, 0.625,
                     -0.625, 0.921875, 3.92, 4.0, 9.0, 3.4e38, -3.4e38], dtype=np.float32)


def _log_spaced(rng, low_exponent, high_exponent, size, signed=True):
    values = 10.0 ** rng.uniform(low_exponent, high_exponent, size)
    if signed:
        values *= rng.choice([-1.0, 1.0], size)
    return values


def inputs_for(name: str, size: int = 100_000, seed: int = 0) -> np.ndarray:
    """Random float32 inputs covering the interesting range of ``name`` + special values
    (the length is not a multiple of the vector width, so the scalar tail runs too)."""
    rng = np.random.default_rng(seed)
    quarter = size // 4
    if name in ("log", "log2", "log10", "sqrt", "rsqrt"):
        # every positive float32, subnormals included, by random bit patterns
        bits = rng.integers(1, 0x7F800000, 2 * quarter, dtype=np.uint32)
        parts = [bits.view(np.float32), 1.0 + rng.uniform(-0.3, 0.3, quarter),
                 rng.uniform(0, 100, quarter)]
    else:
        span = {"exp": (-110, 92), "exp2": (-155, 132), "sigmoid": (-120, 120),
                "tanh": (-12, 12), "erf": (-5, 5)}.get(name, (-1e3, 1e3))
        parts = [rng.uniform(*span, 2 * quarter), _log_spaced(rng, -40, 1.5, quarter),
                 rng.uniform(-3, 3, quarter)]
        if name in ("floor", "ceil", "trunc", "round"):
            parts.append(np.arange(-40, 40) / 4.0 + 0.5)  # halves: ties go to even
    values = np.concatenate([SPECIALS] + parts).astype(np.float32)
    assert len(values) % VECTOR_WIDTH != 0
    return values


def reference(name: str, *arrays: np.ndarray) -> np.ndarray:
    """The expected results, in the dtype of the inputs."""
    dtype = arrays[0].dtype
    if name in ("sigmoid", "erf"):
        # numpy has neither: evaluate in float64 (math.erf) and round once
        wide = arrays[0].astype(np.float64)
        with np.errstate(over="ignore"):
            if name == "sigmoid":
                expected = 1.0 / (1.0 + np.exp(-wide))
            else:
                expected = np.frompyfunc(math.erf, 1, 1)(wide).astype(np.float64)
        return expected.astype(dtype)
    numpy_function = {"fabs": np.fabs, "round": np.round, "rsqrt": lambda x: 1 / np.sqrt(x),
                      "pow": np.power}.get(name) or getattr(np, name)
    with np.errstate(all="ignore"):
        return numpy_function(*arrays).astype(dtype)


def max_relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    """Largest relative error where the expected value is a finite normal number; asserts
    that everything else (nan, inf, zero, subnormal results) matches within one subnormal
    step per ulp, so the relative figure is not hiding anything."""
    got64, expected64 = got.astype(np.float64), expected.astype(np.float64)
    nan = np.isnan(expected64)
    np.testing.assert_array_equal(np.isnan(got64), nan, err_msg="nan positions differ")
    infinite = np.isinf(expected64)
    np.testing.assert_array_equal(got64[infinite], expected64[infinite])
    finite = ~nan & ~infinite
    tiny = np.finfo(expected.dtype).tiny
    normal = finite & (np.abs(expected64) >= tiny)
    below = finite & ~normal
    # ulp-aware near zero: subnormal / zero results may differ by a couple of their steps
    step = float(np.finfo(expected.dtype).smallest_subnormal)
    assert np.all(np.abs(got64[below] - expected64[below]) <= 2 * step), \
        f"subnormal results differ: got {got[below]}, expected {expected[below]}"
    if not normal.any():
        return 0.0
    errors = np.abs(got64[normal] - expected64[normal]) / np.abs(expected64[normal])
    return float(errors.max())


MEASURED: dict[str, float] = {}


# ---------------------------------------------------------------------------------------
# float32: polynomial expansions and intrinsics
UNARY_FLOAT32 = ("exp", "exp2", "log", "log2", "log10", "tanh", "sigmoid", "erf", "sqrt",
                 "rsqrt", "fabs", "floor", "ceil", "trunc", "round")


@pytest.mark.parametrize("name", UNARY_FLOAT32)
@pytest.mark.parametrize("vector_width", [VECTOR_WIDTH, 1])
def test_float32_matches_numpy(name, vector_width):
    x = inputs_for(name)
    got = compiled(name, 32, vector_width)(x)
    error = max_relative_error(got, reference(name, x))
    MEASURED[f"{name} float32 (width {vector_width})"] = error
    exact = name in ("sqrt", "fabs", "floor", "ceil", "trunc", "round")
    assert error <= (0.0 if exact else FLOAT32_TOLERANCE), f"{name}: max relative {error}"


def pow_inputs(size: int = 100_000, seed: int = 1):
    rng = np.random.default_rng(seed)
    half = size // 2
    base = np.concatenate([_log_spaced(rng, -12, 12, half, signed=False),
                           _log_spaced(rng, -3, 3, half)])
    exponent = np.concatenate([rng.uniform(-12, 12, half),
                               np.round(rng.uniform(-30, 30, half))])
    # every pairing of the special values (C99 Annex F cases)
    specials = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, 2.5, -2.5,
                         np.inf, -np.inf, np.nan, 1e-45, 1e30, -1e30], dtype=np.float32)
    grid_x, grid_y = np.meshgrid(specials, specials)
    return (np.concatenate([base, grid_x.ravel()]).astype(np.float32),
            np.concatenate([exponent, grid_y.ravel()]).astype(np.float32))


@pytest.mark.parametrize("vector_width", [VECTOR_WIDTH, 1])
def test_float32_pow_matches_numpy(vector_width):
    x, y = pow_inputs()
    got = compiled("pow", 32, vector_width)(x, y)
    expected = reference("pow", x, y)
    error = max_relative_error(got, expected)
    MEASURED[f"pow float32 (width {vector_width})"] = error
    assert error <= FLOAT32_TOLERANCE
    # signs of zeros and infinities follow C99 too (pow(-0, -3) = -inf, pow(-0, 3) = -0)
    zero_or_inf = (expected == 0) | np.isinf(expected)
    np.testing.assert_array_equal(np.signbit(got[zero_or_inf]),
                                  np.signbit(expected[zero_or_inf]))


@pytest.mark.parametrize("name,x,expected", [
    ("exp", [-np.inf, 1000.0, 89.0, np.nan], [0.0, np.inf, np.inf, np.nan]),
    ("log", [0.0, -0.0, -1.0, -np.inf, np.inf], [-np.inf, -np.inf, np.nan, np.nan, np.inf]),
    ("log2", [0.0, 8.0, 2.0 ** -140, -2.0], [-np.inf, 3.0, -140.0, np.nan]),
    ("tanh", [50.0, -50.0, np.inf, -np.inf, -0.0], [1.0, -1.0, 1.0, -1.0, -0.0]),
    ("sigmoid", [np.inf, -np.inf, 200.0, -200.0], [1.0, 0.0, 1.0, 0.0]),
    ("erf", [np.inf, -np.inf, 10.0, -0.0], [1.0, -1.0, 1.0, -0.0]),
    ("round", [0.5, 1.5, 2.5, -0.5, -2.5], [0.0, 2.0, 2.0, -0.0, -2.0]),
])
def test_float32_edge_values(name, x, expected):
    got = compiled(name)(np.array(x * 3, dtype=np.float32))  # vector and scalar lanes
    expected = np.array(expected * 3, dtype=np.float32)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


def test_sigmoid_stays_in_unit_interval():
    x = inputs_for("sigmoid")
    got = compiled("sigmoid")(x)
    finite = ~np.isnan(x)
    assert np.all((got[finite] >= 0) & (got[finite] <= 1))


@pytest.mark.parametrize("name", ["exp", "tanh"])
@pytest.mark.parametrize("vector_width", [4, 8])
def test_float32_other_vector_widths(name, vector_width):
    x = inputs_for(name, 4000, seed=3)
    got = compiled(name, 32, vector_width)(x)
    assert max_relative_error(got, reference(name, x)) <= FLOAT32_TOLERANCE


@pytest.mark.parametrize("name", POLYNOMIAL_FUNCTIONS)
def test_float32_polynomials_make_no_calls(name):
    # inline vector code: the compiled kernel calls no library function at all
    assembly = compiled(name).assembly
    calls = [line for line in assembly.splitlines() if line.strip().startswith("call")]
    assert calls == []
    assert "zmm" in assembly or "ymm" in assembly or "xmm" in assembly


# ---------------------------------------------------------------------------------------
# float64 (libm per element) and float16 (through float32)
@pytest.mark.parametrize("name", sorted(SUPPORTED_FUNCTIONS))
def test_float64_matches_numpy(name):
    if name == "pow":
        x, y = (a.astype(np.float64) for a in pow_inputs(5000))
        arrays = (x, y)
    else:
        arrays = (inputs_for(name, 5000).astype(np.float64),)
    got = compiled(name, 64)(*arrays)
    if name in ("sigmoid", "erf"):
        wide = arrays[0]
        with np.errstate(over="ignore"):
            expected = (1.0 / (1.0 + np.exp(-wide)) if name == "sigmoid"
                        else np.frompyfunc(math.erf, 1, 1)(wide).astype(np.float64))
    else:
        expected = reference(name, *arrays)
    error = max_relative_error(got, expected)
    MEASURED[f"{name} float64"] = error
    assert error <= 1e-14


@pytest.mark.parametrize("name", sorted(SUPPORTED_FUNCTIONS))
@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_float16_matches_float32_rounded(name):
    if name == "pow":
        x, y = pow_inputs(5000)
        arrays16 = (x.astype(np.float16), np.clip(y, -12, 12).astype(np.float16))
    else:
        arrays16 = (inputs_for(name, 5000).astype(np.float16),)
    got = compiled(name, 16)(*arrays16)
    # computing in float32 and rounding once is within one float16 step of the truth
    expected32 = reference(name, *(a.astype(np.float32) for a in arrays16))
    expected = expected32.astype(np.float16)
    finite = np.isfinite(expected) & np.isfinite(got)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(got[~finite & ~np.isnan(got)],
                                  expected[~finite & ~np.isnan(got)])
    difference = np.abs(got[finite].astype(np.float64) - expected[finite])
    assert np.all(difference <= np.spacing(np.abs(expected[finite])).astype(np.float64))


def test_sin_cos_float32_call_libm_and_match_numpy():
    x = np.random.default_rng(5).uniform(-100, 100, 10_007).astype(np.float32)
    for name in ("sin", "cos"):
        got = compiled(name)(x)
        np.testing.assert_allclose(got, reference(name, x), rtol=0, atol=1e-6)
        assert ("sinf" if name == "sin" else "cosf") in compiled(name).assembly


# ---------------------------------------------------------------------------------------
# errors
def _builder_with_argument(llvm_type):
    module = ir.Module()
    function = ir.Function(module, ir.FunctionType(llvm_type, [llvm_type]), "f")
    return ir.IRBuilder(function.append_basic_block()), function.args[0]


def test_integer_and_bfloat_types_are_refused():
    builder, arg = _builder_with_argument(ir.IntType(32))
    with pytest.raises(BuildError, match="exp.*int32.*float32"):
        emit_math(builder, "exp", [arg], DataType("int", 32))
    builder, arg = _builder_with_argument(ir.IntType(16))
    with pytest.raises(BuildError, match="bfloat16"):
        emit_math(builder, "tanh", [arg], DataType("bfloat", 16))


def test_compiler_mistakes_are_internal_errors():
    builder, arg = _builder_with_argument(ir.FloatType())
    with pytest.raises(InternalError, match="unknown math function 'gamma'"):
        emit_math(builder, "gamma", [arg], DataType("float", 32))
    with pytest.raises(InternalError, match="pow takes 2"):
        emit_math(builder, "pow", [arg], DataType("float", 32))
    with pytest.raises(InternalError, match="expected <4 x float>"):
        emit_math(builder, "exp", [arg], DataType("float", 32, 4))


# ---------------------------------------------------------------------------------------
# informative timing (never asserted: performance lives in benchmarks/)
def test_print_exp_speed_against_numpy(capsys):
    x = np.random.default_rng(7).uniform(-80, 80, 1 << 20).astype(np.float32)
    kernel = compiled("exp")

    def best_of(function, repeats=5):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
        return min(times)

    ours, theirs = best_of(lambda: kernel(x)), best_of(lambda: np.exp(x))
    np.testing.assert_allclose(kernel(x), np.exp(x), rtol=FLOAT32_TOLERANCE)
    with capsys.disabled():
        print(f"\nexp float32 over 2^20 values: tensorlang {ours * 1e3:.3f} ms, "
              f"numpy {theirs * 1e3:.3f} ms ({theirs / ours:.2f}x)")
        for key in sorted(MEASURED):
            print(f"  max relative error {key}: {MEASURED[key]:.3g}")
