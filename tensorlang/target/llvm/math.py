"""Math functions (exp, log, tanh, erf, pow, ...) emitted as LLVM IR for the CPU backend.

:func:`emit_math` turns one intrinsic call of the loop IR into LLVM instructions on a scalar
or a whole vector, so that a vectorized loop stays vectorized:

- float32 ``exp exp2 log log2 log10 tanh sigmoid erf pow`` are inline range reductions and
  polynomials in the Cephes tradition, built from vector instructions (exponent tricks go
  through a bitcast to ``<N x i32>``), never per-element library calls.  They stay within
  2e-6 relative of numpy's float32 results in the normal range and follow numpy at the
  edges: ``exp(-inf) = 0``, ``exp(large) = inf``, ``log(0) = -inf``, ``log(<0) = nan``,
  ``tanh`` saturates at +-1, ``sigmoid`` stays in [0, 1], nan stays nan.
- ``sqrt fabs floor ceil trunc round`` are LLVM intrinsics (``round`` is ``llvm.roundeven``:
  halves go to even, like numpy) which become vector instructions; ``rsqrt`` is ``1/sqrt``.
- float64 calls libm (``exp``, ``log``, ...) element by element: exact rather than fast.
- ``sin`` and ``cos`` call libm (``sinf`` / ``cosf``) element by element for every type.
- float16 widens to float32, computes there, and rounds back.

Example, inside code generation::

    value = emit_math(builder, "exp", [vector], tl_dtype("float32x16"))
"""
from __future__ import annotations

import math

from llvmlite import ir

from ...errors import BuildError, InternalError
from ...tir.datatype import DataType

# Name of the LLVM intrinsic of each function that LLVM lowers to one instruction.
_LLVM_INTRINSICS = {"sqrt": "llvm.sqrt", "fabs": "llvm.fabs", "floor": "llvm.floor",
                    "ceil": "llvm.ceil", "trunc": "llvm.trunc", "round": "llvm.roundeven"}

# libm functions called element by element, per element bit width.
_LIBM = {
    32: {"sin": "sinf", "cos": "cosf"},
    64: {name: name for name in ("exp", "exp2", "log", "log2", "log10", "tanh", "erf",
                                 "pow", "sin", "cos")},
}

_ARITY = {"pow": 2}

#: The function names :func:`emit_math` accepts.
SUPPORTED_FUNCTIONS = frozenset(("exp", "exp2", "log", "log2", "log10", "sqrt", "rsqrt", "tanh",
                                 "sigmoid", "erf", "fabs", "floor", "ceil", "round", "trunc",
                                 "pow", "sin", "cos"))

_FLOAT32_MIN_NORMAL = 1.1754943508222875e-38
_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453


def emit_math(builder: ir.IRBuilder, name: str, args: list[ir.Value], dtype) -> ir.Value:
    """Emit ``name(*args)`` for values of tensorlang type ``dtype`` and return the result.

    ``dtype`` is a float16/float32/float64 scalar or vector type (``float32x16``); ``args``
    are LLVM values of the matching LLVM type.  Example::

        y = emit_math(builder, "pow", [x, e], DataType("float", 32, 16))
    """
    if not isinstance(dtype, DataType):
        raise InternalError(f"emit_math expects a DataType, got {dtype!r}")
    if dtype.kind != "float":
        raise BuildError(f"math function '{name}' on {dtype} is not supported by the LLVM "
                         f"backend; cast the argument to float32 with .astype(\"float32\")")
    if name not in SUPPORTED_FUNCTIONS:
        raise InternalError(f"emit_math: unknown math function {name!r}")
    if len(args) != _ARITY.get(name, 1):
        raise InternalError(f"emit_math: {name} takes {_ARITY.get(name, 1)} argument(s), "
                            f"got {len(args)}")
    math_builder = _MathBuilder(builder, dtype.bits, dtype.lanes)
    for arg in args:
        if arg.type != math_builder.float_type:
            raise InternalError(f"emit_math: {name} on {dtype} got an argument of LLVM type "
                                f"{arg.type}, expected {math_builder.float_type}")
    if dtype.bits == 16:
        # float16 has neither polynomials of its own nor a libm: compute in float32, where
        # every float16 value is exact, and round once at the end.
        wide = _MathBuilder(builder, 32, dtype.lanes)
        result = wide.apply(name, *(builder.fpext(arg, wide.float_type) for arg in args))
        return builder.fptrunc(result, math_builder.float_type)
    return math_builder.apply(name, *args)


