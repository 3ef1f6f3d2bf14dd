"""Structural equality and hashing of IR nodes.

Bound variables (loop variables, let variables, allocated buffers, reduction axes) are
compared up to renaming; free variables and parameter buffers by identity unless
``map_free_vars`` is set.
"""
from __future__ import annotations

import hashlib

from . import expr as E
from . import stmt as S
from .buffer import Buffer


class _Equal:
    def __init__(self, map_free_vars: bool):
        self.map_free_vars = map_free_vars
        self.bound: dict[object, object] = {}

    def same_var(self, a, b) -> bool:
        if a is b:
            return True
        mapped = self.bound.get(a)
        if mapped is not None:
            return mapped is b
        if self.map_free_vars and a.dtype == b.dtype:
            self.bound[a] = b
            return True
        return False

    def same_buffer(self, a: Buffer, b: Buffer) -> bool:
        if a is b:
            return True
        mapped = self.bound.get(a)
        if mapped is not None:
            return mapped is b
        if self.map_free_vars and a.dtype == b.dtype and a.scope == b.scope \
                and self.eq(a.shape, b.shape):
            self.bound[a] = b
            return True
        return False

    def bind(self, a, b) -> None:
        self.bound[a] = b

    def eq(self, a, b) -> bool:  # noqa: C901
        if a is b:
            return True
        if isinstance(a, tuple):
            return isinstance(b, tuple) and len(a) == len(b) and all(
                self.eq(x, y) for x, y in zip(a, b))
        if type(a) is not type(b):
            return False
        if isinstance(a, E.Var):
            return self.same_var(a, b)
        if isinstance(a, Buffer):
            return self.same_buffer(a, b)
        if isinstance(a, (E.IntImm, E.FloatImm, E.StringImm)):
            return a.dtype == b.dtype and a.value == b.value
        if isinstance(a, S.For):
            if a.kind != b.kind or a.thread_tag != b.thread_tag or \
                    a.annotations != b.annotations or not self.eq(a.min, b.min) or \
                    not self.eq(a.extent, b.extent):
                return False
            self.bind(a.loop_var, b.loop_var)
            return self.eq(a.body, b.body)
        if isinstance(a, (S.LetStmt, E.Let)):
            if not self.eq(a.value, b.value) or a.var.dtype != b.var.dtype:
                return False
            self.bind(a.var, b.var)
            return self.eq(a.body, b.body)
        if isinstance(a, S.Allocate):
            if a.buffer.dtype != b.buffer.dtype or a.buffer.scope != b.buffer.scope or \
                    not self.eq(a.buffer.shape, b.buffer.shape):
                return False
            self.bind(a.buffer, b.buffer)
            return self.eq(a.body, b.body)
        if isinstance(a, E.IterVar):
            self.bind(a.var, b.var)
            return a.iter_type == b.iter_type and a.thread_tag == b.thread_tag and \
                self.eq(a.dom, b.dom)
        if isinstance(a, E.Reduce):
            if not self.eq(a.axis, b.axis) or a.value_index != b.value_index:
                return False
        if isinstance(a, E.CommReducer):
            for x, y in zip(a.lhs + a.rhs, b.lhs + b.rhs):
                self.bind(x, y)
            return len(a.lhs) == len(b.lhs) and self.eq(a.result, b.result) and \
                self.eq(a.identity, b.identity)
        if isinstance(a, E.ProducerLoad) and a.producer is not b.producer:
            return False
        if isinstance(a, E.BufferLoad) and not self.same_buffer(a.buffer, b.buffer):
            return False
        if isinstance(a, S.BufferStore) and not self.same_buffer(a.buffer, b.buffer):
            return False
        if isinstance(a, E.Reduce) and not self.eq(a.combiner, b.combiner):
            return False
        for name in ("dtype", "op", "lanes", "key", "name", "kind"):
            if hasattr(a, name) and getattr(a, name) != getattr(b, name):
                return False
        if isinstance(a, S.AttrStmt) and not (a.node is b.node or a.node == b.node
                                              if isinstance(a.node, str) else
                                              self.eq(a.node, b.node)):
            return False
        return all(self.eq(getattr(a, n), getattr(b, n)) for n in a._children)


def structural_equal(a, b, map_free_vars: bool = False) -> bool:
    """Whether ``a`` and ``b`` are the same IR up to renaming of bound variables."""
    return _Equal(map_free_vars).eq(a, b)


def structural_hash(node) -> str:
    """A stable hex digest of the node's printed form (equal for structurally equal IR
    with free variables named alike); usable as a cache or tuning-record key."""
    from .printer import format_node
    return hashlib.sha256(format_node(node).encode()).hexdigest()
