"""Code generation of TIR expressions into LLVM instructions.

The operator spellings live in tables keyed by node class; the visitor methods only choose
the table (integer, unsigned or float) and handle the cases that need more than one
instruction: floor division, casts, bfloat16 rounding, selects that must not evaluate the
branch not taken, ramps and broadcasts.
"""
from __future__ import annotations

import llvmlite.ir as ir

from ...errors import BuildError, InternalError
from ...tir import expr as E
from ...tir.datatype import DataType
from ...tir.extern_calls import extern_call, find_symbol
from ...tir.intrin_rules import unlowered
from ...tir.intrin_table import is_declared
from ...tir.functor import Visitor
from .fallback_math import emit_fallback_math
from .types import I1, I32, const_of, float_compute_type, value_type

try:  # vector polynomial expansions of the math functions, where available
    from .math import emit_math as _emit_math
except ImportError:  # pragma: no cover - depends on the math library being present
    _emit_math = None

#: integer arithmetic; the bool says whether signed overflow is undefined (nsw), which
#: lets LLVM widen 32-bit index arithmetic to 64-bit addresses as C compilers do
_INT_BINARY = {E.Add: "add", E.Sub: "sub", E.Mul: "mul"}
#: integer bitwise operators (``>>`` picks ashr or lshr by signedness)
_BITWISE_BINARY = {E.ShiftLeft: "shl", E.BitwiseAnd: "and_", E.BitwiseOr: "or_",
                   E.BitwiseXor: "xor"}
_FLOAT_BINARY = {E.Add: "fadd", E.Sub: "fsub", E.Mul: "fmul", E.Div: "fdiv"}
_COMPARE = {E.EQ: "==", E.NE: "!=", E.LT: "<", E.LE: "<=", E.GT: ">", E.GE: ">="}
#: NaN-propagating float min/max (numpy's np.minimum/np.maximum) by compare operator
_MIN_MAX_INTRINSIC = {"<": "llvm.minimum", ">": "llvm.maximum"}
#: fused multiply-add may be formed from fmul + fadd (as C compilers do by default)
_FLOAT_FLAGS = ("contract",)


def _has_memory_access(expr) -> bool:
    """Whether evaluating ``expr`` reads memory or may trap (so it must not be speculated)."""
    found = False

    class _Finder(Visitor):
        def visit_BufferLoad(self, node):
            nonlocal found
            found = True

        def visit_FloorDiv(self, node):
            nonlocal found
            if node.dtype.is_integer and not isinstance(node.b, (E.IntImm, E.Broadcast)):
                found = True
            self.generic_visit(node)

        visit_FloorMod = visit_Div = visit_FloorDiv

    _Finder().visit(expr)
    return found


def _constant_value(expr) -> int | None:
    """The value of an integer constant (or a broadcast of one), else None."""
    if isinstance(expr, E.Broadcast):
        expr = expr.value
    return expr.value if isinstance(expr, E.IntImm) else None


def _power_of_two(expr) -> int | None:
    """log2 of a positive power-of-two integer constant (or broadcast of one), else None."""
    if isinstance(expr, E.Broadcast):
        expr = expr.value
    if isinstance(expr, E.IntImm) and expr.value > 0 and expr.value & (expr.value - 1) == 0:
        return expr.value.bit_length() - 1
    return None