class _MathBuilder:
    """Emits float instructions of one element width and lane count, with constants and
    intrinsics of the matching (vector) type."""

    def __init__(self, builder: ir.IRBuilder, bits: int, lanes: int):
        self.builder = builder
        self.bits = bits
        self.lanes = lanes
        element = {16: ir.HalfType(), 32: ir.FloatType(), 64: ir.DoubleType()}[bits]
        self.float_type = self._vector_of(element)
        # The integer type of the same width, for exponent bit tricks.
        self.int_type = self._vector_of(ir.IntType(bits))

    def _vector_of(self, element: ir.Type) -> ir.Type:
        return element if self.lanes == 1 else ir.VectorType(element, self.lanes)

    def with_bits(self, bits: int) -> "_MathBuilder":
        return _MathBuilder(self.builder, bits, self.lanes)

    # -- dispatch ----------------------------------------------------------------------
    def apply(self, name: str, *args: ir.Value) -> ir.Value:
        """The value of math function ``name`` at ``args`` (float32 or float64)."""
        if name in _LLVM_INTRINSICS:
            return self.intrinsic(_LLVM_INTRINSICS[name], *args)
        if name == "rsqrt":
            return self.builder.fdiv(self.const(1.0), self.intrinsic("llvm.sqrt", *args))
        libm_name = _LIBM[self.bits].get(name)
        if libm_name is not None:
            return self.call_per_element(libm_name, *args)
        if self.bits == 64 and name == "sigmoid":
            return _sigmoid(self, *args)
        return _FLOAT32_KERNELS[name](self, *args)

    # -- constants and instructions -----------------------------------------------------
    def const(self, value: float) -> ir.Constant:
        return self._splat(self.float_type, float(value))

    def int_const(self, value: int) -> ir.Constant:
        return self._splat(self.int_type, int(value))

    def _splat(self, llvm_type: ir.Type, value) -> ir.Constant:
        if self.lanes == 1:
            return ir.Constant(llvm_type, value)
        return ir.Constant(llvm_type, [value] * self.lanes)

    def intrinsic(self, name: str, *args: ir.Value) -> ir.Value:
        """Call the overloaded LLVM intrinsic ``name`` on values of this builder's type."""
        # Overloaded intrinsics carry their type in the name: llvm.fabs.f32, ...v16f32.
        suffix = {16: "f16", 32: "f32", 64: "f64"}[self.bits]
        if self.lanes > 1:
            suffix = f"v{self.lanes}{suffix}"
        full_name = f"{name}.{suffix}"
        function = self.builder.module.globals.get(full_name)
        if function is None:
            function_type = ir.FunctionType(args[0].type, [arg.type for arg in args])
            function = ir.Function(self.builder.module, function_type, full_name)
        return self.builder.call(function, list(args))

    def muladd(self, a: ir.Value, b: ir.Value, c: ir.Value) -> ir.Value:
        """``a * b + c``; ``llvm.fmuladd`` fuses where the CPU has FMA and stays correct
        (two roundings) where it has not, and every use here tolerates either."""
        return self.intrinsic("llvm.fmuladd", a, b, c)

    def polynomial(self, x: ir.Value, coefficients) -> ir.Value:
        """Horner evaluation of ``sum(c * x**k)``; coefficients from the highest degree."""
        result = self.const(coefficients[0])
        for coefficient in coefficients[1:]:
            result = self.muladd(result, x, self.const(coefficient))
        return result

    def less(self, a, b):
        return self.builder.fcmp_ordered("<", a, b)

    def greater(self, a, b):
        return self.builder.fcmp_ordered(">", a, b)

    def equal(self, a, b):
        return self.builder.fcmp_ordered("==", a, b)

    def is_nan(self, a):
        return self.builder.fcmp_unordered("uno", a, a)

    def select(self, condition, a, b):
        return self.builder.select(condition, a, b)

    def clamp(self, x, low: float, high: float):
        """``x`` limited to [low, high]; nan stays nan (the comparisons are false for it)."""
        x = self.select(self.greater(x, self.const(high)), self.const(high), x)
        return self.select(self.less(x, self.const(low)), self.const(low), x)

    def power_of_two(self, exponent_int: ir.Value) -> ir.Value:
        """``2.0**n`` for an integer vector ``n`` within the normal exponent range."""
        mantissa_bits = {32: 23, 64: 52}[self.bits]
        bias = {32: 127, 64: 1023}[self.bits]
        biased = self.builder.add(exponent_int, self.int_const(bias))
        bits = self.builder.shl(biased, self.int_const(mantissa_bits))
        return self.builder.bitcast(bits, self.float_type)

    def call_per_element(self, function_name: str, *args: ir.Value) -> ir.Value:
        """Call the scalar library function ``function_name`` on every lane."""
        module = self.builder.module
        element = args[0].type.element if self.lanes > 1 else args[0].type
        function_type = ir.FunctionType(element, [element] * len(args))
        function = module.globals.get(function_name)
        if function is None:
            function = ir.Function(module, function_type, function_name)
            # libm math functions only read their arguments (errno is not looked at), which
            # lets LLVM hoist and merge the calls.
            function.attributes.add("nounwind")
            function.attributes.add("readnone")
        elif function.function_type != function_type:
            raise InternalError(f"emit_math: '{function_name}' is already declared with type "
                                f"{function.function_type}, expected {function_type}")
        if self.lanes == 1:
            return self.builder.call(function, list(args))
        result = ir.Constant(self.float_type, ir.Undefined)
        for lane in range(self.lanes):
            index = ir.Constant(ir.IntType(32), lane)
            lane_args = [self.builder.extract_element(arg, index) for arg in args]
            value = self.builder.call(function, lane_args)
            result = self.builder.insert_element(result, value, index)
        return result


