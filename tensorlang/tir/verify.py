"""Checks the invariants of loop IR that every pass must preserve.

Run it between passes (tests always do): a failure is a compiler bug, so :func:`verify`
raises :class:`~tensorlang.errors.InternalError` naming the offending node and the broken
rule.  The checks, in one traversal of the function:

* every variable is defined before use: scalar parameters, variables of parameter buffer
  shapes, loop variables inside their loop, let variables inside their body; no variable
  is defined again inside its own scope (two nested loops over the same ``Var``);
* every buffer is a parameter or allocated by an enclosing ``Allocate``;
* buffer accesses have one integer index per dimension, the loaded / stored type is the
  buffer's element type with the lanes of the index, and constant indices are in bounds;
* operands of binary operators share one type, comparisons give bool, conditions are bool,
  loop bounds are integers of the loop variable's type;
* ``Ramp`` / ``Broadcast`` / ``Cast`` / ``Let`` types agree with their operands' lanes.

>>> verify(func)                      # raises InternalError if ill-formed
>>> problems = verify_well_formed(func)   # the same checks, as a list of messages
"""
from __future__ import annotations

from ..errors import InternalError
from . import expr as E
from . import stmt as S
from .buffer import SCOPES, Buffer
from .datatype import DataType
from .functor import Visitor
from . import op as _op
from .arith.analyzer import Analyzer
from .op import INTRINSICS
from .packed import CALL_PACKED
from .extern_calls import EXTERN_CALLS
from .intrin_table import is_declared

#: at most this many problems are listed in an InternalError message
_MAX_REPORTED = 10


