"""Structural equality and hashing of IR nodes.

Both flatten a node, iteratively, into one token list that holds every field of every
node (types of all expressions and variables, constants by their bits, buffer shapes,
strides and scopes, loop kinds, annotations, attributes).  Variables and buffers, the
nodes marked ``_variable``, are tokens for their place of definition: the node that binds
them (``_binds`` / ``_scope`` of :class:`~tensorlang.tir.node.Node`), or, for free ones,
their first use.  So bound variables compare up to renaming; free ones by identity unless
``map_free_vars`` is set.  A function's parameters bind their buffers and the variables
first seen in the buffers' shapes, so two functions built separately from one schedule
are equal and hash alike.

Names of variables and buffers are not structure; ``structural_hash(node, names=True)``
adds them, for keys of artefacts that show names (symbols, error messages).
"""
from __future__ import annotations

import dataclasses
import hashlib
import struct
import weakref
from operator import attrgetter

from .datatype import DataType
from .node import Node

_SCALAR_TYPES = frozenset({"DataType", "str", "int", "float", "bool"})
_FLOAT_BITS = struct.Struct("<d")
_INT_BITS = struct.Struct("<q")


def _float_bits(value) -> int:
    """The bits of a float: ``-0.0`` differs from ``0.0``, a NaN equals the same NaN."""
    return _INT_BITS.unpack(_FLOAT_BITS.pack(value))[0]


class _Plan:
    """How to flatten nodes of one class: the fields emitted as they are, those flattened
    in order (children), and for binding nodes the fields in binding position and scope."""

    __slots__ = ("token", "scalars", "children", "binds", "scope", "variable",
                 "binds_shapes", "scalar_values", "child_values")

    def __init__(self, cls):
        fields = dataclasses.fields(cls)
        self.token = f"{cls.__module__}.{cls.__qualname__}"
        self.variable = cls._variable
        special = set(cls._binds) | set(cls._scope)
        if self.variable:
            special.add("name")
        self.scalars = tuple(f.name for f in fields
                             if f.type in _SCALAR_TYPES and f.name not in special)
        floats = {f.name for f in fields if f.type == "float"}
        self.children = tuple(f.name for f in fields
                              if f.type not in _SCALAR_TYPES and f.name not in special)
        self.scalar_values = _getter(self.scalars, floats)
        self.child_values = _getter(tuple(reversed(self.children)), set())
        self.binds, self.scope = cls._binds, cls._scope
        #: a function's parameters also define the variables of their shapes
        self.binds_shapes = getattr(cls, "_binds_shape_vars", False)


def _getter(names: tuple[str, ...], floats: set[str]):
    """A function of a node giving the tuple of its fields ``names`` (floats as bits)."""
    if floats:
        return lambda node: tuple(_float_bits(getattr(node, n)) if n in floats
                                  else getattr(node, n) for n in names)
    if not names:
        return lambda node: ()
    if len(names) == 1:
        get = attrgetter(names[0])
        return lambda node: (get(node),)
    return attrgetter(*names)


_PLANS: dict[type, _Plan] = {}
#: token of each kind of plain value
_VALUE_TOKENS = {str: "str", int: "int", bool: "bool", type(None): "None", DataType: "dtype"}


class _Step:
    """A bookkeeping step on the work stack (not a value to flatten)."""
    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value=None):
        self.kind, self.value = kind, value


_MARK, _RESTORE = _Step("mark"), _Step("restore")
_IMPLICIT_ON, _IMPLICIT_OFF = _Step("implicit_on"), _Step("implicit_off")


