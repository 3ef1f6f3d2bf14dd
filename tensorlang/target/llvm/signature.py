"""The calling convention of a compiled function and the checks of its arguments.

A :class:`Signature` describes, as plain JSON-serialisable data, what the entry point
expects: one pointer per buffer parameter (dtype, shape with symbolic dimensions, whether
the function writes it) and a table of int64 *slots* for scalar parameters and symbolic
dimensions.  :meth:`Signature.pack` checks a call's Python arguments against it and
produces the raw values for the entry point, raising ``TypeError``/``ValueError`` that
name the parameter at fault, so no bad argument reaches compiled code.
"""
from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass, field

import numpy as np

from ...errors import BuildError
from ...tir import expr as E
from ...tir import stmt as S
from ...tir.buffer import Buffer
from ...tir.datatype import BFLOAT16_ARRAYS, is_bfloat16_array
from ...tir.datatype import dtype as to_dtype
from ...tir.functor import post_order_visit
from ...tir.index_width import dimension_overflow

#: shape expression node -> operator name in the serialised form, and its evaluation
_SHAPE_OPS = {E.Add: ("add", lambda a, b: a + b), E.Sub: ("sub", lambda a, b: a - b),
              E.Mul: ("mul", lambda a, b: a * b), E.FloorDiv: ("floordiv", lambda a, b: a // b),
              E.FloorMod: ("floormod", lambda a, b: a % b), E.Min: ("min", min),
              E.Max: ("max", max)}
_EVAL = {name: fn for name, fn in _SHAPE_OPS.values()}


def _serialise_dim(expr, slots: dict, param_name: str):
    if isinstance(expr, E.IntImm):
        return expr.value
    if isinstance(expr, E.Var):
        if expr not in slots:
            raise BuildError(f"the shape of '{param_name}' uses the variable '{expr.name}', "
                             f"which no argument determines; pass '{expr.name}' as a scalar "
                             f"argument or use it alone as a dimension of an argument")
        return {"slot": slots[expr], "name": expr.name}
    op = _SHAPE_OPS.get(type(expr))
    if op is None:
        raise BuildError(f"the shape of '{param_name}' has the dimension '{expr}', which "
                         f"compiled code cannot check; use variables, constants and + - * //")
    return [op[0], _serialise_dim(expr.a, slots, param_name),
            _serialise_dim(expr.b, slots, param_name)]


def _evaluate_dim(spec, values: list):
    if isinstance(spec, int):
        return spec
    if isinstance(spec, dict):
        return values[spec["slot"]]
    a, b = _evaluate_dim(spec[1], values), _evaluate_dim(spec[2], values)
    if a is None or b is None:
        return None
    return _EVAL[spec[0]](a, b)


@dataclass
class Signature:
    """What the entry point ``symbol`` expects; see the module docstring."""
    symbol: str
    params: list[dict]
    slots: list[dict]
    buffer_names: list[str] = field(default_factory=list)
    #: the packed calls of the function, in the order of their call index: the name
    #: called and how to read each argument (see :mod:`.packed_calls`)
    packed_calls: list[dict] = field(default_factory=list)

    def add_internal_buffer(self, name: str) -> int:
        """Register an allocated buffer for error messages; returns its id."""
        self.buffer_names.append(name)
        return len(self.buffer_names) - 1

    @property
    def num_buffers(self) -> int:
        return sum(1 for p in self.params if p["kind"] == "buffer")

    def to_json(self) -> dict:
        data = {"symbol": self.symbol, "params": self.params, "slots": self.slots,
                "buffer_names": self.buffer_names}
        if self.packed_calls:
            data["packed_calls"] = self.packed_calls
        return data

    @staticmethod
    def from_json(data: dict) -> "Signature":
        signature = Signature(data["symbol"], data["params"], data["slots"],
                              list(data["buffer_names"]), list(data.get("packed_calls", ())))
        return signature

    # -- argument checking -----------------------------------------------------------
    def describe(self) -> str:
        return ", ".join(p["name"] for p in self.params)

    def _prepared(self) -> list:
        """Per parameter: (param, numpy dtype or None, [(dim, slot)], has expressions)."""
        prepared = getattr(self, "_prepared_params", None)
        if prepared is None:
            prepared = []
            for param in self.params:
                if param["kind"] == "scalar":
                    prepared.append((param, None, (), False))
                    continue
                slots = tuple((dim, spec["slot"]) for dim, spec in enumerate(param["shape"])
                              if isinstance(spec, dict))
                has_exprs = any(isinstance(spec, list) for spec in param["shape"])
                prepared.append((param, np.dtype(param["numpy_dtype"]), slots, has_exprs))
            self._prepared_params = prepared
        return prepared

    def pack(self, args: tuple):
        """Check ``args``; return (pointers, scalars array or None, temporaries).

        An array that is misaligned or not C-contiguous (an offset, sliced, strided or
        transposed view) is passed as an aligned C-contiguous copy.  ``temporaries``
        lists ``(copy, original)`` for each such copy, ``original`` being None for an
        input: the caller must keep the list alive until the call returns (the pointers
        point into the copies) and then :func:`write_back` the outputs."""
        prepared = self._prepared()
        if len(args) != len(prepared):
            raise TypeError(f"{self.symbol}() takes {len(prepared)} argument(s) "
                            f"({self.describe()}), but {len(args)} were given")
        values: list = [None] * len(self.slots)
        bound_by: list = [None] * len(self.slots)
        pointers = []
        temporaries = []
        arrays = []
        any_exprs = False
        for (param, np_dtype, slots, has_exprs), arg in zip(prepared, args):
            if np_dtype is None:
                self._bind_scalar(param, arg, values, bound_by)
                continue
            # the common case first: an aligned, contiguous array of the right type
            if type(arg) is not np.ndarray or arg.dtype != np_dtype:
                arg = self._check_array(param, arg)
            flags = arg.flags
            if arg.ndim != len(param["shape"]) or (param["output"] and not flags.writeable):
                self._check_array(param, arg)
            shape = arg.shape
            for dim, spec in enumerate(param["shape"]):
                if spec.__class__ is int and shape[dim] != spec:
                    self._check_array(param, arg)
            for dim, slot in slots:
                if values[slot] is None:
                    if shape[dim] > self._slot_limits()[slot]:
                        raise ValueError(dimension_overflow(
                            param["name"], dim, shape[dim], self.slots[slot]["name"],
                            self.slots[slot]["dtype"]))
                    values[slot] = shape[dim]
                    bound_by[slot] = (param, dim)
                elif values[slot] != shape[dim]:
                    raise ValueError(
                        f"argument '{param['name']}' has shape {shape}: dimension {dim} "
                        f"is {shape[dim]}, but {self.slots[slot]['name']} = "
                        f"{values[slot]} was set by {_describe_binding(bound_by[slot])}")
            any_exprs = any_exprs or has_exprs
            arrays.append((param, arg))
            if flags.aligned and flags.c_contiguous:
                pointers.append(_address(arg))
                continue
            # compiled code assumes each element at its natural alignment and C order
            copy = np.array(arg, order="C")
            temporaries.append((copy, arg if param["output"] else None))
            pointers.append(_address(copy))
        if any_exprs:
            self._check_shape_expressions(arrays, values)
        self._check_overlap(arrays)
        if not values:
            return pointers, None, temporaries
        return pointers, (ctypes.c_int64 * len(values))(*values), temporaries

    def _slot_limits(self) -> list:
        """The largest value each slot's variable holds (a dimension bound to a 32-bit
        variable must not wrap in compiled code)."""
        limits = getattr(self, "_limits", None)
        if limits is None:
            limits = self._limits = [int(to_dtype(slot["dtype"]).max_value())
                                     if slot["dtype"].startswith(("int", "uint")) else
                                     2**63 - 1 for slot in self.slots]
        return limits

    def _check_shape_expressions(self, arrays, values) -> None:
        for param, array in arrays:
            for dim, spec in enumerate(param["shape"]):
                if isinstance(spec, list):
                    expected = _evaluate_dim(spec, values)
                    if expected != array.shape[dim]:
                        raise ValueError(
                            f"argument '{param['name']}' has shape {array.shape}, but "
                            f"dimension {dim} must be {expected} given the other arguments")

    def _check_array(self, param: dict, arg):
        name = param["name"]
        if not isinstance(arg, np.ndarray):
            if arg is None:
                problem = "None"
            elif isinstance(arg, (list, tuple)):
                problem = f"a {type(arg).__name__}; convert it with numpy.asarray(..., " \
                          f"dtype=\"{param['numpy_dtype']}\")"
            else:
                problem = f"a {type(arg).__name__}"
            raise TypeError(f"argument '{name}' must be a numpy.ndarray of {param['dtype']} "
                            f"with shape {self._shape_text(param)}, but it is {problem}")
        if param["dtype"] == "bfloat16" and is_bfloat16_array(arg):
            pass   # ml_dtypes' bfloat16: the 16-bit patterns the function reads
        elif arg.dtype != param["numpy_dtype"]:
            if param["dtype"] == "bfloat16":
                # .astype("uint16") would convert the values, not give their bits
                raise TypeError(f"argument '{name}' is bfloat16, but it has dtype "
                                f"{arg.dtype}; pass {BFLOAT16_ARRAYS}")
            raise TypeError(f"argument '{name}' must have dtype {param['dtype']}, but it has "
                            f"dtype {arg.dtype}; convert it with .astype(\"{param['numpy_dtype']}\")")
        if arg.ndim != len(param["shape"]):
            raise ValueError(f"argument '{name}' must have {len(param['shape'])} "
                             f"dimension(s) {self._shape_text(param)}, but it has shape "
                             f"{arg.shape}")
        for dim, spec in enumerate(param["shape"]):
            if isinstance(spec, int) and arg.shape[dim] != spec:
                raise ValueError(f"argument '{name}' must have shape "
                                 f"{self._shape_text(param)}, but it has shape {arg.shape} "
                                 f"(dimension {dim} differs)")
        if param["output"] and not arg.flags.writeable:
            raise ValueError(f"argument '{name}' is written by the function but the array "
                             f"is read-only; pass a writable array")
        return arg

    def _check_overlap(self, arrays) -> None:
        if len(arrays) < 2:
            return
        for i, (param, array) in enumerate(arrays):
            if not param["output"] or array.size == 0:
                continue
            for j, (other_param, other) in enumerate(arrays):
                if i != j and other.size and np.may_share_memory(array, other):
                    raise ValueError(
                        f"argument '{param['name']}' is written by the function and shares "
                        f"memory with argument '{other_param['name']}'; pass separate arrays")

    def _bind_scalar(self, param: dict, arg, values: list, bound_by: list) -> None:
        name, slot, kind = param["name"], param["slot"], param["dtype"]
        if isinstance(arg, np.ndarray) and arg.ndim == 0:
            arg = arg.item()
        if isinstance(arg, np.generic):
            arg = arg.item()
        if kind == "bool":
            if not isinstance(arg, bool):
                raise TypeError(f"argument '{name}' must be a bool, got {type(arg).__name__}")
            value = int(arg)
        elif kind.startswith(("int", "uint")):
            if isinstance(arg, bool) or not isinstance(arg, int):
                raise TypeError(f"argument '{name}' must be an integer ({kind}), got "
                                f"{type(arg).__name__} {_value_text(arg)}")
            info = np.iinfo(kind)
            if not info.min <= arg <= info.max:
                raise ValueError(f"argument '{name}' = {_value_text(arg)} does not fit in "
                                 f"{kind}")
            value = arg
        else:
            if isinstance(arg, bool) or not isinstance(arg, (int, float)):
                raise TypeError(f"argument '{name}' must be a number ({kind}), got "
                                f"{type(arg).__name__} {_value_text(arg)}")
            try:
                as_float = float(arg)
            except OverflowError:  # an int beyond the range of any float
                raise ValueError(f"argument '{name}' = {_value_text(arg)} does not fit in "
                                 f"{kind}") from None
            value = struct.unpack("<q", struct.pack("<d", as_float))[0]
        if values[slot] is not None and values[slot] != value:
            raise ValueError(f"argument '{name}' = {arg} contradicts "
                             f"{_describe_binding(bound_by[slot])}, "
                             f"which sets it to {values[slot]}")
        values[slot] = value
        bound_by[slot] = (param, None)

    @staticmethod
    def _shape_text(param: dict) -> str:
        def text(spec):
            if isinstance(spec, int):
                return str(spec)
            if isinstance(spec, dict):
                return spec.get("name", "?")
            return f"({text(spec[1])} {spec[0]} {text(spec[2])})"
        dims = [text(s) for s in param["shape"]]
        return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def signature_json_problem(data) -> str | None:
    """What is wrong with ``data`` as the JSON form of a :class:`Signature` (a missing
    field, a field of the wrong type, a slot out of range), or None when nothing is; a
    signature read back from disk is checked so that a damaged one cannot reach
    :meth:`Signature.pack`."""
    if not isinstance(data, dict):
        return f"is a {type(data).__name__}, not an object"
    fields = {"symbol": str, "params": list, "slots": list, "buffer_names": list}
    problem = _fields_problem(data, fields, "")
    if problem:
        return problem
    if not data["symbol"]:
        return "has an empty 'symbol'"
    for index, slot in enumerate(data["slots"]):
        problem = _fields_problem(slot, {"name": str, "dtype": str}, f"slots[{index}].")
        if problem:
            return problem
    if not all(isinstance(name, str) for name in data["buffer_names"]):
        return "has a 'buffer_names' entry that is not a string"
    problem = _packed_calls_problem(data.get("packed_calls", []))
    if problem:
        return problem
    num_slots = len(data["slots"])
    for index, param in enumerate(data["params"]):
        where = f"params[{index}]."
        problem = _fields_problem(param, {"name": str, "kind": str, "dtype": str}, where)
        if problem:
            return problem
        if param["kind"] == "scalar":
            problem = _fields_problem(param, {"slot": int}, where)
            if problem is None and not 0 <= param["slot"] < num_slots:
                problem = f"has '{where}slot' {param['slot']} out of range"
        elif param["kind"] == "buffer":
            problem = _fields_problem(param, {"numpy_dtype": str, "shape": list,
                                              "output": bool}, where)
            if problem is None:
                for spec in param["shape"]:
                    if not _dim_spec_valid(spec, num_slots):
                        return f"has an invalid dimension {spec!r} in '{where}shape'"
        else:
            problem = f"has '{where}kind' {param['kind']!r}, not 'scalar' or 'buffer'"
        if problem:
            return problem
    return None


#: the kinds of argument of a packed call, and the fields each has
_PACKED_ARG_FIELDS = {"buffer": {"name": str, "numpy_dtype": str, "ndim": int, "writes": bool},
                      "int": {"dtype": str}, "float": {"dtype": str}, "bool": {"dtype": str},
                      "str": {"value": str}}


def _packed_calls_problem(calls) -> str | None:
    if not isinstance(calls, list):
        return f"has 'packed_calls' of type {type(calls).__name__}, not a list"
    for index, call in enumerate(calls):
        where = f"packed_calls[{index}]."
        problem = _fields_problem(call, {"name": str, "args": list}, where)
        if problem:
            return problem
        for k, arg in enumerate(call["args"]):
            kind = arg.get("kind") if isinstance(arg, dict) else None
            if kind not in _PACKED_ARG_FIELDS:
                return f"has an argument of unknown kind in '{where}args[{k}]'"
            problem = _fields_problem(arg, _PACKED_ARG_FIELDS[kind], f"{where}args[{k}].")
            if problem:
                return problem
    return None


def _fields_problem(data, fields: dict, where: str) -> str | None:
    if not isinstance(data, dict):
        return f"has '{where.rstrip('.')}' of type {type(data).__name__}, not an object"
    for name, kind in fields.items():
        if name not in data:
            return f"has no field '{where}{name}'"
        value = data[name]
        # bool is an int to Python, but never a valid int field (nor an int a bool one)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"has '{where}{name}' of type {type(value).__name__}, not {kind.__name__}"
    return None


def _dim_spec_valid(spec, num_slots: int) -> bool:
    if isinstance(spec, bool):
        return False
    if isinstance(spec, int):
        return spec >= 0
    if isinstance(spec, dict):
        slot = spec.get("slot")
        return isinstance(slot, int) and not isinstance(slot, bool) and \
            0 <= slot < num_slots and isinstance(spec.get("name"), str)
    if isinstance(spec, list):
        return len(spec) == 3 and isinstance(spec[0], str) and spec[0] in _EVAL and \
            _dim_spec_valid(spec[1], num_slots) and _dim_spec_valid(spec[2], num_slots)
    return False


def write_back(temporaries: list) -> None:
    """Copy each output's aligned copy (see :meth:`Signature.pack`) into the user's
    array once the call has returned."""
    for copy, original in temporaries:
        if original is not None:
            original[...] = copy


def _address(array: np.ndarray) -> int:
    """Address of an array's data (a writable buffer export is several times faster
    than ``array.ctypes.data``, which matters for small calls)."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(array))
    except (TypeError, ValueError, BufferError):  # read-only or empty arrays
        return array.ctypes.data


def _value_text(value, limit: int = 60) -> str:
    """A short repr of a user's value for an error message (never raising: huge ints
    cannot always be printed, and any object's __repr__ may fail)."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - the message must not fail in its turn
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _describe_binding(binding) -> str:
    param, dim = binding
    if dim is None:
        return f"argument '{param['name']}'"
    return f"argument '{param['name']}' dimension {dim}"


def make_signature(func: S.PrimFunc) -> tuple[Signature, dict]:
    """The signature of ``func`` and the slot of each of its scalar variables."""
    written: set = set()
    post_order_visit(func.body, lambda n: written.add(n.buffer)
                     if isinstance(n, S.BufferStore) or
                     (isinstance(n, E.BufferArg) and n.writes) else None)
    slots: dict = {}
    slot_info: list[dict] = []

    def add_slot(var: E.Var) -> int:
        if var not in slots:
            slots[var] = len(slot_info)
            slot_info.append({"name": var.name, "dtype": str(var.dtype)})
        return slots[var]

    for p in func.params:
        if isinstance(p, E.Var):
            add_slot(p)
    for p in func.params:
        if isinstance(p, Buffer):
            for dim in p.shape:
                if isinstance(dim, E.Var):
                    add_slot(dim)
    params = []
    buffer_names = []
    for p in func.params:
        if isinstance(p, E.Var):
            params.append({"name": p.name, "kind": "scalar", "dtype": str(p.dtype),
                           "slot": slots[p]})
            continue
        if not isinstance(p, Buffer):
            raise BuildError(f"parameter {p!r} of '{func.name}' is neither a buffer nor a "
                             f"scalar variable")
        if p.strides:
            raise BuildError(f"parameter '{p.name}' of '{func.name}' has explicit strides; "
                             f"compiled functions take C-contiguous arrays")
        shape = [_serialise_dim(d, slots, p.name) for d in p.shape]
        params.append({"name": p.name, "kind": "buffer", "dtype": str(p.dtype),
                       "numpy_dtype": to_dtype(p.dtype).numpy_dtype.name, "shape": shape,
                       "output": p in written})
        buffer_names.append(p.name)
    symbol = entry_symbol(func.attr("global_symbol") or func.name)
    return Signature(symbol, params, slot_info, buffer_names), slots


def entry_symbol(name: str) -> str:
    """The C symbol of a function: its name, unless that would shadow a symbol compiled
    code calls (``exp``, ``free``, ...) or is not a C identifier."""
    import ctypes
    import re
    clean = re.sub(r"[^0-9A-Za-z_]", "_", name) or "function"
    if clean[0].isdigit() or clean.startswith("__"):
        return "tl_" + clean
    try:
        ctypes.CDLL(None)[clean]
        return "tl_" + clean  # a C library function of this process has the name
    except (AttributeError, OSError):
        pass
    if clean.startswith(("GOMP_", "omp_", "llvm")):
        return "tl_" + clean
    return clean