def _text(node, limit: int = 120) -> str:
    """Short printed form of a node for messages."""
    from .printer import format_node
    try:
        text = format_node(node)
    except Exception:  # noqa: BLE001 - a message must never fail because of printing
        text = type(node).__name__
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _WellFormed(Visitor):
    """One traversal collecting every broken invariant as a message."""

    def __init__(self):
        self.problems: list[str] = []
        self.defined: set = set()
        self.buffers: set = set()
        self.loops: list = []   # (variable, min, extent) of the enclosing loops
        self.guards: list = []  # conditions under which the visited statement runs

    def fail(self, node, rule: str) -> None:
        self.problems.append(f"{type(node).__name__} '{_text(node)}': {rule}")

    # -- scopes --------------------------------------------------------------------
    def define(self, var, owner) -> bool:
        """Mark ``var`` defined; returns False (and reports) when it already is."""
        if not isinstance(var, E.Var):
            self.fail(owner, f"defines {var!r}, which is not a Var")
            return False
        if var in self.defined:
            self.fail(owner, f"variable '{var.name}' is defined again inside its own scope "
                             f"(the same Var object is bound twice)")
            return False
        self.defined.add(var)
        return True

    def check_scalar_integer(self, value, owner, what: str) -> None:
        dtype = getattr(value, "dtype", None)
        if not isinstance(dtype, DataType) or not dtype.is_integer or dtype.lanes != 1:
            self.fail(owner, f"{what} '{_text(value)}' must be a scalar integer, "
                             f"not {dtype}")

    def check_condition(self, cond, owner, lanes: int = 1) -> None:
        dtype = cond.dtype
        if not dtype.is_bool or dtype.lanes not in (1, lanes):
            self.fail(owner, f"condition '{_text(cond)}' must be bool, not {dtype}")

    # -- functions -----------------------------------------------------------------
    def run(self, func: S.PrimFunc) -> list[str]:
        shape_exprs = []
        for param in func.params:
            if isinstance(param, Buffer):
                if param in self.buffers:
                    self.fail(func, f"buffer parameter '{param.name}' is listed twice")
                self.buffers.add(param)
                for dim in param.shape + param.strides:
                    if isinstance(dim, E.Var):
                        self.defined.add(dim)  # a symbolic dimension is defined by its buffer
                    else:
                        shape_exprs.append((param, dim))
            elif isinstance(param, E.Var):
                in_a_shape = any(isinstance(p, Buffer) and any(d is param for d in p.shape)
                                 for p in func.params)
                if param in self.defined and not in_a_shape:
                    self.fail(func, f"scalar parameter '{param.name}' is listed twice")
                self.defined.add(param)
            else:
                self.fail(func, f"parameter {param!r} is neither a Buffer nor a Var")
        for buffer, dim in shape_exprs:
            self.check_scalar_integer(dim, buffer, f"shape entry of buffer '{buffer.name}'")
            self.visit(dim)
        self.visit(func.body)
        return self.problems

    # -- leaves --------------------------------------------------------------------
    def visit_Var(self, node: E.Var):
        if node not in self.defined:
            self.problems.append(f"Var '{node.name}' ({node.dtype}) is used but not defined "
                                 f"here (not a parameter, a loop variable of an enclosing "
                                 f"loop nor a let variable in scope)")

    def visit_IntImm(self, node: E.IntImm):
        dtype = node.dtype
        if dtype.lanes != 1 or not (dtype.is_integer or dtype.is_bool):
            self.fail(node, f"integer constant of non-integer type {dtype}")
        elif dtype.is_integer and not dtype.min_value() <= node.value <= dtype.max_value():
            self.fail(node, f"constant {node.value} does not fit in {dtype}")

    def visit_FloatImm(self, node: E.FloatImm):
        if node.dtype.lanes != 1 or not node.dtype.is_float:
            self.fail(node, f"float constant of non-float type {node.dtype}")

    def visit_StringImm(self, node):
        pass

    # -- arithmetic ----------------------------------------------------------------
    def visit_BinaryOp(self, node: E.BinaryOp):
        a, b = node.a, node.b
        self.visit(a)
        self.visit(b)
        if a.dtype != b.dtype:
            self.fail(node, f"operands have different types {a.dtype} and {b.dtype}")
            return
        kind = type(node)
        if isinstance(node, E.CmpOp):
            if node.dtype != DataType("bool", 1, a.dtype.lanes):
                self.fail(node, f"comparison must have type bool with the operands' lanes "
                                f"({a.dtype.lanes}), not {node.dtype}")
        elif kind is E.And or kind is E.Or:
            if not a.dtype.is_bool or node.dtype != a.dtype:
                self.fail(node, f"logical operator needs bool operands and result, got "
                                f"{a.dtype} -> {node.dtype}")
        else:
            if node.dtype != a.dtype:
                self.fail(node, f"result type {node.dtype} differs from the operand type "
                                f"{a.dtype}")
            if a.dtype.is_bool or a.dtype.is_handle:
                self.fail(node, f"arithmetic on {a.dtype} operands")
            elif isinstance(node, E.BitwiseOp) and not a.dtype.is_integer:
                self.fail(node, f"bitwise operator on non-integer type {a.dtype}")
            elif (kind is E.FloorDiv or kind is E.FloorMod) and not a.dtype.is_integer:
                self.fail(node, f"floor division / modulo on non-integer type {a.dtype}")

    def visit_Not(self, node: E.Not):
        self.visit(node.a)
        if not node.a.dtype.is_bool or node.dtype != node.a.dtype:
            self.fail(node, f"'not' needs a bool operand and result, got {node.a.dtype} -> "
                            f"{node.dtype}")

    def visit_Cast(self, node: E.Cast):
        self.visit(node.value)
        if node.value.dtype.lanes != node.dtype.lanes:
            self.fail(node, f"cast changes the lane count ({node.value.dtype} -> "
                            f"{node.dtype})")

    #: depth of select branches around the node visited: a branch is evaluated only
    #: where it is taken (lazily, or with the other lanes masked), so its constant
    #: indices may lie outside the buffer (padding)
    select_depth = 0

    def visit_Select(self, node: E.Select):
        self.visit(node.condition)
        self.select_depth += 1
        try:
            self.visit(node.true_value)
            self.visit(node.false_value)
        finally:
            self.select_depth -= 1
        self.check_condition(node.condition, node, node.dtype.lanes)
        if node.true_value.dtype != node.dtype or node.false_value.dtype != node.dtype:
            self.fail(node, f"branches have types {node.true_value.dtype} and "
                            f"{node.false_value.dtype}, the select has {node.dtype}")

    def visit_Let(self, node: E.Let):
        self.visit(node.value)
        if node.var.dtype != node.value.dtype:
            self.fail(node, f"let variable '{node.var.name}' is {node.var.dtype} but its "
                            f"value is {node.value.dtype}")
        if node.body.dtype != node.dtype:
            self.fail(node, f"let has type {node.dtype} but its body is {node.body.dtype}")
        added = self.define(node.var, node)
        self.visit(node.body)
        if added:
            self.defined.discard(node.var)

    def visit_Call(self, node: E.Call):
        for arg in node.args:
            self.visit(arg)
        if node.op == CALL_PACKED or node.op in EXTERN_CALLS:
            if not node.args or not isinstance(node.args[0], E.StringImm):
                self.fail(node, "a packed or extern call must start with the name of the "
                                "function")
            return
        arity = INTRINSICS.get(node.op)
        if arity is None:
            if not node.op.startswith("tl.") and not is_declared(node.op):
                self.fail(node, f"unknown intrinsic {node.op!r}")
            return
        if len(node.args) != arity:
            self.fail(node, f"{node.op} takes {arity} argument(s), got {len(node.args)}")
        for arg in node.args:
            if arg.dtype != node.dtype:
                self.fail(node, f"argument '{_text(arg)}' of {node.op} is {arg.dtype}, the "
                                f"call is {node.dtype}")
        if not node.dtype.is_float:
            self.fail(node, f"math intrinsic {node.op} on non-float type {node.dtype}")

    # -- vectors -------------------------------------------------------------------
    def visit_Ramp(self, node: E.Ramp):
        self.visit(node.base)
        self.visit(node.stride)
        base, stride = node.base.dtype, node.stride.dtype
        if base.lanes != 1 or stride != base:
            self.fail(node, f"base and stride must be scalars of one type, got {base} and "
                            f"{stride}")
        if node.lanes < 2 or node.dtype != base.with_lanes(node.lanes):
            self.fail(node, f"ramp of {node.lanes} lanes over {base} must have type "
                            f"{base.with_lanes(node.lanes)}, not {node.dtype}")

    def visit_Broadcast(self, node: E.Broadcast):
        self.visit(node.value)
        value = node.value.dtype
        if value.lanes != 1:
            self.fail(node, f"broadcast of the vector type {value}")
        if node.lanes < 2 or node.dtype != value.with_lanes(node.lanes):
            self.fail(node, f"broadcast of {value} to {node.lanes} lanes must have type "
                            f"{value.with_lanes(node.lanes)}, not {node.dtype}")

    # -- memory --------------------------------------------------------------------
    def check_access(self, node, buffer: Buffer, indices) -> int:
        """Checks shared by loads and stores; returns the access's lane count."""
        if buffer not in self.buffers:
            self.fail(node, f"buffer '{buffer.name}' is neither a parameter nor allocated "
                            f"by an enclosing Allocate")
        if len(indices) != len(buffer.shape):
            self.fail(node, f"buffer '{buffer.name}' has {len(buffer.shape)} dimension(s) "
                            f"but is accessed with {len(indices)} index(es)")
        lanes = 1
        for dim, index in enumerate(indices):
            self.visit(index)
            dtype = index.dtype
            if not dtype.is_integer:
                self.fail(node, f"index '{_text(index)}' of buffer '{buffer.name}' is "
                                f"{dtype}, not an integer")
            if dtype.lanes != 1:
                if lanes not in (1, dtype.lanes):
                    self.fail(node, f"indices of buffer '{buffer.name}' have different lane "
                                    f"counts ({lanes} and {dtype.lanes})")
                lanes = dtype.lanes
            if dim < len(buffer.shape) and not self.select_depth:
                self.check_constant_bounds(node, buffer, dim, index)
        return lanes

    def check_constant_bounds(self, node, buffer: Buffer, dim: int, index) -> None:
        extent = buffer.shape[dim]
        if isinstance(index, E.IntImm):
            first = last = index.value
        elif isinstance(index, E.Ramp) and isinstance(index.base, E.IntImm) \
                and isinstance(index.stride, E.IntImm):
            first = index.base.value
            last = first + index.stride.value * (index.lanes - 1)
        else:
            return
        low, high = min(first, last), max(first, last)
        if (low < 0 or (isinstance(extent, E.IntImm) and high >= extent.value)) \
                and not self.never_runs():
            self.fail(node, f"index '{_text(index)}' is out of bounds for dimension {dim} "
                            f"of buffer '{buffer.name}' (extent {_text(extent)})")

    def never_runs(self) -> bool:
        """Whether an enclosing loop provably runs no iteration, or an enclosing guard is
        provably false over the enclosing loops' ranges.  Unrolling a guarded loop leaves
        ``if 1 + j < 1: A[1] = ...`` or ``for j in range(1 - 1): A[1] = ...`` (iterations
        a guard or a peeled loop excludes): dead code, not an access out of bounds."""
        if not self.guards and not self.loops:
            return False
        analyzer = Analyzer()
        for var, low, extent in self.loops:
            if analyzer.can_prove(_op.le(extent, 0)):
                return True
            analyzer.bind(var, E.Range(low, extent))
        return any(analyzer.can_prove(_op.logical_not(part))
                   for guard in self.guards for part in conjuncts(guard))

    def visit_BufferArg(self, node: E.BufferArg):
        if node.buffer not in self.buffers:
            self.fail(node, f"buffer '{node.buffer.name}' is passed to a call outside its "
                            f"allocation (not a parameter nor allocated around the call)")
        if node.access not in ("r", "w", "rw"):
            self.fail(node, f"buffer argument access {node.access!r} is not 'r', 'w' or 'rw'")

    def visit_BufferLoad(self, node: E.BufferLoad):
        lanes = self.check_access(node, node.buffer, node.indices)
        expected = node.buffer.dtype.with_lanes(lanes)
        if node.dtype != expected:
            self.fail(node, f"load from buffer '{node.buffer.name}' must have type "
                            f"{expected}, not {node.dtype}")

    def visit_BufferStore(self, node: S.BufferStore):
        self.visit(node.value)
        lanes = self.check_access(node, node.buffer, node.indices)
        expected = node.buffer.dtype.with_lanes(lanes)
        if node.value.dtype != expected:
            self.fail(node, f"stored value has type {node.value.dtype} but buffer "
                            f"'{node.buffer.name}' with this index needs {expected}")

    def visit_ProducerLoad(self, node):
        self.fail(node, "tensor access left in loop IR (lower the tensor to a buffer first)")

    def visit_Reduce(self, node):
        self.fail(node, "reduction left in loop IR (lower it to loops first)")

    # -- statements ----------------------------------------------------------------
    def visit_For(self, node: S.For):
        self.visit(node.min)
        self.visit(node.extent)
        var = node.loop_var
        if not isinstance(var, E.Var) or not var.dtype.is_integer or var.dtype.lanes != 1:
            self.fail(node, f"loop variable {var!r} must be a scalar integer Var")
        else:
            for what, value in (("min", node.min), ("extent", node.extent)):
                if value.dtype != var.dtype:
                    self.fail(node, f"loop {what} '{_text(value)}' is {value.dtype}, the "
                                    f"loop variable '{var.name}' is {var.dtype}")
        if node.kind not in S.ForKind.ALL:
            self.fail(node, f"unknown loop kind {node.kind!r}")
        if node.kind == S.ForKind.THREAD_BINDING and not node.thread_tag:
            self.fail(node, "thread-bound loop without a thread tag")
        added = self.define(var, node)
        self.loops.append((var, node.min, node.extent))
        try:
            self.visit(node.body)
        finally:
            self.loops.pop()
        if added:
            self.defined.discard(var)

    def visit_LetStmt(self, node: S.LetStmt):
        self.visit(node.value)
        if node.var.dtype != node.value.dtype:
            self.fail(node, f"let variable '{node.var.name}' is {node.var.dtype} but its "
                            f"value is {node.value.dtype}")
        added = self.define(node.var, node)
        self.visit(node.body)
        if added:
            self.defined.discard(node.var)

    def visit_Allocate(self, node: S.Allocate):
        buffer = node.buffer
        if buffer.scope not in SCOPES:
            self.fail(node, f"unknown memory scope {buffer.scope!r}")
        for dim in buffer.shape + buffer.strides:
            self.check_scalar_integer(dim, node, f"shape entry of buffer '{buffer.name}'")
            self.visit(dim)
        if buffer in self.buffers:
            self.fail(node, f"buffer '{buffer.name}' is allocated again while it is in "
                            f"scope (or is a parameter)")
            self.visit(node.body)
            return
        self.buffers.add(buffer)
        self.visit(node.body)
        self.buffers.discard(buffer)

    def visit_IfThenElse(self, node: S.IfThenElse):
        self.visit(node.condition)
        self.check_condition(node.condition, node)
        for case, guard in ((node.then_case, node.condition),
                            (node.else_case, E.Not(node.condition, node.condition.dtype))):
            if case is None:
                continue
            self.guards.append(guard)
            try:
                self.visit(case)
            finally:
                self.guards.pop()

    def visit_SeqStmt(self, node: S.SeqStmt):
        for child in node.seq:
            self.visit(child)

    def visit_Evaluate(self, node: S.Evaluate):
        self.visit(node.value)

    def visit_AttrStmt(self, node: S.AttrStmt):
        if isinstance(node.value, E.PrimExpr):
            self.visit(node.value)
            if node.key == "thread_extent":
                self.check_scalar_integer(node.value, node, "thread extent")
        self.visit(node.body)


def conjuncts(cond) -> list:
    """The parts of a chain of ``and``: each must hold for the whole to hold."""
    if isinstance(cond, E.And):
        return conjuncts(cond.a) + conjuncts(cond.b)
    return [cond]


def verify_well_formed(func: S.PrimFunc) -> list[str]:
    """Every broken invariant of ``func`` as a message (empty when well formed)."""
    if not isinstance(func, S.PrimFunc):
        return [f"expected a PrimFunc, got {type(func).__name__}"]
    return _WellFormed().run(func)


def verify(func: S.PrimFunc) -> None:
    """Raise :class:`InternalError` listing the broken invariants of ``func``, if any."""
    problems = verify_well_formed(func)
    if problems:
        shown = "\n  - ".join(problems[:_MAX_REPORTED])
        more = len(problems) - _MAX_REPORTED
        tail = f"\n  ... and {more} more" if more > 0 else ""
        name = getattr(func, "name", "?")
        raise InternalError(f"ill-formed loop IR in function '{name}':\n  - {shown}{tail}")
