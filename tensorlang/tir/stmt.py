"""Statement nodes of the loop IR and :class:`PrimFunc`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .buffer import Buffer
from .datatype import int32
from .expr import IntImm, Node, PrimExpr, Var


class Stmt(Node):
    """Base of statements."""
    __slots__ = ()


class ForKind:
    """How a loop runs."""
    SERIAL = "serial"
    PARALLEL = "parallel"
    VECTORIZED = "vectorized"
    UNROLLED = "unrolled"
    THREAD_BINDING = "thread_binding"
    ALL = (SERIAL, PARALLEL, VECTORIZED, UNROLLED, THREAD_BINDING)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class For(Stmt):
    """``for loop_var in range(min, min + extent)``.

    ``kind`` is a :class:`ForKind`; a ``THREAD_BINDING`` loop is bound to the GPU thread
    index named by ``thread_tag`` (``blockIdx.x``, ``threadIdx.y``, ...).  ``annotations``
    holds pragmas as sorted ``(key, value)`` pairs."""
    loop_var: Var
    min: PrimExpr
    extent: PrimExpr
    kind: str
    body: Stmt
    thread_tag: str = ""
    annotations: tuple[tuple[str, Any], ...] = ()
    _children = ("min", "extent", "body")
    _binds, _scope = ("loop_var",), ("body",)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class BufferStore(Stmt):
    """``buffer[indices] = value``; a Ramp index stores a vector."""
    buffer: Buffer
    value: PrimExpr
    indices: tuple[PrimExpr, ...]
    _children = ("value", "indices")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Allocate(Stmt):
    """Allocate ``buffer`` (in its scope) for the duration of ``body``."""
    buffer: Buffer
    body: Stmt
    _children = ("body",)
    _binds, _scope = ("buffer",), ("body",)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class IfThenElse(Stmt):
    condition: PrimExpr
    then_case: Stmt
    else_case: Stmt | None = None
    _children = ("condition", "then_case", "else_case")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class LetStmt(Stmt):
    var: Var
    value: PrimExpr
    body: Stmt
    _children = ("value", "body")
    _binds, _scope = ("var",), ("body",)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class SeqStmt(Stmt):
    seq: tuple[Stmt, ...]
    _children = ("seq",)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Evaluate(Stmt):
    """Evaluate an expression for its effect (``tl.syncthreads()``)."""
    value: PrimExpr
    _children = ("value",)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class AttrStmt(Stmt):
    """An attribute ``key`` of ``node`` with ``value`` over ``body``.

    Keys in use: ``thread_extent`` (node: thread tag string, value: extent),
    ``pragma_<name>``, ``storage_alignment``."""
    node: Any
    key: str
    value: PrimExpr
    body: Stmt
    _children = ("value", "body")


def seq(*stmts) -> Stmt:
    """A SeqStmt of the given statements, flattening nested sequences and dropping no-ops."""
    flat: list[Stmt] = []
    for s in stmts:
        if s is None:
            continue
        if isinstance(s, (list, tuple)):
            s = seq(*s)
        if isinstance(s, SeqStmt):
            flat.extend(s.seq)
        elif is_no_op(s):
            continue
        else:
            flat.append(s)
    if not flat:
        return NO_OP
    if len(flat) == 1:
        return flat[0]
    return SeqStmt(tuple(flat))


def is_no_op(s: Stmt) -> bool:
    if isinstance(s, Evaluate) and isinstance(s.value, IntImm):
        return True
    return isinstance(s, SeqStmt) and not s.seq


NO_OP = Evaluate(IntImm(int32, 0))


@dataclass(frozen=True, slots=True, eq=False, repr=False, weakref_slot=True)
class PrimFunc(Node):
    """A function over buffers and scalar variables.

    ``params`` are Buffers (tensors) and Vars (scalar arguments).  Symbolic dimensions of
    buffer shapes are Vars bound from the arguments' shapes at call time.  ``attrs`` are
    sorted ``(key, value)`` pairs (``target``, ``global_symbol``...)."""
    name: str
    params: tuple[Buffer | Var, ...]
    body: Stmt
    attrs: tuple[tuple[str, Any], ...] = ()
    _children = ("body",)
    #: the parameters are defined over the body, and define the variables of their shapes
    _binds, _scope = ("params",), ("body",)
    _binds_shape_vars = True

    def attr(self, key: str, default=None):
        for k, v in self.attrs:
            if k == key:
                return v
        return default

    def with_attr(self, key: str, value) -> "PrimFunc":
        attrs = tuple(sorted([(k, v) for k, v in self.attrs if k != key] + [(key, value)],
                             key=lambda kv: kv[0]))
        return self.replace(attrs=attrs)

    @property
    def buffers(self) -> tuple[Buffer, ...]:
        return tuple(p for p in self.params if isinstance(p, Buffer))

    def script(self) -> str:
        """The function as readable, deterministic text (:mod:`tensorlang.tir.printer`)."""
        return str(self)