class ExprCodeGen(Visitor):
    """Expression half of the LLVM code generator (mixed into :class:`CodeGenLLVM`)."""

    builder: ir.IRBuilder
    var_values: dict
    #: lanes that are active while evaluating a branch of a vector select (None: all)
    mask: ir.Value | None = None

    # -- leaves ----------------------------------------------------------------------
    def visit_IntImm(self, node: E.IntImm):
        return ir.Constant(value_type(node.dtype), node.value)

    def visit_FloatImm(self, node: E.FloatImm):
        return ir.Constant(value_type(node.dtype), node.value)

    def visit_StringImm(self, node: E.StringImm):
        raise BuildError(f"the string {node.value!r} cannot be used as a value in compiled "
                         f"code")

    def visit_Var(self, node: E.Var):
        value = self.var_values.get(node)
        if value is None:
            raise BuildError(f"variable '{node.name}' is used but nothing defines it: it is "
                             f"not a parameter, a dimension of a parameter's shape, or a "
                             f"loop or let variable in scope; add it to the arguments")
        return value

    def visit_IterVar(self, node: E.IterVar):
        return self.visit(node.var)

    # -- arithmetic ------------------------------------------------------------------
    def visit_BinaryOp(self, node: E.BinaryOp):
        a, b = self.visit(node.a), self.visit(node.b)
        dtype, cls = node.dtype, type(node)
        if dtype.is_float:
            if cls not in _FLOAT_BINARY:
                raise BuildError(f"'{node}': {cls.__name__} is not defined on {dtype}")
            result = getattr(self.builder, _FLOAT_BINARY[cls])(a, b, flags=_FLOAT_FLAGS)
            return self.round_bfloat(result, dtype)
        if cls is E.Div:  # integer division produced by passes: C semantics
            divisor, is_zero = self._safe_divisor(node, a, b)
            quotient = (self.builder.sdiv if dtype.is_int else self.builder.udiv)(a, divisor)
            return self._zero_where(is_zero, quotient)
        if cls in _BITWISE_BINARY:
            return getattr(self.builder, _BITWISE_BINARY[cls])(a, b)
        if cls is E.ShiftRight:
            return (self.builder.ashr if dtype.is_int else self.builder.lshr)(a, b)
        if cls not in _INT_BINARY:
            raise InternalError(f"no code generation for {cls.__name__}")
        flags = ("nsw",) if dtype.is_int and dtype.bits >= 32 else ()
        return getattr(self.builder, _INT_BINARY[cls])(a, b, flags=flags)

    def visit_FloorDiv(self, node: E.FloorDiv):
        return self._floor_div_mod(node, want_quotient=True)

    def visit_FloorMod(self, node: E.FloorMod):
        return self._floor_div_mod(node, want_quotient=False)

    def _floor_div_mod(self, node, want_quotient: bool):
        b_ = self.builder
        a, b = self.visit(node.a), self.visit(node.b)
        if not node.dtype.is_integer:
            raise BuildError(f"'{node}': floor division needs integers, got {node.dtype}")
        shift = _power_of_two(node.b)
        if shift is not None and node.dtype.is_int:
            # two's complement shifts and masks round towards minus infinity already
            if want_quotient:
                return b_.ashr(a, const_of(a.type, shift))
            return b_.and_(a, const_of(a.type, (1 << shift) - 1))
        b, is_zero = self._safe_divisor(node, a, b)
        if node.dtype.is_uint:
            result = b_.udiv(a, b) if want_quotient else b_.urem(a, b)
            return self._zero_where(is_zero, result)
        quotient, remainder = b_.sdiv(a, b), b_.srem(a, b)
        zero = const_of(a.type, 0)
        # the C quotient rounds towards zero: step down when the signs differ
        signs_differ = b_.icmp_signed("<", b_.xor(remainder, b), zero)
        adjust = b_.and_(b_.icmp_signed("!=", remainder, zero), signs_differ)
        if want_quotient:
            result = b_.sub(quotient, b_.zext(adjust, a.type))
        else:
            result = b_.add(remainder, b_.select(adjust, b, zero))
        return self._zero_where(is_zero, result)

    def _safe_divisor(self, node, a, b):
        """``(divisor, is_zero)`` for an integer division of ``a`` by ``b``: the divisor
        is 1 in the lanes where the hardware division would trap (a zero divisor, and
        the smallest signed value divided by -1), and ``is_zero`` (None when the divisor
        is a constant that cannot trap) marks the zero divisors, whose result is 0 as in
        numpy.  The smallest value divided by -1 then gives itself, numpy's wrapped
        quotient, and remainder 0."""
        constant = _constant_value(node.b)
        if constant is not None and constant != 0 and not (constant == -1 and
                                                            node.dtype.is_int):
            return b, None
        b_ = self.builder
        is_zero = b_.icmp_unsigned("==", b, const_of(b.type, 0))
        traps = is_zero
        if node.dtype.is_int:
            smallest = const_of(a.type, -(1 << (node.dtype.bits - 1)))
            overflows = b_.and_(b_.icmp_signed("==", a, smallest),
                                b_.icmp_signed("==", b, const_of(b.type, -1)))
            traps = b_.or_(traps, overflows)
        return b_.select(traps, const_of(b.type, 1), b), is_zero

    def _zero_where(self, is_zero, value):
        if is_zero is None:
            return value
        return self.builder.select(is_zero, const_of(value.type, 0), value)

    def visit_Min(self, node: E.Min):
        return self._min_max(node, "<")

    def visit_Max(self, node: E.Max):
        return self._min_max(node, ">")

    def _min_max(self, node, op: str):
        a, b = self.visit(node.a), self.visit(node.b)
        if not node.dtype.is_float:
            return self.builder.select(self._compare(op, a, b, node.a.dtype), a, b)
        # llvm.maximum/minimum propagate NaN as numpy does (a compare and select would
        # pick by operand order), and the loop vectorizer turns reductions of them into
        # vector code.  nsz waives their ordering of -0.0 below +0.0 (numpy does not
        # promise it either), which leaves x86 one vmaxps, one compare of the first
        # operand with itself and a blend.  The first operand is b, the new value in a
        # reduction's update acc = max(acc, b), so its NaN test is off the chain of
        # dependent instructions through the accumulator.
        return self._float_intrinsic(_MIN_MAX_INTRINSIC[op], b, a, fastmath=("nsz",))

    def _float_intrinsic(self, name: str, *args, fastmath=()):
        """Call the overloaded LLVM intrinsic ``name`` (``llvm.maximum``) on float
        scalars or vectors ``args``."""
        ty = args[0].type
        element = ty.element if isinstance(ty, ir.VectorType) else ty
        suffix = {"half": "f16", "float": "f32", "double": "f64"}[str(element)]
        if isinstance(ty, ir.VectorType):
            suffix = f"v{ty.count}{suffix}"
        module = self.builder.module
        function = module.globals.get(f"{name}.{suffix}")
        if function is None:
            function = ir.Function(module, ir.FunctionType(ty, [arg.type for arg in args]),
                                   f"{name}.{suffix}")
        return self.builder.call(function, list(args), fastmath=fastmath)

    def _compare(self, op: str, a, b, dtype: DataType):
        if dtype.is_float:
            if op == "!=":  # NaN != x holds, as in numpy
                return self.builder.fcmp_unordered(op, a, b)
            return self.builder.fcmp_ordered(op, a, b)
        if dtype.is_int:
            return self.builder.icmp_signed(op, a, b)
        return self.builder.icmp_unsigned(op, a, b)

    def visit_CmpOp(self, node: E.CmpOp):
        a, b = self.visit(node.a), self.visit(node.b)
        return self._compare(_COMPARE[type(node)], a, b, node.a.dtype)

    def visit_And(self, node):
        return self.builder.and_(self.visit(node.a), self.visit(node.b))

    def visit_Or(self, node):
        return self.builder.or_(self.visit(node.a), self.visit(node.b))

    def visit_Not(self, node: E.Not):
        a = self.visit(node.a)
        return self.builder.xor(a, const_of(a.type, 1))

    # -- conversions -----------------------------------------------------------------
    def visit_Cast(self, node: E.Cast):
        return self.convert(self.visit(node.value), node.value.dtype, node.dtype)

    def convert(self, value, src: DataType, dst: DataType):
        """``value`` of type ``src`` converted to ``dst`` (same lane count)."""
        b_ = self.builder
        if src.lanes != dst.lanes:
            if src.lanes == 1:
                value = self.broadcast(value, dst.lanes)
                src = src.with_lanes(dst.lanes)
            else:
                raise InternalError(f"cast from {src} to {dst} changes the lane count")
        if src == dst:
            return value
        target = value_type(dst)
        if dst.is_bool:
            if src.is_float:
                return b_.fcmp_unordered("!=", value, const_of(value.type, 0.0))
            return b_.icmp_unsigned("!=", value, const_of(value.type, 0))
        if src.is_bool:
            return b_.uitofp(value, target) if dst.is_float else b_.zext(value, target)
        if src.is_integer and dst.is_integer:
            if dst.bits < src.bits:
                return b_.trunc(value, target)
            if dst.bits > src.bits:
                return (b_.sext if src.is_int else b_.zext)(value, target)
            return value
        if src.is_integer:  # to float
            result = (b_.sitofp if src.is_int else b_.uitofp)(value, target)
            return self.round_bfloat(result, dst)
        if dst.is_integer:  # from float
            return (b_.fptosi if dst.is_int else b_.fptoui)(value, target)
        # float to float, by register type (bfloat16 lives in float registers)
        if src.kind == "bfloat" and dst.bits == 32:
            return value
        source_bits = 32 if src.kind == "bfloat" else src.bits
        target_bits = 32 if dst.kind == "bfloat" else dst.bits
        if target_bits > source_bits:
            value = b_.fpext(value, target)
        elif target_bits < source_bits:
            value = b_.fptrunc(value, target)
        return self.round_bfloat(value, dst)

    def round_bfloat(self, value, dtype: DataType):
        """Round a float32 register to the nearest bfloat16 (ties to even) for bfloat16
        values; other types pass through."""
        if dtype.kind != "bfloat":
            return value
        b_ = self.builder
        int_type = ir.IntType(32) if dtype.lanes == 1 else ir.VectorType(ir.IntType(32),
                                                                          dtype.lanes)
        bits = b_.bitcast(value, int_type)
        lsb = b_.and_(b_.lshr(bits, const_of(int_type, 16)), const_of(int_type, 1))
        rounded = b_.add(b_.add(bits, const_of(int_type, 0x7FFF)), lsb)
        rounded = b_.and_(rounded, const_of(int_type, 0xFFFF0000))
        # NaN stays a (quiet) NaN instead of rounding into infinity
        quiet_nan = b_.and_(b_.or_(bits, const_of(int_type, 0x400000)),
                            const_of(int_type, 0xFFFF0000))
        is_nan = b_.fcmp_unordered("uno", value, value)
        return b_.bitcast(b_.select(is_nan, quiet_nan, rounded), value.type)

    # -- control within expressions ------------------------------------------------
    def visit_Select(self, node: E.Select):
        b_ = self.builder
        cond = self.visit(node.condition)
        lazy = _has_memory_access(node.true_value) or _has_memory_access(node.false_value)
        if not lazy:
            return b_.select(cond, self.visit(node.true_value), self.visit(node.false_value))
        if node.condition.dtype.lanes > 1:
            # evaluate both sides with the lanes that take them active (masked loads)
            outer = self.mask
            not_cond = b_.xor(cond, const_of(cond.type, 1))
            self.mask = cond if outer is None else b_.and_(outer, cond)
            true_value = self.visit(node.true_value)
            self.mask = not_cond if outer is None else b_.and_(outer, not_cond)
            false_value = self.visit(node.false_value)
            self.mask = outer
            if true_value.type != false_value.type:
                raise InternalError(f"select '{node}' has branches of different types")
            return b_.select(cond, true_value, false_value)
        # a scalar condition: only the branch taken runs (it may read out of bounds)
        true_block = b_.append_basic_block("select.true")
        false_block = b_.append_basic_block("select.false")
        merge = b_.append_basic_block("select.end")
        b_.cbranch(cond, true_block, false_block)
        b_.position_at_end(true_block)
        true_value = self.visit(node.true_value)
        true_end = b_.block
        b_.branch(merge)
        b_.position_at_end(false_block)
        false_value = self.visit(node.false_value)
        false_end = b_.block
        b_.branch(merge)
        b_.position_at_end(merge)
        phi = b_.phi(true_value.type)
        phi.add_incoming(true_value, true_end)
        phi.add_incoming(false_value, false_end)
        return phi

    def visit_Let(self, node: E.Let):
        value = self.visit(node.value)
        previous = self.var_values.get(node.var)
        self.var_values[node.var] = value
        try:
            return self.visit(node.body)
        finally:
            if previous is None:
                del self.var_values[node.var]
            else:
                self.var_values[node.var] = previous

    # -- vectors ---------------------------------------------------------------------
    def broadcast(self, value, lanes: int):
        """A vector of ``lanes`` copies of the scalar register ``value``."""
        vector_type = ir.VectorType(value.type, lanes)
        if isinstance(value, ir.Constant):
            return ir.Constant(vector_type, [value] * lanes)
        first = self.builder.insert_element(ir.Constant(vector_type, ir.Undefined), value,
                                            ir.Constant(I32, 0))
        zeros = ir.Constant(ir.VectorType(I32, lanes), [0] * lanes)
        return self.builder.shuffle_vector(first, ir.Constant(vector_type, ir.Undefined),
                                           zeros)

    def visit_Broadcast(self, node: E.Broadcast):
        return self.broadcast(self.visit(node.value), node.lanes)

    def visit_Ramp(self, node: E.Ramp):
        base = self.visit(node.base)
        vector_type = ir.VectorType(base.type, node.lanes)
        if isinstance(node.stride, E.IntImm):
            offsets = ir.Constant(vector_type, [i * node.stride.value for i in range(node.lanes)])
        else:
            lane_ids = ir.Constant(vector_type, list(range(node.lanes)))
            offsets = self.builder.mul(lane_ids, self.broadcast(self.visit(node.stride),
                                                                node.lanes))
        flags = ("nsw",) if node.dtype.is_int and node.dtype.bits >= 32 else ()
        return self.builder.add(self.broadcast(base, node.lanes), offsets, flags=flags)

    # -- calls -----------------------------------------------------------------------
    def visit_Call(self, node: E.Call):
        if node.op in ("tl.likely", "tl.assume_value"):
            return self.visit(node.args[0])
        if extern_call(node) is not None:
            return self.extern_call(node)
        from ...tir.op import INTRINSICS
        if node.op not in INTRINSICS:
            if is_declared(node.op):
                raise BuildError(unlowered(node.op, "llvm"))
            hint = " (build for cuda, or remove it)" if node.op.startswith("tl.") else ""
            raise BuildError(f"the llvm target cannot compile the call '{node}'{hint}")
        dtype = node.dtype
        compute = float_compute_type(dtype)
        args = [self.convert(self.visit(a), a.dtype, compute) for a in node.args]
        result = None
        if _emit_math is not None:
            try:
                result = _emit_math(self.builder, node.op, args, compute)
            except NotImplementedError:
                result = None
        if result is None:
            result = emit_fallback_math(self.builder, node.op, args, compute)
        return self.convert(result, compute, dtype)

    def extern_call(self, node: E.Call):
        """A call of the C function the node names, one per lane; the symbol must be
        loaded in this process (libm is), as the JIT resolves it here."""
        symbol, args = extern_call(node)
        if find_symbol(symbol) is None:
            raise BuildError(
                f"the call '{node}' names the C function '{symbol}', which is not loaded "
                f"in this process; load its library first with ctypes.CDLL(path, "
                f"mode=ctypes.RTLD_GLOBAL)")
        module = self.builder.module
        element = value_type(node.dtype.element_of())
        arg_types = [value_type(a.dtype.element_of()) for a in args]
        function_type = ir.FunctionType(element, arg_types)
        function = module.globals.get(symbol)
        if function is None:
            function = ir.Function(module, function_type, symbol)
            function.attributes.add("nounwind")
        elif function.function_type != function_type:
            raise BuildError(f"the C function '{symbol}' is called with two signatures: "
                             f"{function.function_type} and {function_type}")
        values = [self.visit(a) for a in args]
        if node.dtype.lanes == 1:
            return self.builder.call(function, values)
        result = ir.Constant(value_type(node.dtype), ir.Undefined)
        for lane in range(node.dtype.lanes):
            index = ir.Constant(I32, lane)
            lane_args = [self.builder.extract_element(v, index) if a.dtype.lanes > 1 else v
                         for a, v in zip(args, values)]
            result = self.builder.insert_element(
                result, self.builder.call(function, lane_args), index)
        return result

    def visit_Reduce(self, node):
        raise InternalError(f"reduction '{node}' reached code generation; it must be lowered "
                            f"to loops first")

    def visit_ProducerLoad(self, node):
        raise InternalError(f"tensor access '{node}' reached code generation; lower the "
                            f"schedule first")

    def truth(self, value, dtype: DataType):
        """An i1 (or i1 vector) register from a condition value."""
        if value.type == I1 or (isinstance(value.type, ir.VectorType)
                                and value.type.element == I1):
            return value
        return self.convert(value, dtype, DataType("bool", 1, dtype.lanes))
