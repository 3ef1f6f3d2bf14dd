"""Math intrinsics through LLVM intrinsics and libm, used where the vector math library
has no expansion for a function or type.

LLVM lowers a vector ``llvm.exp`` to one libm call per lane, so these are correct
everywhere but fast only for the functions LLVM has instructions for (sqrt, fabs, floor,
ceil, round, trunc).
"""
from __future__ import annotations

import llvmlite.ir as ir

from ...errors import BuildError
from .types import const_of

#: functions with an LLVM intrinsic of the same meaning (``llvm.<name>.<type>``)
_LLVM_INTRINSIC = {"exp": "exp", "exp2": "exp2", "log": "log", "log2": "log2",
                   "log10": "log10", "sqrt": "sqrt", "fabs": "fabs", "floor": "floor",
                   "ceil": "ceil", "trunc": "trunc", "sin": "sin", "cos": "cos",
                   "pow": "pow",
                   # numpy rounds halves to even, as llvm.roundeven does
                   "round": "roundeven"}
#: functions only libm has, by name for float32 and float64
_LIBM = {"tanh": ("tanhf", "tanh"), "erf": ("erff", "erf")}


def _intrinsic_suffix(ty: ir.Type) -> str:
    if isinstance(ty, ir.VectorType):
        return f"v{ty.count}{_intrinsic_suffix(ty.element)}"
    return {"float": "f32", "double": "f64", "half": "f16"}[str(ty)]


def _declare(module: ir.Module, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return ir.Function(module, ir.FunctionType(ret, args), name)


def emit_fallback_math(builder: ir.IRBuilder, name: str, args: list, dtype) -> ir.Value:
    """``name(*args)`` for float32/float64 scalars or vectors ``args`` of type ``dtype``."""
    module = builder.module
    ty = args[0].type
    if name in _LLVM_INTRINSIC:
        fn = _declare(module, f"llvm.{_LLVM_INTRINSIC[name]}.{_intrinsic_suffix(ty)}", ty,
                      [ty] * len(args))
        return builder.call(fn, args)
    if name == "rsqrt":
        root = emit_fallback_math(builder, "sqrt", args, dtype)
        return builder.fdiv(const_of(ty, 1.0), root)
    if name == "sigmoid":
        neg = builder.fsub(const_of(ty, 0.0), args[0])
        e = emit_fallback_math(builder, "exp", [neg], dtype)
        return builder.fdiv(const_of(ty, 1.0), builder.fadd(const_of(ty, 1.0), e))
    if name in _LIBM:
        element = ty.element if isinstance(ty, ir.VectorType) else ty
        libm_name = _LIBM[name][0 if str(element) == "float" else 1]
        fn = _declare(module, libm_name, element, [element])
        if not isinstance(ty, ir.VectorType):
            return builder.call(fn, args)
        result = ir.Constant(ty, ir.Undefined)
        for lane in range(ty.count):
            index = ir.Constant(ir.IntType(32), lane)
            value = builder.call(fn, [builder.extract_element(args[0], index)])
            result = builder.insert_element(result, value, index)
        return result
    raise BuildError(f"the llvm target has no implementation of the intrinsic {name!r}")
