"""Translation of TIR expressions to Python expression source for the interpreter.

Value representation in the generated code:

* integer scalars (``int*``, ``uint*``) are Python ints, wrapped to their type after an
  operation only where interval analysis cannot rule out overflow;
* bool scalars are Python (or numpy) bools;
* float scalars are numpy scalars of their type (``np.float32``...), so each operation is
  rounded to the type as the hardware would; ``bfloat16`` values are float32 scalars
  (float32 arithmetic, rounded to bfloat16 when stored or cast);
* vectors are 1-D numpy arrays of the element type (float32 for bfloat16).

Every fragment carries its Python precedence (to parenthesise only where needed) and, for
integer scalars, an interval ``[lo, hi]`` that lets the translator skip wrapping and
bounds checks it can prove unnecessary.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InternalError
from .. import expr as E
from ..datatype import DataType
from ..functor import ExprFunctor
from ..extern_calls import extern_call, host_function
from ..op import INTRINSICS
from . import runtime

# Python operator precedences (higher binds tighter)
COND, OR, AND, NOT, CMP, BOR, BXOR, BAND, SHIFT = 1, 2, 3, 4, 5, 6, 7, 8, 9
ADD, MUL, UNARY, ATOM = 10, 11, 12, 14

_ARITH = {E.Add: ("+", ADD), E.Sub: ("-", ADD), E.Mul: ("*", MUL), E.FloorDiv: ("//", MUL),
          E.FloorMod: ("%", MUL)}
_BITWISE = {E.ShiftRight: (">>", SHIFT), E.ShiftLeft: ("<<", SHIFT),
            E.BitwiseAnd: ("&", BAND), E.BitwiseXor: ("^", BXOR), E.BitwiseOr: ("|", BOR)}
_COMPARE = {E.EQ: "==", E.NE: "!=", E.LT: "<", E.LE: "<=", E.GT: ">", E.GE: ">="}
#: builtins that compute a value (``tl.likely(c)`` is ``c``)
_IDENTITY_BUILTINS = ("tl.likely",)
#: builtins without effect in a sequential interpreter
_NO_OP_BUILTINS = ("tl.syncthreads", "tl.assume")


@dataclass(slots=True)
class Fragment:
    """Python source of a value: its text, precedence and integer interval."""
    code: str
    prec: int = ATOM
    lo: int | None = None
    hi: int | None = None

    def at(self, need: int) -> str:
        """The code, parenthesised if it binds looser than ``need``."""
        return self.code if self.prec >= need else f"({self.code})"


def numpy_scalar_name(dtype: DataType) -> str:
    """Name of the numpy type of the interpreter's values of ``dtype`` (bfloat16 ->
    float32) as spelled in generated code."""
    if dtype.kind == "bfloat":
        return "_np.float32"
    if dtype.is_bool:
        return "_np.bool_"
    return f"_np.{dtype.kind}{dtype.bits}"


def value_numpy_dtype(dtype: DataType) -> np.dtype:
    return np.dtype(np.float32) if dtype.kind == "bfloat" else dtype.element_of().numpy_dtype


def full_range(dtype: DataType) -> tuple[int, int]:
    if dtype.is_bool:
        return 0, 1
    return int(dtype.min_value()), int(dtype.max_value())


def _with_range(fragment: Fragment, dtype: DataType) -> Fragment:
    """``fragment`` with the full range of ``dtype`` where it is an integer scalar whose
    range is unknown."""
    if fragment.lo is None and dtype.lanes == 1 and (dtype.is_integer or dtype.is_bool):
        fragment.lo, fragment.hi = full_range(dtype)
    return fragment


def _contains_load(node) -> bool:
    """Whether evaluating ``node`` reads memory (so lanes must not be speculated)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, E.BufferLoad):
            return True
        for name in item._children:
            child = getattr(item, name)
            if isinstance(child, tuple):
                stack.extend(c for c in child if isinstance(c, E.Node))
            elif isinstance(child, E.Node):
                stack.append(child)
    return False


