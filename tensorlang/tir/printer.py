"""Readable, deterministic, Python-like text of IR nodes.

Names are made valid identifiers (``i.outer`` prints as ``i_outer``); distinct variables
or buffers that end up with the same name get numbered suffixes in order of first
appearance, so the text of a function is the same on every run and can serve as a
structural key.  Float constants print as the shortest decimal that reads back to the
same value of their type (``T.float32(0.1)``), non-finite ones as ``T.float32("inf")``.
An ``AttrStmt`` with key ``stage`` prints as the comment ``# stage C`` above its body.
Loop bounds print simplified, so the printer builds on :mod:`tensorlang.tir.arith`;
importing it makes :func:`format_node` the text of ``str(node)``.
"""
from __future__ import annotations

import keyword
import math
import re

import numpy as np

from . import expr as E
from . import stmt as S
from .arith import Analyzer
from .bitwise import is_not
from .buffer import Buffer
from .naming import NameSupply
from .node import set_text_form
from .op import add

#: precedences of Python's operators (higher binds tighter)
_OR, _AND, _NOT, _CMP, _BOR, _BXOR, _BAND, _SHIFT, _ADD, _MUL, _UNARY, _ATOM = range(1, 13)
_BINARY = {E.Add: ("+", _ADD), E.Sub: ("-", _ADD), E.Mul: ("*", _MUL), E.Div: ("/", _MUL),
           E.FloorDiv: ("//", _MUL), E.FloorMod: ("%", _MUL), E.EQ: ("==", _CMP),
           E.NE: ("!=", _CMP), E.LT: ("<", _CMP), E.LE: ("<=", _CMP), E.GT: (">", _CMP),
           E.GE: (">=", _CMP), E.And: ("and", _AND), E.Or: ("or", _OR),
           E.ShiftRight: (">>", _SHIFT), E.ShiftLeft: ("<<", _SHIFT),
           E.BitwiseAnd: ("&", _BAND), E.BitwiseXor: ("^", _BXOR), E.BitwiseOr: ("|", _BOR)}
_LOOP_SPELLING = {S.ForKind.SERIAL: "range", S.ForKind.PARALLEL: "T.parallel",
                  S.ForKind.VECTORIZED: "T.vectorized", S.ForKind.UNROLLED: "T.unroll",
                  S.ForKind.THREAD_BINDING: "T.thread_binding"}


_NOT_IDENTIFIER = re.compile(r"[^0-9a-zA-Z_]")
#: names that would be confused with the printer's own spelling
_RESERVED = frozenset({"T", "range"})


def identifier(name: str) -> str:
    """``name`` as a valid Python identifier (``i.outer`` -> ``i_outer``)."""
    text = _NOT_IDENTIFIER.sub("_", name) or "v"
    if text[0].isdigit():
        text = "v" + text
    if keyword.iskeyword(text):
        text += "_"
    return text


def float_text(value: float, dtype) -> str:
    """Shortest text that reads back to ``value`` rounded to ``dtype``."""
    if math.isnan(value):
        return '"nan"'
    if dtype.bits == 64:
        number = value
    else:
        # bfloat16 values are a subset of float32: the float32 text identifies them
        scalar_type = np.float16 if (dtype.kind == "float" and dtype.bits == 16) else np.float32
        with np.errstate(over="ignore"):
            number = scalar_type(value)
    if math.isinf(number):
        return '"inf"' if number > 0 else '"-inf"'
    text = str(float(number)) if dtype.bits == 64 else str(number)
    return text


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _loop_stop(loop: S.For):
    """The end of a loop's range as printed: ``min + extent``, simplified (peeled tails
    have extents like ``(n + 3) // 4 - n // 4`` that only cancel against their start)."""
    return Analyzer().simplify(add(loop.min, loop.extent))