# ---------------------------------------------------------------------------------------
# float32 kernels.  Each takes float32 (vector) values and builds straight-line code.

# Cephes expf: exp(r) = 1 + r + r*r*P(r) for |r| <= ln2/2, relative error below 2^-23.
_EXP_POLYNOMIAL = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                   1.6666665459e-1, 5.0000001201e-1)
# ln2 split so that n * _LN2_HIGH is exact for the |n| <= 150 used here (Cody-Waite).
_LN2_HIGH = 0.693359375
_LN2_LOW = -2.12194440e-4


def _scale_by_power_of_two(m: _MathBuilder, value, exponent_int):
    """``value * 2**n`` for n in [-150, 128], rounding once into the subnormal range and
    overflowing to inf: two factors 2**(n//2) and 2**(n - n//2), each a normal number."""
    half = m.builder.ashr(exponent_int, m.int_const(1))
    rest = m.builder.sub(exponent_int, half)
    value = m.builder.fmul(value, m.power_of_two(half))
    return m.builder.fmul(value, m.power_of_two(rest))


def _exp_of_reduced(m: _MathBuilder, reduced, exponent_int):
    """``exp(reduced) * 2**n`` for |reduced| <= ln2/2."""
    square = m.builder.fmul(reduced, reduced)
    polynomial = m.polynomial(reduced, _EXP_POLYNOMIAL)
    value = m.muladd(polynomial, square, m.builder.fadd(reduced, m.const(1.0)))
    return _scale_by_power_of_two(m, value, exponent_int)