class _Flattener:
    def __init__(self, identity: bool, names: bool):
        self.identity = identity  # free variables as themselves (else by first use)
        self.names = names
        self.out: list = []
        self.numbers: dict = {}   # variable -> its number
        self.opaques: dict[int, int] = {}  # id of a value that is not IR -> its number
        self.count = 0
        self.saved: list = []     # (variable, its previous number) per binding
        self.marks: list[int] = []
        self.implicit = 0         # > 0 while a function's parameters define variables

    def define(self, var, stack: list) -> None:
        """Give ``var`` the next number; a buffer's fields follow its definition."""
        self.saved.append((var, self.numbers.get(var)))
        self.numbers[var] = self.count
        self.count += 1
        self.emit_definition(var, stack)

    def emit_definition(self, var, stack: list) -> None:
        out = self.out
        out.append("def")
        if self.names:
            out.append(var.name)
        plan = _plan(type(var))
        out.append(plan.token)
        out.extend(plan.scalar_values(var))
        stack.extend(plan.child_values(var))

    def use(self, var, stack: list) -> None:
        number = self.numbers.get(var)
        if number is not None:
            self.out.append("use")
            self.out.append(number)
        elif self.identity and not self.implicit:
            self.out.append("free")
            self.out.append(id(var))
        else:
            # a free variable: numbered at its first use, for the rest of the flattening
            self.numbers[var] = self.count
            self.count += 1
            self.emit_definition(var, stack)

    def bind_all(self, value, stack: list) -> None:
        """Define the variables in a binding field (a Var, Buffer, IterVar or a tuple)."""
        if isinstance(value, tuple):
            self.out.append(len(value))
            for item in reversed(value):
                stack.append(_Step("bind", item))
        elif isinstance(value, Node) and type(value)._variable:
            self.define(value, stack)
        else:
            stack.append(value)  # an IterVar: defines its variable in the enclosing scope

    def restore(self) -> None:
        mark = self.marks.pop()
        saved, numbers = self.saved, self.numbers
        while len(saved) > mark:
            var, previous = saved.pop()
            if previous is None:
                numbers.pop(var, None)
            else:
                numbers[var] = previous

    def flatten(self, root) -> list:  # noqa: C901 - one case per kind of value
        out, stack = self.out, [root]
        while stack:
            item = stack.pop()
            t = type(item)
            if t is _Step:
                kind = item.kind
                if kind == "bind":
                    self.bind_all(item.value, stack)
                elif kind == "mark":
                    self.marks.append(len(self.saved))
                elif kind == "restore":
                    self.restore()
                elif kind == "implicit_on":
                    self.implicit += 1
                else:
                    self.implicit -= 1
                continue
            plan = _PLANS.get(t)
            if plan is None and isinstance(item, Node):
                plan = _plan(t)
            if plan is not None:
                if plan.variable:
                    self.use(item, stack)
                    continue
                out.append(plan.token)
                out.extend(plan.scalar_values(item))
                if plan.binds:
                    # children outside the scope, then the definitions, then the scope
                    if plan.scope:
                        stack.append(_RESTORE)
                    stack.extend(getattr(item, name) for name in reversed(plan.scope))
                    if plan.binds_shapes:
                        stack.append(_IMPLICIT_OFF)
                    stack.extend(_Step("bind", getattr(item, name))
                                 for name in reversed(plan.binds))
                    if plan.binds_shapes:
                        stack.append(_IMPLICIT_ON)
                    if plan.scope:
                        stack.append(_MARK)
                stack.extend(plan.child_values(item))
            elif t is tuple or t is list:
                out.append("tuple" if t is tuple else "list")
                out.append(len(item))
                stack.extend(reversed(item))
            elif t in _VALUE_TOKENS:
                out.append(_VALUE_TOKENS[t])
                out.append(item)
            elif t is float:
                out.append("float")
                out.append(_float_bits(item))
            else:
                self.opaque(item)
        return out

    def opaque(self, item) -> None:
        """A value that is not IR (a te.Tensor read by a ProducerLoad): itself, like a
        free variable; its text joins the hash when names count."""
        self.out.append(f"{type(item).__module__}.{type(item).__qualname__}")
        if self.identity:
            self.out.append(id(item))
            return
        number = self.opaques.get(id(item))
        if number is None:
            number = self.opaques[id(item)] = self.count
            self.count += 1
        self.out.append(number)
        if self.names:
            self.out.append(repr(item))


def _plan(cls) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _Plan(cls)
    return plan


def _tokens(node, map_free_vars: bool = True, names: bool = False) -> list:
    """The flat token list that structural equality compares and the hash digests."""
    return _Flattener(not map_free_vars, names).flatten(node)


def structural_equal(a, b, map_free_vars: bool = False) -> bool:
    """Whether ``a`` and ``b`` are the same IR up to renaming of bound variables (and of
    free ones too with ``map_free_vars``)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    return _tokens(a, map_free_vars) == _tokens(b, map_free_vars)


#: (node, names) -> digest, for nodes that allow weak references and compare by identity
#: (functions: every build of one function asks for its hash); nodes never change
_DIGESTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def structural_hash(node, names: bool = False) -> str:
    """A stable hex digest of the node's structure, equal for nodes equal under
    ``structural_equal(a, b, map_free_vars=True)`` (and, with ``names``, named alike);
    usable as a cache or tuning-record key."""
    cls = type(node)
    memo = hasattr(cls, "__weakref__") and cls.__eq__ is object.__eq__
    if memo:
        digests = _DIGESTS.get(node)
        if digests is not None and names in digests:
            return digests[names]
    tokens = _tokens(node, map_free_vars=True, names=names)
    digest = hashlib.sha256(repr(tokens).encode()).hexdigest()
    if memo:
        _DIGESTS.setdefault(node, {})[names] = digest
    return digest
