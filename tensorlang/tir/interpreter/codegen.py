"""Translation of a whole PrimFunc to the source of a Python function.

Loops become ``for`` loops over ``range``, variables become locals, buffers numpy arrays
indexed with tuples.  Accesses that interval analysis cannot prove in bounds get an inline
check that raises IndexError naming the buffer.  CPython refuses more than 20 nested
loops in one function, so deep loop nests continue in a separate top-level function that
receives the live variables as arguments.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...errors import InternalError
from .. import expr as E
from .. import stmt as S
from ..buffer import Buffer
from ..datatype import DataType
from ..structural import structural_equal
from ..naming import NameSupply
from ..packed import packed_call
from . import runtime
from .expressions import ADD, ATOM, ExpressionTranslator, Fragment, full_range

#: a new Python function starts when a function nests this many loops, or this deep
_MAX_LOOP_DEPTH = 16
_MAX_INDENT = 60
_KEYWORD_SAFE = re.compile(r"[^0-9a-zA-Z_]")


@dataclass
class BufferInfo:
    """How the generated code reaches a buffer."""
    name: str                      # Python local holding the numpy array
    extents: list[tuple[str, int | None, object]]  # per dim: code, constant value, IR node
    strides: list[str] | None      # codes of explicit strides (array flattened), or None
    buffer: Buffer = field(repr=False, default=None)


@dataclass
class GeneratedFunction:
    """One Python function of the generated source: the kernel, or a loop nest split out
    of it."""
    name: str
    params: list[str]
    lines: list[str] = field(default_factory=list)
    indent: int = 1
    loop_depth: int = 0


class Translator(ExpressionTranslator):
    """Builds the Python source of one PrimFunc."""

    def __init__(self, func: S.PrimFunc):
        self.func = func
        self.var_names: dict = {}
        self.used_names = NameSupply()
        self.var_ranges: dict = {}
        self.loop_bounds: dict = {}
        self.lane_names: dict = {}
        self.constants: dict = {}
        self.constant_values: dict = {}
        self.helpers: dict = {}
        self.buffers: dict = {}
        self.temp_count = 0
        self.live: list[str] = []
        self.functions: list[GeneratedFunction] = []
        self.current: GeneratedFunction | None = None
        #: kernel parameters in order: ("buffer", Buffer) / ("var", Var) / ("shape", Var)
        self.kernel_params: list[tuple[str, object]] = []

    # -- names -----------------------------------------------------------------------
    def unique(self, base: str) -> str:
        return self.used_names.fresh(base)

    def name_of_var(self, var: E.Var) -> str:
        name = self.var_names.get(var)
        if name is None:
            name = self.unique("v_" + _KEYWORD_SAFE.sub("_", var.name))
            self.var_names[var] = name
        return name

    def bind_var(self, var: E.Var, value: Fragment) -> str:
        if var.dtype.is_integer and var.dtype.lanes == 1 and value.lo is not None:
            self.var_ranges[var] = (value.lo, value.hi)
        return self.name_of_var(var)

    def unbind_var(self, var: E.Var) -> None:
        self.var_ranges.pop(var, None)

    def helper(self, name: str, kind: str, op: str, dtype: DataType) -> str:
        if name not in self.helpers:
            result_type = runtime.np.dtype(
                "float32" if dtype.kind == "bfloat" else str(dtype.element_of())).type
            make = runtime.scalar_math if kind == "scalar" else runtime.vector_math
            self.helpers[name] = make(op, result_type)
        return name

    # -- output ----------------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.current.lines.append("    " * self.current.indent + line)

    def block(self, emit_body) -> None:
        """Emit an indented block, with ``pass`` if it produced nothing."""
        self.current.indent += 1
        before = len(self.current.lines)
        emit_body()
        if len(self.current.lines) == before:
            self.emit("pass")
        self.current.indent -= 1

    # -- buffers ---------------------------------------------------------------------
    def checked_index(self, info: BufferInfo, dim: int, index: Fragment, node) -> str:
        code, constant, dim_node = info.extents[dim]
        if index.lo is not None and index.lo >= 0:
            if constant is not None and index.hi < constant:
                return index.code
            if node is not None and self._loop_covers(node, dim_node):
                return index.code
        name = info.buffer.name
        t = self.temp()
        low = "" if index.lo is not None and index.lo >= 0 else "0 <= "
        return (f"({t} if {low}({t} := {index.code}) < {code} else "
                f"_oob({name!r}, {dim}, {t}, {code}))")

    def _loop_covers(self, node, dim_node) -> bool:
        """Whether ``node`` is a loop variable running over ``range(0, dim_node)``."""
        bounds = self.loop_bounds.get(node) if isinstance(node, E.Var) else None
        if bounds is None:
            return False
        low, extent = bounds
        return isinstance(low, E.IntImm) and low.value == 0 and \
            structural_equal(extent, dim_node)

    def subscript(self, buffer: Buffer, indices: list[Fragment], nodes: list, lanes: int,
                  lane: int | None = None) -> tuple[str, bool]:
        """Python subscript of an access, and whether it is a slice (a numpy view)."""
        info = self.buffers.get(buffer)
        if info is None:
            raise InternalError(f"buffer '{buffer.name}' is used outside its allocation")
        if lanes == 1:
            codes = [self.checked_index(info, d, i, None if lane is not None else n)
                     for d, (i, n) in enumerate(zip(indices, nodes))]
            return self._combine(info, codes), False
        vector_dims = [d for d, n in enumerate(nodes) if n.dtype.lanes > 1]
        codes = []
        is_slice = False
        for d, (index, node) in enumerate(zip(indices, nodes)):
            extent = info.extents[d][0]
            if node.dtype.lanes == 1:
                codes.append(self.checked_index(info, d, index, node))
            elif len(vector_dims) == 1 and info.strides is None and isinstance(node, E.Ramp) \
                    and isinstance(node.stride, E.IntImm) and node.stride.value > 0:
                base = self.expr(node.base)
                codes.append(f"_ramp_slice({base.code}, {node.stride.value}, {node.lanes}, "
                             f"{extent}, {buffer.name!r}, {d})")
                is_slice = True
            else:
                codes.append(f"_vindex({index.code}, {extent}, {buffer.name!r}, {d})")
        return self._combine(info, codes), is_slice

    @staticmethod
    def _combine(info: BufferInfo, codes: list[str]) -> str:
        if info.strides is not None:
            # the index codes are plain text: parenthesise any that is not a single name or
            # number, or `i * 8 + j` scaled by a stride would bind as `i * 8 + j * stride`
            terms = [f"{c if c.isidentifier() or c.isdigit() else f'({c})'} * {s}"
                     for c, s in zip(codes, info.strides)]
            return " + ".join(terms) if terms else "0"
        return ", ".join(codes) if codes else "()"

    def buffer_access(self, buffer: Buffer, indices, nodes, lanes: int,
                      lane: int | None = None) -> Fragment:
        """A load (the expression half calls this)."""
        key, is_slice = self.subscript(buffer, indices, nodes, lanes, lane)
        name = self.buffers[buffer].name
        dtype = buffer.dtype
        if lanes == 1:
            if dtype.kind == "bfloat":
                return Fragment(f"_bf16l[{name}.item({_item_args(key)})]")
            if dtype.is_integer or dtype.is_bool:
                low, high = full_range(dtype)
                return Fragment(f"{name}.item({_item_args(key)})", ATOM, low, high)
            return Fragment(f"{name}[{key}]")
        load = f"{name}[{key}]"
        if dtype.kind == "bfloat":
            return Fragment(f"_bf16t[{load}]")
        return Fragment(f"{load}.copy()" if is_slice else load)

    def declare_buffer(self, buffer: Buffer, name: str, extents, strides) -> None:
        self.buffers[buffer] = BufferInfo(name, extents, strides, buffer)

    def extent_entries(self, buffer: Buffer, prefix: str) -> list[tuple[str, int | None, object]]:
        """Extents of ``buffer``'s dimensions, evaluated into locals where symbolic."""
        entries = []
        for d, dim in enumerate(buffer.shape):
            if isinstance(dim, E.IntImm):
                entries.append((str(dim.value), dim.value, dim))
            elif isinstance(dim, E.Var):
                entries.append((self.name_of_var(dim), None, dim))
            else:
                local = self.unique(f"_e_{prefix}{d}")
                self.emit(f"{local} = {self.expr(dim).code}")
                self.live.append(local)
                entries.append((local, None, dim))
        return entries

    def stride_codes(self, buffer: Buffer, prefix: str) -> list[str] | None:
        if not buffer.strides:
            return None
        codes = []
        for d, stride in enumerate(buffer.strides):
            if isinstance(stride, (E.IntImm, E.Var)):
                codes.append(self.expr(stride).code)
            else:
                local = self.unique(f"_s_{prefix}{d}")
                self.emit(f"{local} = {self.expr(stride).code}")
                self.live.append(local)
                codes.append(local)
        return codes

    # -- function --------------------------------------------------------------------
    def translate(self) -> str:
        func = self.func
        buffers = [p for p in func.params if isinstance(p, Buffer)]
        scalars = [p for p in func.params if isinstance(p, E.Var)]
        # sets and dicts compare Vars by identity; `in` on a list would build EQ nodes
        scalar_set = set(scalars)
        shape_vars = list(dict.fromkeys(
            dim for buffer in buffers for dim in buffer.shape + buffer.strides
            if isinstance(dim, E.Var) and dim not in scalar_set))
        dims = {dim for buffer in buffers for dim in buffer.shape + buffer.strides}
        params = []
        for buffer in buffers:
            params.append(self.unique("b_" + _KEYWORD_SAFE.sub("_", buffer.name)))
            self.kernel_params.append(("buffer", buffer))
        for var in scalars + shape_vars:
            params.append(self.name_of_var(var))
            self.kernel_params.append(("var" if var in scalar_set else "shape", var))
            if var in dims:
                self.var_ranges[var] = (0, int(var.dtype.max_value()))
        self.current = GeneratedFunction("_kernel", params)
        self.functions.append(self.current)
        self.live.extend(params)
        for buffer, name in zip(buffers, params):
            extents = self.extent_entries(buffer, name)
            for d, (code, constant, dim) in enumerate(extents):
                if constant is None and not isinstance(dim, E.Var):
                    self.emit(f"if {name}.shape[{d}] != {code}: _shape_mismatch("
                              f"{buffer.name!r}, {d}, {name}.shape[{d}], {code}, "
                              f"{str(dim)!r})")
            strides = self.stride_codes(buffer, name)
            if strides is not None:
                self.emit(f"{name} = {name}.reshape(-1)")
            self.declare_buffer(buffer, name, extents, strides)
        before = len(self.current.lines)
        self.stmt(func.body)
        if len(self.current.lines) == before:
            self.emit("pass")
        return self.source()

    def source(self) -> str:
        chunks = []
        for function in self.functions:
            chunks.append(f"def {function.name}({', '.join(function.params)}):")
            chunks.extend(function.lines)
            chunks.append("")
        return "\n".join(chunks)

    # -- statements ------------------------------------------------------------------
    def stmt(self, s) -> None:
        self.visit(s)

    def visit_SeqStmt(self, s: S.SeqStmt) -> None:
        for child in s.seq:
            self.stmt(child)

    def visit_AttrStmt(self, s: S.AttrStmt) -> None:
        self.stmt(s.body)

    def visit_Evaluate(self, s: S.Evaluate) -> None:
        value = s.value
        if isinstance(value, (E.IntImm, E.FloatImm, E.StringImm)):
            return
        if isinstance(value, E.Call) and value.op in ("tl.syncthreads", "tl.assume"):
            return
        call = packed_call(value)
        if call is not None:
            name, args = call
            codes = ", ".join(self.packed_argument(arg) for arg in args)
            self.emit(f"_call_packed({name!r}, [{codes}])")
            return
        self.emit(self.expr(value).code)

    def packed_argument(self, arg) -> str:
        """The Python value a called function receives for ``arg``: a numpy view of a
        buffer, a string, or a Python bool / int / float."""
        if isinstance(arg, E.BufferArg):
            info = self.buffers.get(arg.buffer)
            if info is None:
                raise InternalError(f"buffer '{arg.buffer.name}' is passed to a call outside "
                                    f"its allocation")
            shape = "".join(f"{code}, " for code, _, _ in info.extents)
            strides = "None" if info.strides is None else \
                "(" + "".join(f"{code}, " for code in info.strides) + ")"
            return f"_buffer_arg({info.name}, ({shape}), {strides}, {arg.writes})"
        if isinstance(arg, E.StringImm):
            return repr(arg.value)
        value = self.expr(arg).code
        kind = "bool" if arg.dtype.is_bool else "int" if arg.dtype.is_integer else "float"
        return f"{kind}({value})"

    def visit_BufferStore(self, s: S.BufferStore) -> None:
        value = self.expr(s.value)
        indices = [self.expr(i) for i in s.indices]
        lanes = s.value.dtype.lanes
        key, _ = self.subscript(s.buffer, indices, list(s.indices), lanes)
        name = self.buffers[s.buffer].name
        code = value.code
        if s.buffer.dtype.kind == "bfloat":
            code = f"_bf16_bits_array({code})" if lanes > 1 else f"_bf16_bits({code})"
        self.emit(f"{name}[{key}] = {code}")

    def visit_LetStmt(self, s: S.LetStmt) -> None:
        value = self.expr(s.value)
        name = self.bind_var(s.var, value)
        self.emit(f"{name} = {value.code}")
        self.live.append(name)
        self.stmt(s.body)
        self.live.remove(name)
        self.unbind_var(s.var)

    def visit_IfThenElse(self, s: S.IfThenElse) -> None:
        self.emit(f"if {self.expr(s.condition).code}:")
        self.block(lambda: self.stmt(s.then_case))
        if s.else_case is not None:
            self.emit("else:")
            self.block(lambda: self.stmt(s.else_case))

    def visit_Allocate(self, s: S.Allocate) -> None:
        buffer = s.buffer
        name = self.unique("b_" + _KEYWORD_SAFE.sub("_", buffer.name))
        extents = self.extent_entries(buffer, name)
        strides = self.stride_codes(buffer, name)
        shape = ", ".join(code for code, _, _ in extents)
        dtype = repr(str(buffer.dtype.numpy_dtype))
        if strides is None:
            self.emit(f"{name} = _np.empty(({shape}{',' if len(extents) == 1 else ''}), "
                      f"{dtype})")
        else:
            self.emit(f"{name} = _np.empty(_strided_size(({shape},), ({', '.join(strides)},)),"
                      f" {dtype})")
        self.live.append(name)
        self.declare_buffer(buffer, name, extents, strides)
        self.stmt(s.body)
        del self.buffers[buffer]
        self.live.remove(name)

    def visit_For(self, s: S.For) -> None:
        if self.current.loop_depth >= _MAX_LOOP_DEPTH or self.current.indent >= _MAX_INDENT:
            self.split_function(s)
            return
        low, extent = self.expr(s.min), self.expr(s.extent)
        name = self.name_of_var(s.loop_var)
        if isinstance(s.min, E.IntImm) and s.min.value == 0:
            bounds = extent.code
        else:
            if low.prec < ATOM:
                start = self.temp()
                self.emit(f"{start} = {low.code}")
                low = Fragment(start, ATOM, low.lo, low.hi)
            bounds = f"{low.code}, {low.at(ADD)} + {extent.at(ADD + 1)}"
        dtype = s.loop_var.dtype
        tmin, tmax = full_range(dtype)
        high = low.hi + max(extent.hi, 1) - 1
        self.var_ranges[s.loop_var] = (max(low.lo, tmin), min(high, tmax))
        self.loop_bounds[s.loop_var] = (s.min, s.extent)
        self.emit(f"for {name} in range({bounds}):")
        self.live.append(name)
        self.current.loop_depth += 1
        self.block(lambda: self.stmt(s.body))
        self.current.loop_depth -= 1
        self.live.remove(name)
        del self.loop_bounds[s.loop_var]
        self.var_ranges.pop(s.loop_var, None)

    def split_function(self, s: S.For) -> None:
        """Continue the loop nest ``s`` in a new top-level function."""
        params = list(dict.fromkeys(self.live))
        function = GeneratedFunction(f"_nest{len(self.functions)}", params)
        self.functions.append(function)
        caller = self.current
        self.current = function
        self.visit_For(s)
        self.current = caller
        self.emit(f"{function.name}({', '.join(params)})")


def _item_args(key: str) -> str:
    """Arguments of ``ndarray.item`` for a subscript (``()`` for 0-d buffers)."""
    return "" if key == "()" else key