def _exp(m: _MathBuilder, x):
    # exp(x) = 2**n * exp(r), n = round(x / ln2), r = x - n*ln2.  Outside [-104, 89] the
    # result is 0 or inf in float32, which the clamped values still produce.
    clamped = m.clamp(x, -104.0, 89.0)
    n = m.intrinsic("llvm.roundeven", m.builder.fmul(clamped, m.const(_LOG2E)))
    reduced = m.muladd(n, m.const(-_LN2_HIGH), clamped)
    reduced = m.muladd(n, m.const(-_LN2_LOW), reduced)
    result = _exp_of_reduced(m, reduced, m.builder.fptosi(n, m.int_type))
    # nan went through float-to-int conversions (poison): pass it on explicitly.
    return m.select(m.is_nan(x), x, result)


def _exp2(m: _MathBuilder, x):
    # 2**x = 2**n * exp(f * ln2) with n = round(x), f = x - n exact.
    clamped = m.clamp(x, -151.0, 129.0)
    n = m.intrinsic("llvm.roundeven", clamped)
    reduced = m.builder.fmul(m.builder.fsub(clamped, n), m.const(_LN2))
    result = _exp_of_reduced(m, reduced, m.builder.fptosi(n, m.int_type))
    return m.select(m.is_nan(x), x, result)


# Cephes logf: log(1 + f) = f - f*f/2 + f**3 * P(f) for sqrt(1/2) - 1 <= f < sqrt(2) - 1.
_LOG_POLYNOMIAL = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                   1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                   3.3333331174e-1)


def _log_parts(m: _MathBuilder, x):
    """Split positive ``x`` into ``2**e * (1 + f)`` and return (e as float, f, log1p(f) - f).

    Subnormal inputs are first scaled by 2**23 into the normal range."""
    b = m.builder
    subnormal = m.less(x, m.const(_FLOAT32_MIN_NORMAL))
    x = m.select(subnormal, b.fmul(x, m.const(2.0 ** 23)), x)
    bias = m.select(subnormal, m.int_const(126 + 23), m.int_const(126))
    bits = b.bitcast(x, m.int_type)
    exponent = b.sub(b.lshr(bits, m.int_const(23)), bias)
    # The mantissa as a number in [0.5, 1).
    mantissa_bits = b.or_(b.and_(bits, m.int_const(0x007FFFFF)), m.int_const(0x3F000000))
    mantissa = b.bitcast(mantissa_bits, m.float_type)
    # Below sqrt(1/2) use 2*mantissa and one less exponent, so that f is centred on zero.
    small = m.less(mantissa, m.const(math.sqrt(0.5)))
    exponent = b.sub(exponent, b.zext(small, m.int_type))
    fraction = b.fsub(m.select(small, b.fadd(mantissa, mantissa), mantissa), m.const(1.0))
    square = b.fmul(fraction, fraction)
    tail = b.fmul(b.fmul(m.polynomial(fraction, _LOG_POLYNOMIAL), fraction), square)
    tail = m.muladd(square, m.const(-0.5), tail)
    return b.sitofp(exponent, m.float_type), fraction, tail


def _log_special_cases(m: _MathBuilder, x, result):
    """numpy's values at the edges: log(0) = -inf, log(inf) = inf, log(<0 or nan) = nan."""
    result = m.select(m.equal(x, m.const(math.inf)), m.const(math.inf), result)
    result = m.select(m.equal(x, m.const(0.0)), m.const(-math.inf), result)
    not_positive_or_nan = m.builder.fcmp_unordered("<", x, m.const(0.0))
    return m.select(not_positive_or_nan, m.const(math.nan), result)


def _natural_log(m: _MathBuilder, x):
    """log(x) for finite positive x, without the special cases."""
    exponent, fraction, tail = _log_parts(m, x)
    result = m.muladd(exponent, m.const(_LN2_LOW), tail)
    result = m.builder.fadd(fraction, result)
    return m.muladd(exponent, m.const(_LN2_HIGH), result)


def _log(m: _MathBuilder, x):
    return _log_special_cases(m, x, _natural_log(m, x))


def _log2(m: _MathBuilder, x):
    # e + log(1 + f) / ln2 keeps powers of two exact.
    exponent, fraction, tail = _log_parts(m, x)
    log1p = m.builder.fadd(fraction, tail)
    return _log_special_cases(m, x, m.muladd(log1p, m.const(_LOG2E), exponent))