class Printer:
    def __init__(self):
        self.names: dict[object, str] = {}
        self.used = NameSupply(_RESERVED)
        self.lines: list[str] = []

    # -- names -----------------------------------------------------------------------
    def name_of(self, node, base: str) -> str:
        name = self.names.get(node)
        if name is None:
            name = self.names[node] = self.used.fresh(identifier(base))
        return name

    def buffer_name(self, buf) -> str:
        return self.name_of(buf, buf.name)

    # -- expressions -----------------------------------------------------------------
    def expr(self, e, parent_prec: int = 0) -> str:
        text, prec = self._expr(e)
        return f"({text})" if prec < parent_prec else text

    def _expr(self, e) -> tuple[str, int]:  # noqa: C901 - one case per node kind
        t = type(e)
        if t is E.Var:
            return self.name_of(e, e.name), _ATOM
        if t is E.IterVar:
            return self.name_of(e.var, e.var.name), _ATOM
        if t is E.IntImm:
            if e.dtype.is_bool:
                return ("True" if e.value else "False"), _ATOM
            if str(e.dtype) == "int32":
                return (str(e.value), _ATOM) if e.value >= 0 else (str(e.value), _UNARY)
            return f"T.{e.dtype}({e.value})", _ATOM
        if t is E.FloatImm:
            return f"T.{e.dtype}({float_text(e.value, e.dtype)})", _ATOM
        if t is E.StringImm:
            return _quote(e.value), _ATOM
        if is_not(e):
            return f"~{self.expr(e.a, _UNARY)}", _UNARY
        if t in _BINARY:
            sym, prec = _BINARY[t]
            if t is E.Sub and isinstance(e.a, (E.IntImm, E.FloatImm)) and e.a.value == 0 \
                    and e.dtype.lanes == 1:
                return f"-{self.expr(e.b, _UNARY + 1)}", _UNARY
            # left-associative: right operand needs parentheses at equal precedence
            return f"{self.expr(e.a, prec)} {sym} {self.expr(e.b, prec + 1)}", prec
        if t is E.Not:
            return f"not {self.expr(e.a, _NOT)}", _NOT
        if t is E.Min or t is E.Max:
            return f"T.{t.__name__.lower()}({self.expr(e.a)}, {self.expr(e.b)})", _ATOM
        if t is E.Cast:
            return f"T.Cast(\"{e.dtype}\", {self.expr(e.value)})", _ATOM
        if t is E.Select:
            return (f"T.if_then_else({self.expr(e.condition)}, {self.expr(e.true_value)}, "
                    f"{self.expr(e.false_value)})"), _ATOM
        if t is E.Let:
            return (f"T.let({self.name_of(e.var, e.var.name)}, {self.expr(e.value)}, "
                    f"{self.expr(e.body)})"), _ATOM
        if t is E.Call:
            args = ", ".join(self.expr(a) for a in e.args)
            name = e.op if e.op.startswith("tl.") else f"T.{e.op}"
            return f"{name}({args})", _ATOM
        if t is E.Ramp:
            return f"T.Ramp({self.expr(e.base)}, {self.expr(e.stride)}, {e.lanes})", _ATOM
        if t is E.Broadcast:
            return f"T.Broadcast({self.expr(e.value)}, {e.lanes})", _ATOM
        if t is E.BufferLoad:
            return f"{self.buffer_name(e.buffer)}[{self.indices(e.indices)}]", _ATOM
        if t is E.BufferArg:
            return self.buffer_name(e.buffer), _ATOM
        if t is E.ProducerLoad:
            return f"{self.name_of(e.producer, e.producer.name)}[{self.indices(e.indices)}]", _ATOM
        if t is E.Reduce:
            axes = ", ".join(self.name_of(a.var, a.var.name) for a in e.axis)
            src = ", ".join(self.expr(s) for s in e.source)
            where = "" if (isinstance(e.condition, E.IntImm) and e.condition.value) \
                else f", where={self.expr(e.condition)}"
            index = "" if len(e.source) == 1 else f", value_index={e.value_index}"
            return f"T.reduce({e.combiner.name}, {src}, axis=[{axes}]{where}{index})", _ATOM
        if t is E.Range:
            return f"range({self.expr(e.min)}, {self.expr(e.min)} + {self.expr(e.extent)})", _ATOM
        if isinstance(e, Buffer):
            return self.buffer_name(e), _ATOM
        return repr(e), _ATOM

    def indices(self, indices) -> str:
        return ", ".join(self.expr(i) for i in indices)

    # -- statements ------------------------------------------------------------------
    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def stmt(self, s, depth: int) -> None:  # noqa: C901 - one case per node kind
        t = type(s)
        if t is S.SeqStmt:
            for c in s.seq:
                self.stmt(c, depth)
        elif t is S.For:
            var = self.name_of(s.loop_var, s.loop_var.name)
            fn = _LOOP_SPELLING.get(s.kind, s.kind)
            if isinstance(s.min, E.IntImm) and s.min.value == 0:
                bounds = self.expr(s.extent)
            else:
                bounds = f"{self.expr(s.min)}, {self.expr(_loop_stop(s))}"
            extra = f", thread=\"{s.thread_tag}\"" if s.thread_tag else ""
            if s.annotations:
                extra += ", annotations={" + ", ".join(
                    f"{k!r}: {v!r}" for k, v in s.annotations) + "}"
            self.emit(depth, f"for {var} in {fn}({bounds}{extra}):")
            self.stmt(s.body, depth + 1)
        elif t is S.BufferStore:
            self.emit(depth, f"{self.buffer_name(s.buffer)}[{self.indices(s.indices)}] = "
                             f"{self.expr(s.value)}")
        elif t is S.Allocate:
            b = s.buffer
            shape = ", ".join(self.expr(x) for x in b.shape)
            shape = f"({shape},)" if len(b.shape) == 1 else f"({shape})"
            strides = ""
            if b.strides:
                strides = ", strides=(" + ", ".join(self.expr(x) for x in b.strides) + ")"
            self.emit(depth, f"{self.buffer_name(b)} = T.alloc_buffer({shape}, \"{b.dtype}\", "
                             f"scope=\"{b.scope}\"{strides})")
            self.stmt(s.body, depth)
        elif t is S.IfThenElse:
            self.emit(depth, f"if {self.expr(s.condition)}:")
            self.stmt(s.then_case, depth + 1)
            if s.else_case is not None:
                self.emit(depth, "else:")
                self.stmt(s.else_case, depth + 1)
        elif t is S.LetStmt:
            self.emit(depth, f"{self.name_of(s.var, s.var.name)}: T.{s.var.dtype} = "
                             f"{self.expr(s.value)}")
            self.stmt(s.body, depth)
        elif t is S.Evaluate:
            self.emit(depth, f"T.evaluate({self.expr(s.value)})")
        elif t is S.AttrStmt:
            if s.key == "stage":
                name = s.node if isinstance(s.node, str) else getattr(s.node, "name", s.node)
                self.emit(depth, f"# stage {name}")
                self.stmt(s.body, depth)
                return
            node = _quote(s.node) if isinstance(s.node, str) else self.expr(s.node)
            self.emit(depth, f"with T.attr({node}, \"{s.key}\", {self.expr(s.value)}):")
            self.stmt(s.body, depth + 1)
        else:
            self.emit(depth, repr(s))

    def func(self, f) -> None:
        params = []
        for p in f.params:
            if isinstance(p, Buffer):
                shape = ", ".join(self.expr(x) for x in p.shape)
                shape = f"({shape},)" if len(p.shape) == 1 else f"({shape})"
                params.append(f"{self.buffer_name(p)}: T.Buffer({shape}, \"{p.dtype}\")")
            else:
                params.append(f"{self.name_of(p, p.name)}: T.{p.dtype}")
        self.emit(0, "@T.prim_func")
        self.emit(0, f"def {identifier(f.name)}({', '.join(params)}):")
        self.stmt(f.body, 1)


def format_node(node) -> str:
    """Text of an expression, statement or function."""
    p = Printer()
    if isinstance(node, S.PrimFunc):
        p.func(node)
        return "\n".join(p.lines)
    if isinstance(node, S.Stmt):
        p.stmt(node, 0)
        return "\n".join(p.lines)
    return p.expr(node)


set_text_form(format_node)