class ExpressionTranslator(ExprFunctor):
    """Expression half of the translator, one ``visit_<Node>`` per expression kind; the
    statement half (:mod:`.codegen`) provides ``name_of_var``, ``unique``, ``bind_var``,
    ``helper``, ``buffer_access`` and the name tables."""

    # state provided by the subclass
    var_names: dict
    var_ranges: dict
    lane_names: dict
    constants: dict

    # -- helpers -------------------------------------------------------------------
    def constant(self, value, dtype: DataType) -> str:
        """Name of a module-level numpy scalar constant."""
        key = (str(dtype), repr(value))
        name = self.constants.get(key)
        if name is None:
            name = f"_c{len(self.constants)}"
            self.constants[key] = name
            if dtype.kind == "bfloat":
                # a bfloat16 constant holds a bfloat16 value (computed with as a float32)
                self.constant_values[name] = runtime.to_bf16(value)
            else:
                self.constant_values[name] = value_numpy_dtype(dtype).type(value)
        return name

    def temp(self) -> str:
        self.temp_count += 1
        return f"_t{self.temp_count}"

    def wrap(self, code: str, prec: int, lo: int, hi: int, dtype: DataType) -> Fragment:
        """An integer result, wrapped to ``dtype`` unless ``[lo, hi]`` proves it fits."""
        tmin, tmax = full_range(dtype)
        if tmin <= lo and hi <= tmax:
            return Fragment(code, prec, lo, hi)
        value = Fragment(code, prec)
        mask = (1 << dtype.bits) - 1
        if dtype.is_uint:
            return Fragment(f"{value.at(BAND)} & {mask}", BAND, tmin, tmax)
        half = 1 << (dtype.bits - 1)
        return Fragment(f"(({value.at(ADD)} + {half}) & {mask}) - {half}", ADD, tmin, tmax)

    # -- entry points ----------------------------------------------------------------
    def expr(self, e) -> Fragment:
        """Fragment of ``e`` (scalar or whole vector)."""
        return _with_range(self.visit(e), e.dtype)

    def unsupported(self, node):
        what = "evaluate" if isinstance(node, E.PrimExpr) else "run"
        raise InternalError(f"the interpreter cannot {what} {type(node).__name__} '{node}' "
                            f"(not loop IR)")

    def lane(self, e, lane: int) -> Fragment:
        """Scalar fragment of lane ``lane`` of ``e`` (used to evaluate vector selects
        lane by lane, so untaken lanes never load)."""
        if e.dtype.lanes == 1:
            return self.expr(e)
        return _with_range(_LaneOf(self, lane).visit(e), e.dtype.element_of())

    # -- leaves ----------------------------------------------------------------------
    def visit_IntImm(self, e: E.IntImm) -> Fragment:
        if e.dtype.is_bool:
            return Fragment("True" if e.value else "False", ATOM, e.value, e.value)
        return Fragment(str(e.value), ATOM if e.value >= 0 else UNARY, e.value, e.value)

    def visit_FloatImm(self, e: E.FloatImm) -> Fragment:
        return Fragment(self.constant(e.value, e.dtype))

    def visit_StringImm(self, e: E.StringImm) -> Fragment:
        return Fragment(repr(e.value))

    def visit_Var(self, e: E.Var) -> Fragment:
        name = self.name_of_var(e)
        if e.dtype.is_integer and e.dtype.lanes == 1:
            lo, hi = self.var_ranges.get(e) or full_range(e.dtype)
            return Fragment(name, ATOM, lo, hi)
        return Fragment(name)

    # -- arithmetic ------------------------------------------------------------------
    def visit_BinaryOp(self, e: E.BinaryOp) -> Fragment:
        a, b = self.expr(e.a), self.expr(e.b)
        if e.dtype.lanes == 1:
            return self.scalar_binary(type(e), e.dtype, a, b)
        return self.vector_binary(type(e), e.a.dtype, a, b)

    def scalar_binary(self, t, dtype: DataType, a: Fragment, b: Fragment) -> Fragment:
        """``a op b`` on scalars; ``dtype`` is the operands' type (bool for And/Or)."""
        if t in _COMPARE:
            return Fragment(f"{a.at(CMP + 1)} {_COMPARE[t]} {b.at(CMP + 1)}", CMP, 0, 1)
        if t is E.And:
            return Fragment(f"{a.at(AND + 1)} and {b.at(AND + 1)}", AND, 0, 1)
        if t is E.Or:
            return Fragment(f"{a.at(OR + 1)} or {b.at(OR + 1)}", OR, 0, 1)
        if t is E.Min or t is E.Max:
            if dtype.is_float:  # NaN propagates, as in numpy
                return Fragment(f"_f{t.__name__.lower()}({a.code}, {b.code})")
            code = f"{t.__name__.lower()}({a.code}, {b.code})"
            if a.lo is None or b.lo is None:
                return Fragment(code)
            pick = min if t is E.Min else max
            return Fragment(code, ATOM, pick(a.lo, b.lo), pick(a.hi, b.hi))
        if t is E.Div:
            if dtype.is_integer:
                return self.wrap(f"_truncdiv({a.code}, {b.code})", ATOM,
                                 *self._div_range(a, b, dtype), dtype)
            return Fragment(f"{a.at(MUL)} / {b.at(MUL + 1)}", MUL)
        if t in _BITWISE:
            return self.scalar_bitwise(t, dtype, a, b)
        symbol, prec = _ARITH[t]
        code = f"{a.at(prec)} {symbol} {b.at(prec + 1)}"
        if not dtype.is_integer:
            return Fragment(code, prec)
        if t is E.Add:
            return self.wrap(code, prec, a.lo + b.lo, a.hi + b.hi, dtype)
        if t is E.Sub:
            return self.wrap(code, prec, a.lo - b.hi, a.hi - b.lo, dtype)
        if t is E.Mul:
            corners = (a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi)
            return self.wrap(code, prec, min(corners), max(corners), dtype)
        if t is E.FloorDiv:
            return self.wrap(code, prec, *self._div_range(a, b, dtype), dtype)
        # FloorMod: the result takes the divisor's sign and is smaller than it
        if b.lo > 0:
            hi = b.hi - 1 if a.lo < 0 else min(a.hi, b.hi - 1)
            return Fragment(code, prec, 0, hi)
        if b.hi < 0:
            return Fragment(code, prec, b.lo + 1, 0)
        bound = max(abs(b.lo), abs(b.hi))
        return Fragment(code, prec, -bound, bound)

    def scalar_bitwise(self, t, dtype: DataType, a: Fragment, b: Fragment) -> Fragment:
        """Python's ``>> << & | ^`` on ints are two's complement (arithmetic ``>>`` on
        negative values, logical on the non-negative values of unsigned types); only
        ``<<`` can leave the type, and is wrapped."""
        symbol, prec = _BITWISE[t]
        low, high = full_range(dtype)
        if t is E.ShiftLeft:
            if 0 <= b.lo and b.hi < dtype.bits:
                corners = (a.lo << b.lo, a.lo << b.hi, a.hi << b.lo, a.hi << b.hi)
                return self.wrap(f"{a.at(SHIFT)} << {b.at(SHIFT + 1)}", SHIFT, min(corners),
                                 max(corners), dtype)
            # an amount out of range is undefined: capped so that no huge int is built
            return self.wrap(f"{a.at(SHIFT)} << min({b.code}, {dtype.bits})", SHIFT,
                             low - 1, high, dtype)
        code = f"{a.at(prec)} {symbol} {b.at(prec + 1)}"
        if t is E.ShiftRight:
            if b.lo < 0:
                return Fragment(code, prec, low, high)
            return Fragment(code, prec, min(a.lo >> b.lo, a.lo >> b.hi),
                            max(a.hi >> b.lo, a.hi >> b.hi))
        if t is E.BitwiseAnd and (a.lo >= 0 or b.lo >= 0):
            return Fragment(code, prec, 0, min(x.hi for x in (a, b) if x.lo >= 0))
        if a.lo >= 0 and b.lo >= 0:  # | and ^ keep the bits below the highest set one
            return Fragment(code, prec, 0, (1 << max(a.hi, b.hi).bit_length()) - 1)
        return Fragment(code, prec, low, high)

    @staticmethod
    def _div_range(a: Fragment, b: Fragment, dtype: DataType) -> tuple[int, int]:
        if b.lo == b.hi and b.lo > 0:
            return a.lo // b.lo, a.hi // b.lo
        bound = max(abs(a.lo), abs(a.hi))
        if b.lo > 0 or b.hi < 0:
            return -bound, bound
        # a divisor of -1 may overflow (INT_MIN // -1)
        return -bound, bound + (1 if a.lo == dtype.min_value() else 0)

    def vector_binary(self, t, operand: DataType, a: Fragment, b: Fragment) -> Fragment:
        if t in _COMPARE:
            return Fragment(f"{a.at(CMP + 1)} {_COMPARE[t]} {b.at(CMP + 1)}", CMP)
        if t is E.And:
            return Fragment(f"{a.at(BAND + 1)} & {b.at(BAND + 1)}", BAND)
        if t is E.Or:
            return Fragment(f"{a.at(BOR + 1)} | {b.at(BOR + 1)}", BOR)
        if t is E.Min or t is E.Max:
            fn = "minimum" if t is E.Min else "maximum"
            return Fragment(f"_np.{fn}({a.code}, {b.code})")
        if t is E.Div:
            if operand.is_integer:
                return Fragment(f"_vtruncdiv({a.code}, {b.code})")
            return Fragment(f"{a.at(MUL)} / {b.at(MUL + 1)}", MUL)
        symbol, prec = _BITWISE[t] if t in _BITWISE else _ARITH[t]
        return Fragment(f"{a.at(prec)} {symbol} {b.at(prec + 1)}", prec)

    def visit_Not(self, e: E.Not) -> Fragment:
        a = self.expr(e.a)
        if e.dtype.lanes == 1:
            return Fragment(f"not {a.at(NOT)}", NOT, 0, 1)
        return Fragment(f"~{a.at(UNARY)}", UNARY)

    def conditional(self, cond: Fragment, then: Fragment, other: Fragment) -> Fragment:
        code = f"{then.at(COND + 1)} if {cond.at(COND + 1)} else {other.at(COND)}"
        if then.lo is None or other.lo is None:
            return Fragment(code, COND)
        return Fragment(code, COND, min(then.lo, other.lo), max(then.hi, other.hi))

    def visit_Select(self, e: E.Select) -> Fragment:
        if e.condition.dtype.lanes == 1:
            return self.conditional(self.expr(e.condition), self.expr(e.true_value),
                                    self.expr(e.false_value))
        if _contains_load(e.true_value) or _contains_load(e.false_value):
            # a lane not taken must not load (it may be out of bounds, as padding is)
            lanes = ", ".join(self.lane(e, k).code for k in range(e.dtype.lanes))
            return Fragment(f"_np.array([{lanes}], dtype={numpy_scalar_name(e.dtype)})")
        cond, then, other = (self.expr(x) for x in (e.condition, e.true_value, e.false_value))
        return Fragment(f"_np.where({cond.code}, {then.code}, {other.code})")

    def visit_Let(self, e: E.Let) -> Fragment:
        value = self.expr(e.value)
        name = self.bind_var(e.var, value)
        body = self.expr(e.body)
        self.unbind_var(e.var)
        return Fragment(f"(({name} := {value.code}), {body.code})[1]", ATOM, body.lo, body.hi)

    # -- casts and calls -------------------------------------------------------------
    def visit_Cast(self, e: E.Cast) -> Fragment:
        value = self.expr(e.value)
        if e.dtype.lanes == 1:
            return self.scalar_cast(value, e.value.dtype, e.dtype)
        source, target = e.value.dtype, e.dtype
        if target.is_bool:
            return Fragment(f"{value.at(CMP + 1)} != 0", CMP)
        if target.kind == "bfloat":
            return Fragment(f"_to_bf16_array({value.code})")
        if source.kind == "bfloat" and target.bits == 32 and target.is_float:
            return value
        return Fragment(f"{value.at(ATOM)}.astype({numpy_scalar_name(target)})")

    def scalar_cast(self, value: Fragment, source: DataType, target: DataType) -> Fragment:
        if source == target:
            return value
        if target.is_bool:
            return Fragment(f"{value.at(CMP + 1)} != 0", CMP, 0, 1)
        if target.is_integer:
            if source.is_bool:
                return Fragment(f"int({value.code})", ATOM, 0, 1)
            if source.is_integer:
                return self.wrap(value.code, value.prec, value.lo, value.hi, target)
            low, high = full_range(target)
            return Fragment(f"_f2i({value.code}, {low}, {high})", ATOM, low, high)
        # float targets
        if target.kind == "bfloat":
            return Fragment(f"_to_bf16({value.code})")
        if source.kind == "bfloat" and target.bits == 32:
            return value
        return Fragment(f"{numpy_scalar_name(target)}({value.code})")

    def visit_Call(self, e: E.Call) -> Fragment:
        if extern_call(e) is not None:
            return self.extern_call(e, [self.expr(a) for a in e.args[1:]])
        args = [self.expr(a) for a in e.args]
        if e.dtype.lanes == 1:
            return self.scalar_call(e.op, e.dtype, args)
        if e.op in _IDENTITY_BUILTINS:
            return args[0]
        if e.op not in INTRINSICS:
            raise InternalError(f"the interpreter does not know the builtin {e.op!r}")
        name = self.helper(f"_v{e.op}_{e.dtype.element_of()}", "vector", e.op, e.dtype)
        return Fragment(f"{name}({', '.join(a.code for a in args)})")

    def extern_call(self, e: E.Call, args: list[Fragment]) -> Fragment:
        """A C function called by symbol, through ctypes (on every lane of vectors)."""
        symbol, operands = extern_call(e)
        types = tuple(a.dtype.element_of() for a in operands)
        result = e.dtype.element_of()
        name = f"_extern_{symbol}_{result}_{'_'.join(map(str, types))}"
        if name not in self.helpers:
            self.helpers[name] = host_function(symbol, result, types)
        return Fragment(f"{name}({', '.join(a.code for a in args)})")

    def scalar_call(self, op: str, dtype: DataType, args: list[Fragment]) -> Fragment:
        if op in _IDENTITY_BUILTINS:
            return args[0]
        if op in _NO_OP_BUILTINS:
            return Fragment("0", ATOM, 0, 0)
        if op not in INTRINSICS:
            raise InternalError(f"the interpreter does not know the builtin {op!r}")
        if op == "fabs":
            return Fragment(f"abs({args[0].code})")
        name = self.helper(f"_{op}_{dtype}", "scalar", op, dtype)
        return Fragment(f"{name}({', '.join(a.code for a in args)})")

    # -- vectors ---------------------------------------------------------------------
    def visit_Ramp(self, e: E.Ramp) -> Fragment:
        base, stride = self.expr(e.base), self.expr(e.stride)
        return Fragment(f"_ramp({base.code}, {stride.code}, {e.lanes}, "
                        f"{numpy_scalar_name(e.dtype)})")

    def visit_Broadcast(self, e: E.Broadcast) -> Fragment:
        value = self.expr(e.value)
        return Fragment(f"_np.full({e.lanes}, {value.code}, {numpy_scalar_name(e.dtype)})")

    def visit_BufferLoad(self, e: E.BufferLoad) -> Fragment:
        indices = [self.expr(i) for i in e.indices]
        return self.buffer_access(e.buffer, indices, list(e.indices), lanes=e.dtype.lanes)