def _log10(m: _MathBuilder, x):
    result = m.builder.fmul(_natural_log(m, x), m.const(math.log10(math.e)))
    return _log_special_cases(m, x, result)


# Cephes tanhf for |x| <= 0.625: tanh(x) = x + x * z * P(z), z = x*x.
_TANH_POLYNOMIAL = (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2,
                    1.33314422036e-1, -3.33332819422e-1)


def _tanh(m: _MathBuilder, x):
    b = m.builder
    magnitude = m.intrinsic("llvm.fabs", x)
    square = b.fmul(magnitude, magnitude)
    near_zero = m.muladd(b.fmul(m.polynomial(square, _TANH_POLYNOMIAL), square), magnitude,
                         magnitude)
    # 1 - 2 / (exp(2|x|) + 1): exp overflows to inf for large |x|, giving exactly 1.
    exp_twice = _exp(m, b.fadd(magnitude, magnitude))
    far = b.fsub(m.const(1.0), b.fdiv(m.const(2.0), b.fadd(exp_twice, m.const(1.0))))
    result = m.select(m.greater(magnitude, m.const(0.625)), far, near_zero)
    return m.intrinsic("llvm.copysign", result, x)


def _sigmoid(m: _MathBuilder, x):
    # With t = exp(-|x|) in (0, 1]: 1/(1+t) for x >= 0 and t/(1+t) below, so that nothing
    # overflows and tiny results keep their relative accuracy.
    b = m.builder
    t = m.apply("exp", b.fneg(m.intrinsic("llvm.fabs", x)))
    denominator = b.fadd(t, m.const(1.0))
    positive = b.fdiv(m.const(1.0), denominator)
    negative = b.fdiv(t, denominator)
    return m.select(b.fcmp_ordered(">=", x, m.const(0.0)), positive, negative)


# erf(x) = x * P(x*x) for |x| < _ERF_SPLIT and 1 - exp(Q(|x|)) above, Q approximating
# log(erfc(x)) up to |x| = 4, where erf(x) rounds to 1 in float32.  Minimax fits (Lawson
# iterations against the double precision erf/erfc), relative error below 2e-8 (P) and
# absolute error below 1.2e-8 in log(erfc) (Q).
_ERF_SPLIT = 0.921875
_ERF_SMALL_POLYNOMIAL = (-5.990884965285659e-4, 4.993187729269266e-3, -2.6766622439026833e-2,
                         1.128181666135788e-1, -3.7612494826316833e-1, 1.1283791065216064)
_ERF_LARGE_POLYNOMIAL = (1.602485781404539e-6, -4.5354492613114417e-5, 5.907144513912499e-4,
                         -4.73027816042304e-3, 2.633552812039852e-2, -1.0992516577243805e-1,
                         -6.319953799247742e-1, -1.130131483078003, 2.9427194385789335e-4)


def _erf(m: _MathBuilder, x):
    b = m.builder
    magnitude = m.clamp(m.intrinsic("llvm.fabs", x), 0.0, 4.0)
    small = b.fmul(m.polynomial(b.fmul(magnitude, magnitude), _ERF_SMALL_POLYNOMIAL),
                   magnitude)
    large = b.fsub(m.const(1.0), _exp(m, m.polynomial(magnitude, _ERF_LARGE_POLYNOMIAL)))
    result = m.select(m.less(magnitude, m.const(_ERF_SPLIT)), small, large)
    return m.intrinsic("llvm.copysign", result, x)


# pow works in float64 lanes: y * log2|x| must carry about 32 bits for the float32 result to
# stay within an ulp or two when it is large (|y * log2 x| up to ~150).
# log(m) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m-1)/(m+1), |s| <= 0.1716.
_ATANH_SERIES = tuple(1.0 / (2 * k + 1) for k in range(8, -1, -1))
# 2**f = exp(f ln2) by its Taylor series, |f ln2| <= 0.347: degree 10 errs below 1e-13.
_EXP_TAYLOR = tuple(1.0 / math.factorial(k) for k in range(10, -1, -1))


def _log2_float64(m64: _MathBuilder, x):
    """log2(x) in float64 lanes for x > 0 that came from float32 (so never subnormal)."""
    b = m64.builder
    bits = b.bitcast(x, m64.int_type)
    exponent = b.sub(b.lshr(bits, m64.int_const(52)), m64.int_const(1023))
    mantissa_bits = b.or_(b.and_(bits, m64.int_const((1 << 52) - 1)),
                          m64.int_const(1023 << 52))
    mantissa = b.bitcast(mantissa_bits, m64.float_type)  # in [1, 2)
    large = m64.greater(mantissa, m64.const(math.sqrt(2.0)))
    mantissa = m64.select(large, b.fmul(mantissa, m64.const(0.5)), mantissa)
    exponent = b.add(exponent, b.zext(large, m64.int_type))
    s = b.fdiv(b.fsub(mantissa, m64.const(1.0)), b.fadd(mantissa, m64.const(1.0)))
    series = m64.polynomial(b.fmul(s, s), _ATANH_SERIES)
    log_mantissa = b.fmul(b.fmul(series, s), m64.const(2.0 * _LOG2E))
    result = b.fadd(b.sitofp(exponent, m64.float_type), log_mantissa)
    result = m64.select(m64.equal(x, m64.const(0.0)), m64.const(-math.inf), result)
    result = m64.select(m64.equal(x, m64.const(math.inf)), m64.const(math.inf), result)
    return m64.select(m64.is_nan(x), x, result)


def _exp2_float64(m64: _MathBuilder, t):
    """2**t in float64 lanes, for t already limited to [-200, 200] (nan passes)."""
    b = m64.builder
    n = m64.intrinsic("llvm.roundeven", t)
    reduced = b.fmul(b.fsub(t, n), m64.const(_LN2))
    value = m64.polynomial(reduced, _EXP_TAYLOR)
    return b.fmul(value, m64.power_of_two(b.fptosi(n, m64.int_type)))


def _pow(m: _MathBuilder, x, y):
    b = m.builder
    m64 = m.with_bits(64)
    magnitude = b.fpext(m.intrinsic("llvm.fabs", x), m64.float_type)
    exponent = b.fpext(y, m64.float_type)
    # 2**(y log2|x|) in float64; beyond +-200 the float32 result is 0 or inf anyway.
    t = m64.clamp(b.fmul(exponent, _log2_float64(m64, magnitude)), -200.0, 200.0)
    power = _exp2_float64(m64, t)
    power = m64.select(m64.is_nan(t), t, power)
    result = b.fptrunc(power, m.float_type)
    # Signs and the C99/numpy special cases.
    is_integer = m.equal(m.intrinsic("llvm.floor", y), y)
    half = b.fmul(y, m.const(0.5))
    is_odd = b.and_(is_integer, b.fcmp_ordered("!=", m.intrinsic("llvm.floor", half), half))
    negative_x = b.icmp_signed("<", b.bitcast(x, m.int_type), m.int_const(0))
    result = m.select(b.and_(is_odd, negative_x), b.fneg(result), result)
    finite_negative = b.and_(m.less(x, m.const(0.0)), m.greater(x, m.const(-math.inf)))
    result = m.select(b.and_(finite_negative, b.not_(is_integer)), m.const(math.nan), result)
    # pow(+-1, +-inf) = 1, pow(1, anything) = 1, pow(anything, 0) = 1.
    unit = m.equal(m.intrinsic("llvm.fabs", x), m.const(1.0))
    infinite_y = m.equal(m.intrinsic("llvm.fabs", y), m.const(math.inf))
    one = b.or_(b.or_(b.and_(unit, infinite_y), m.equal(x, m.const(1.0))),
                m.equal(y, m.const(0.0)))
    return m.select(one, m.const(1.0), result)


_FLOAT32_KERNELS = {"exp": _exp, "exp2": _exp2, "log": _log, "log2": _log2, "log10": _log10,
                    "tanh": _tanh, "sigmoid": _sigmoid, "erf": _erf, "pow": _pow}