class _LaneOf(ExprFunctor):
    """Lane ``lane`` of a vector expression, as a scalar fragment of ``translator``."""

    def __init__(self, translator: ExpressionTranslator, lane: int):
        self.t, self.k = translator, lane

    def unsupported(self, node):
        raise InternalError(f"the interpreter cannot take a lane of {type(node).__name__} "
                            f"'{node}'")

    def visit_Ramp(self, e: E.Ramp) -> Fragment:
        t, elem = self.t, e.dtype.element_of()
        base, stride = t.expr(e.base), t.expr(e.stride)
        return t.scalar_binary(E.Add, elem, base, t.scalar_binary(
            E.Mul, elem, stride, Fragment(str(self.k), ATOM, self.k, self.k)))

    def visit_Broadcast(self, e: E.Broadcast) -> Fragment:
        return self.t.expr(e.value)

    def visit_Var(self, e: E.Var) -> Fragment:
        name = self.t.lane_names.get((id(e), self.k))
        return Fragment(name) if name else \
            Fragment(f"_lane({self.t.name_of_var(e)}, {self.k})")

    def visit_Not(self, e: E.Not) -> Fragment:
        return Fragment(f"not {self.t.lane(e.a, self.k).at(NOT)}", NOT)

    def visit_Select(self, e: E.Select) -> Fragment:
        t, k = self.t, self.k
        return t.conditional(t.lane(e.condition, k), t.lane(e.true_value, k),
                             t.lane(e.false_value, k))

    def visit_Cast(self, e: E.Cast) -> Fragment:
        return self.t.scalar_cast(self.t.lane(e.value, self.k), e.value.dtype.element_of(),
                                  e.dtype.element_of())

    def visit_Call(self, e: E.Call) -> Fragment:
        if extern_call(e) is not None:
            return self.t.extern_call(E.Call(e.dtype.element_of(), e.op, e.args),
                                      [self.t.lane(a, self.k) for a in e.args[1:]])
        return self.t.scalar_call(e.op, e.dtype.element_of(),
                                  [self.t.lane(a, self.k) for a in e.args])

    def visit_Let(self, e: E.Let) -> Fragment:
        t, k = self.t, self.k
        name = t.unique(f"{t.name_of_var(e.var)}_lane{k}")
        value = t.lane(e.value, k)
        # keyed by id: tuples holding Vars would compare them with `==` (an EQ node)
        t.lane_names[(id(e.var), k)] = name
        body = t.lane(e.body, k)
        del t.lane_names[(id(e.var), k)]
        return Fragment(f"(({name} := {value.code}), {body.code})[1]")

    def visit_BufferLoad(self, e: E.BufferLoad) -> Fragment:
        return self.t.buffer_access(e.buffer, [self.t.lane(i, self.k) for i in e.indices],
                                    list(e.indices), lanes=1, lane=self.k)

    def visit_BinaryOp(self, e) -> Fragment:
        return self.t.scalar_binary(type(e), e.dtype.element_of(), self.t.lane(e.a, self.k),
                                    self.t.lane(e.b, self.k))
