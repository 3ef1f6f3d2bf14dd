"""CUDA C generation from thread-bound loop IR.

:class:`CudaCodegen` prints the kernels of a
:class:`~tensorlang.tir.transform.split_kernels.DeviceProgram` as one translation unit
that ``nvcc`` (or NVRTC) compiles.  Spellings live in tables (types, math functions,
thread indices, vector types) that a subclass overrides, e.g. :class:`FastMathCudaCodegen`
maps ``exp`` to ``__expf``.

Conventions of the generated code:

* global buffers are ``T* __restrict__`` arguments, symbolic sizes ``int`` arguments;
  multi-dimensional indices are flattened row-major (or with the buffer's strides);
* a loop bound to ``threadIdx.x`` becomes ``int i = min + threadIdx.x`` (the launch
  covers its extent exactly); ``vthread`` loops stay serial, unrolled;
* ``shared`` allocations are ``__shared__`` arrays declared at the top of the kernel,
  ``local`` ones register arrays declared where they are allocated;
* ``float16`` / ``bfloat16`` are stored as ``__half`` / ``__nv_bfloat16`` and computed in
  ``float``, rounded back to 16 bits after every operation as the loop IR specifies;
* vector statements (Ramp indices) are computed lane by lane; a contiguous access whose
  first element is provably aligned becomes one ``float2``/``float4`` load or store;
* floor division / modulo use inline helpers unless both operands are provably
  non-negative.
"""
from __future__ import annotations

import math
import re

from ...errors import BuildError, InternalError
from ...tir import expr as E
from ...tir import op
from ...tir import stmt as S
from ...tir.naming import NameSupply
from ...tir.arith.const_int_bound import POS_INF, BoundEvaluator, ConstIntBound
from ...tir.buffer import Buffer
from ...tir.datatype import DataType
from ...tir.extern_calls import extern_call
from ...tir.intrin_rules import unlowered
from ...tir.intrin_table import is_declared
from ...tir.functor import ExprFunctor
from ...tir.index_width import flat_index_type
from ...tir.transform.substitute import substitute
from ...tir.transform.split_kernels import DeviceProgram, Kernel, is_hardware_thread_loop
from ...tir.transform.inject_syncthreads import SYNC_OP
from .lanes import LaneOf
from .preamble import BF16_PREAMBLE, FP16_PREAMBLE, PREAMBLE

_IDENTIFIER = re.compile(r"[^0-9a-zA-Z_]")
_RESERVED = frozenset("""auto bool break case char const continue default do double else enum
extern float for goto if inline int long register restrict return short signed sizeof static
struct switch typedef union unsigned void volatile while threadIdx blockIdx blockDim gridDim
warpSize min max half float2 float4 int2 int4 uint2 uint4 new delete this class template
namespace operator private public protected true false""".split())

class CudaCodegen(ExprFunctor):
    """Prints a DeviceProgram as CUDA C, one ``visit_<Node>`` per expression and statement
    kind (as the LLVM code generator); subclasses override the tables."""

    #: storage type of each element type
    TYPES = {"bool": "bool", "int8": "signed char", "int16": "short", "int32": "int",
             "int64": "long long", "uint8": "unsigned char", "uint16": "unsigned short",
             "uint32": "unsigned int", "uint64": "unsigned long long", "float16": "__half",
             "bfloat16": "__nv_bfloat16", "float32": "float", "float64": "double"}
    #: type in which values of a 16-bit float type are computed
    COMPUTE_TYPES = {"float16": "float", "bfloat16": "float"}
    #: 16-bit float type -> (load conversion, store conversion, rounding helper)
    HALF_CONVERSIONS = {"float16": ("__half2float", "__float2half_rn", "tl_round_f16"),
                        "bfloat16": ("__bfloat162float", "__float2bfloat16_rn",
                                     "tl_round_bf16")}
    #: (element type, lanes) -> CUDA vector type for whole-vector loads and stores
    VECTOR_TYPES = {("float32", 2): "float2", ("float32", 4): "float4",
                    ("int32", 2): "int2", ("int32", 4): "int4",
                    ("uint32", 2): "uint2", ("uint32", 4): "uint4"}
    LANE_FIELDS = ("x", "y", "z", "w")
    #: intrinsic -> function, for 32-bit (and 16-bit, computed in float) and 64-bit floats
    MATH_FLOAT = {"exp": "expf", "exp2": "exp2f", "log": "logf", "log2": "log2f",
                  "log10": "log10f", "sqrt": "sqrtf", "rsqrt": "rsqrtf", "tanh": "tanhf",
                  "sigmoid": "tl_sigmoidf", "erf": "erff", "fabs": "fabsf",
                  "floor": "floorf", "ceil": "ceilf", "round": "rintf", "trunc": "truncf",
                  "sin": "sinf", "cos": "cosf", "pow": "powf"}
    MATH_DOUBLE = {"exp": "exp", "exp2": "exp2", "log": "log", "log2": "log2",
                   "log10": "log10", "sqrt": "sqrt", "rsqrt": "rsqrt", "tanh": "tanh",
                   "sigmoid": "tl_sigmoid", "erf": "erf", "fabs": "fabs", "floor": "floor",
                   "ceil": "ceil", "round": "rint", "trunc": "trunc", "sin": "sin",
                   "cos": "cos", "pow": "pow"}
    BINARY = {E.Add: "+", E.Sub: "-", E.Mul: "*", E.Div: "/", E.EQ: "==", E.NE: "!=",
              E.LT: "<", E.LE: "<=", E.GT: ">", E.GE: ">=", E.And: "&&", E.Or: "||"}
    BITWISE = {E.ShiftRight: ">>", E.ShiftLeft: "<<", E.BitwiseAnd: "&", E.BitwiseOr: "|",
               E.BitwiseXor: "^"}
    #: integer floor division / modulo: (helper, operator when operands are >= 0)
    FLOOR_OPS = {E.FloorDiv: ("tl_floordiv", "/"), E.FloorMod: ("tl_floormod", "%")}
    MIN_MAX = {E.Min: "min", E.Max: "max"}
    #: float min / max that propagate NaN (float32 and 16-bit floats, float64)
    FLOAT_MIN_MAX = {E.Min: ("tl_fminf", "tl_fmin"), E.Max: ("tl_fmaxf", "tl_fmax")}
    THREAD_INDEX = {"blockIdx.x": "blockIdx.x", "blockIdx.y": "blockIdx.y",
                    "blockIdx.z": "blockIdx.z", "threadIdx.x": "threadIdx.x",
                    "threadIdx.y": "threadIdx.y", "threadIdx.z": "threadIdx.z"}
    #: builtins without code, and builtins that are their first argument
    IGNORED_BUILTINS = ("tl.assume",)
    IDENTITY_BUILTINS = ("tl.likely",)

    def __init__(self):
        self.lines: list[str] = []
        self.indent = 0
        self.names: dict = {}
        self.used_names = NameSupply()
        self.bounds: dict = {}
        self.vector_lanes: dict = {}
        self.load_temps: dict = {}
        self.temp_count = 0
        self.uses_fp16 = False
        self.uses_bf16 = False

    # -- entry ---------------------------------------------------------------------
    def generate(self, program: DeviceProgram) -> str:
        """The CUDA C source of every kernel of ``program``."""
        kernels = []
        for kernel in program.kernels:
            self.lines, self.indent = [], 0
            self.names, self.used_names, self.bounds = {}, NameSupply(), {}
            self.vector_lanes, self.load_temps = {}, {}
            self.kernel(kernel)
            kernels.append("\n".join(self.lines))
        head = ["// generated by tensorlang", '#include <cuda_runtime.h>']
        if self.uses_fp16:
            head.append("#include <cuda_fp16.h>")
        if self.uses_bf16:
            head.append("#include <cuda_bf16.h>")
        preamble = PREAMBLE + (FP16_PREAMBLE if self.uses_fp16 else "") + \
            (BF16_PREAMBLE if self.uses_bf16 else "")
        return "\n".join(head) + "\n" + preamble + "\n" + "\n\n".join(kernels) + "\n"

    def kernel(self, kernel: Kernel) -> None:
        params = []
        for buffer in kernel.buffers:
            params.append(f"{self.storage_type(buffer.dtype)}* __restrict__ "
                          f"{self.define(buffer, buffer.name)}")
        for var in kernel.scalars:
            params.append(f"{self.value_type(var.dtype)} {self.define(var, var.name)}")
            self.bounds[var] = ConstIntBound(0, POS_INF) if _is_shape_var(var, kernel) \
                else None
        threads = [e.value for t, e in kernel.extents.items()
                   if t.startswith("threadIdx") and isinstance(e, E.IntImm)]
        bounded = all(isinstance(e, E.IntImm) for t, e in kernel.extents.items()
                      if t.startswith("threadIdx"))
        launch_bounds = f"__launch_bounds__({math.prod(threads)}) " if bounded else ""
        self.emit(f"extern \"C\" __global__ void {launch_bounds}{kernel.name}("
                  f"{', '.join(params)}) {{")
        self.indent += 1
        for buffer in kernel.shared:
            size = _flat_size(buffer)
            self.emit(f"__shared__ __align__(16) {self.storage_type(buffer.dtype)} "
                      f"{self.define(buffer, buffer.name)}[{size}];")
        self.stmt(kernel.body)
        self.indent -= 1
        self.emit("}")

    # -- names and types -----------------------------------------------------------
    def define(self, node, base: str) -> str:
        """A fresh C identifier for ``node`` (a variable or buffer) from now on."""
        name = _IDENTIFIER.sub("_", base) or "v"
        if name[0].isdigit() or name in _RESERVED or name.startswith("tl_"):
            name = "v_" + name
        candidate = self.names[node] = self.used_names.fresh(name)
        return candidate

    def name_of(self, node) -> str:
        name = self.names.get(node)
        if name is None:
            what = node.name if hasattr(node, "name") else node
            raise InternalError(f"CUDA codegen: '{what}' is used outside its definition")
        return name

    def storage_type(self, dtype: DataType) -> str:
        key = str(dtype.element_of())
        if key == "float16":
            self.uses_fp16 = True
        elif key == "bfloat16":
            self.uses_bf16 = True
        found = self.TYPES.get(key)
        if found is None:
            raise InternalError(f"CUDA codegen has no type for {dtype}")
        return found

    def value_type(self, dtype: DataType) -> str:
        key = str(dtype.element_of())
        return self.COMPUTE_TYPES.get(key) or self.storage_type(dtype)

    def rounded(self, dtype: DataType, code: str) -> str:
        """``code`` (a float) rounded to a 16-bit float type where ``dtype`` is one."""
        conversion = self.HALF_CONVERSIONS.get(str(dtype.element_of()))
        if conversion is None:
            return code
        self.storage_type(dtype)
        return f"{conversion[2]}({code})"

    # -- output --------------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.lines.append("  " * self.indent + line)

    def temp(self, base: str = "t") -> str:
        self.temp_count += 1
        return self.define(object(), f"_{base}{self.temp_count}")

    # -- expressions ---------------------------------------------------------------
    def expr(self, e) -> str:
        if e.dtype.lanes > 1:
            raise InternalError(f"CUDA codegen: vector expression '{e}' reached scalar "
                                f"printing")
        return self.visit(e)

    def unsupported(self, node):
        raise InternalError(f"CUDA codegen cannot print {type(node).__name__} '{node}'")

    def visit_IntImm(self, e: E.IntImm) -> str:
        return self.int_literal(e.value, e.dtype)

    def visit_FloatImm(self, e: E.FloatImm) -> str:
        return self.float_literal(e.value, e.dtype)

    def visit_Var(self, e: E.Var) -> str:
        return self.name_of(e)

    def visit_BinaryOp(self, e) -> str:
        t = type(e)
        if t in self.FLOOR_OPS:
            return self.floor_op(e)
        if t in self.MIN_MAX:
            fn = self.MIN_MAX[t]
            if e.dtype.is_float:
                fn = self.FLOAT_MIN_MAX[t][e.dtype.bits == 64]
            return f"{fn}({self.expr(e.a)}, {self.expr(e.b)})"
        if t in self.BITWISE:
            return self.bitwise(e)
        if t in self.BINARY:
            code = f"({self.expr(e.a)} {self.BINARY[t]} {self.expr(e.b)})"
            return code if isinstance(e, E.CmpOp) or t in (E.And, E.Or) \
                else self.rounded(e.dtype, code)
        return self.unsupported(e)

    def bitwise(self, e) -> str:
        """C's operators; C computes narrow types in ``int``, where only ``<<`` can leave
        the type, and a signed ``<<`` that overflows is undefined: that one shifts the
        unsigned bits and converts back (two's complement, as the other engines wrap)."""
        a, b = self.expr(e.a), self.expr(e.b)
        if type(e) is not E.ShiftLeft or (e.dtype.is_uint and e.dtype.bits >= 32):
            return f"({a} {self.BITWISE[type(e)]} {b})"
        unsigned = self.TYPES["uint64" if e.dtype.bits == 64 else "uint32"]
        return f"(({self.storage_type(e.dtype)})(({unsigned}){a} << {b}))"

    def visit_Not(self, e: E.Not) -> str:
        return f"(!{self.expr(e.a)})"

    def visit_Select(self, e: E.Select) -> str:
        return (f"({self.expr(e.condition)} ? {self.expr(e.true_value)} : "
                f"{self.expr(e.false_value)})")

    def visit_Let(self, e: E.Let) -> str:
        return self.expr(substitute(e.body, {e.var: e.value}))

    @staticmethod
    def int_literal(value: int, dtype: DataType) -> str:
        if dtype.is_bool:
            return "true" if value else "false"
        suffix = {"int64": "LL", "uint32": "U", "uint64": "ULL"}.get(str(dtype), "")
        if value < 0:
            if value == dtype.min_value():
                return f"({value + 1}{suffix} - 1{suffix})"
            return f"({value}{suffix})"
        return f"{value}{suffix}"

    @staticmethod
    def float_literal(value: float, dtype: DataType) -> str:
        double = dtype.bits == 64
        if math.isnan(value):
            return "__longlong_as_double(0x7ff8000000000000LL)" if double \
                else "__int_as_float(0x7fc00000)"
        if math.isinf(value):
            sign = "-" if value < 0 else ""
            return f"({sign}__longlong_as_double(0x7ff0000000000000LL))" if double \
                else f"({sign}__int_as_float(0x7f800000))"
        text = repr(float(value))
        if "e" not in text and "." not in text:
            text += ".0"
        return f"({text})" if double else f"({text}f)"

    def floor_op(self, e) -> str:
        helper, plain = self.FLOOR_OPS[type(e)]
        a, b = self.expr(e.a), self.expr(e.b)
        if e.dtype.is_uint or (self.non_negative(e.a) and self.positive(e.b)):
            return f"({a} {plain} {b})"
        return f"{helper}({a}, {b})"

    def non_negative(self, e) -> bool:
        bounds = {k: v for k, v in self.bounds.items() if v is not None}
        return BoundEvaluator(bounds)(e).min_value >= 0

    def positive(self, e) -> bool:
        bounds = {k: v for k, v in self.bounds.items() if v is not None}
        return BoundEvaluator(bounds)(e).min_value > 0

    def visit_Cast(self, e: E.Cast) -> str:
        value = self.expr(e.value)
        target = e.dtype
        if target.is_bool:
            return f"({value} != 0)"
        if str(target) in self.HALF_CONVERSIONS:
            return self.rounded(target, f"((float){value})")
        return f"(({self.value_type(target)}){value})"

    def visit_Call(self, e: E.Call) -> str:
        if e.op in self.IDENTITY_BUILTINS:
            return self.expr(e.args[0])
        called = extern_call(e)
        if called is not None:   # a device function called by name (__expf, powf, ...)
            return f"{called[0]}({', '.join(self.expr(a) for a in called[1])})"
        if is_declared(e.op):
            raise BuildError(unlowered(e.op, "cuda"))
        table = self.MATH_DOUBLE if e.dtype.bits == 64 else self.MATH_FLOAT
        fn = table.get(e.op)
        if fn is None:
            raise InternalError(f"CUDA codegen does not know the function {e.op!r}")
        code = f"{fn}({', '.join(self.expr(a) for a in e.args)})"
        return self.rounded(e.dtype, code)

    # -- memory --------------------------------------------------------------------
    def flat_index(self, buffer: Buffer, indices) -> E.PrimExpr:
        """The row-major (or strided) offset of ``indices`` as an expression, in 64-bit
        arithmetic where the buffer may hold 2**31 elements or more."""
        wide = flat_index_type(buffer)
        indices = [op.cast(i, wide.with_lanes(i.dtype.lanes))
                   if i.dtype.is_integer and i.dtype.bits < wide.bits else i for i in indices]
        if buffer.strides:
            flat = op.const(0, indices[0].dtype) if indices else op.const(0)
            for index, stride in zip(indices, buffer.strides):
                flat = op.add(flat, op.mul(index, stride))
            return flat
        flat = None
        for index, extent in zip(indices, buffer.shape):
            flat = index if flat is None else op.add(op.mul(flat, extent), index)
        return flat if flat is not None else op.const(0)

    def visit_BufferLoad(self, e: E.BufferLoad) -> str:
        code = f"{self.name_of(e.buffer)}[{self.expr(self.flat_index(e.buffer, e.indices))}]"
        conversion = self.HALF_CONVERSIONS.get(str(e.buffer.dtype))
        if conversion is not None:
            self.storage_type(e.buffer.dtype)
            return f"{conversion[0]}({code})"
        return code

    def store_value(self, buffer: Buffer, code: str) -> str:
        conversion = self.HALF_CONVERSIONS.get(str(buffer.dtype))
        return f"{conversion[1]}({code})" if conversion is not None else code

    # -- vectors -------------------------------------------------------------------
    def lane(self, e, k: int):
        """Scalar expression of lane ``k`` of the vector expression ``e``."""
        if e.dtype.lanes == 1:
            return e
        return LaneOf(self, k).visit(e)

    def vector_access(self, buffer: Buffer, indices, lanes: int):
        """(vector type, flat base) when the access is one aligned contiguous vector."""
        vector_type = self.VECTOR_TYPES.get((str(buffer.dtype), lanes))
        if vector_type is None:
            return None
        vector_dims = [d for d, i in enumerate(indices) if i.dtype.lanes > 1]
        if len(vector_dims) != 1:
            return None
        d = vector_dims[0]
        ramp = indices[d]
        if not isinstance(ramp, E.Ramp) or not op.is_const_int(ramp.stride, 1):
            return None
        if buffer.strides:
            if not op.is_const_int(buffer.strides[d], 1):
                return None
        elif d != len(indices) - 1:
            return None
        scalar = [i.value if isinstance(i, E.Broadcast) else i for i in indices]
        if any(i.dtype.lanes > 1 for k, i in enumerate(scalar) if k != d):
            return None
        scalar[d] = ramp.base
        base = self.flat_index(buffer, scalar)
        if _known_divisor(base) % lanes != 0:
            return None
        return vector_type, base

    def hoist_vector_loads(self, e) -> None:
        """Load each aligned contiguous vector read by ``e`` (outside select branches,
        which must not be evaluated speculatively) into a vector temporary."""
        if isinstance(e, E.BufferLoad) and e.dtype.lanes > 1 and e not in self.load_temps:
            found = self.vector_access(e.buffer, e.indices, e.dtype.lanes)
            if found is not None:
                vector_type, base = found
                name = self.temp("v")
                self.emit(f"const {vector_type} {name} = *(const {vector_type}*)"
                          f"({self.name_of(e.buffer)} + {self.expr(base)});")
                lanes = []
                for k in range(e.dtype.lanes):
                    placeholder = E.Var(f"{name}.{self.LANE_FIELDS[k]}", e.dtype.element_of())
                    self.names[placeholder] = f"{name}.{self.LANE_FIELDS[k]}"
                    lanes.append(placeholder)
                self.load_temps[e] = lanes
                return
        if isinstance(e, E.Select):
            self.hoist_vector_loads(e.condition)
            return
        for name in e._children:
            child = getattr(e, name)
            for c in child if isinstance(child, tuple) else (child,):
                if isinstance(c, E.PrimExpr):
                    self.hoist_vector_loads(c)

    # -- statements ----------------------------------------------------------------
    def stmt(self, s) -> None:
        self.visit(s)

    def block(self, body) -> None:
        self.indent += 1
        self.stmt(body)
        self.indent -= 1

    def visit_SeqStmt(self, s: S.SeqStmt) -> None:
        for child in s.seq:
            self.stmt(child)

    def visit_AttrStmt(self, s: S.AttrStmt) -> None:
        if s.key == "stage":
            self.emit(f"// stage {getattr(s.node, 'name', s.node)}")
        self.stmt(s.body)

    def visit_Evaluate(self, s: S.Evaluate) -> None:
        value = s.value
        if isinstance(value, E.Call) and value.op == SYNC_OP:
            self.emit("__syncthreads();")
        elif isinstance(value, (E.IntImm, E.FloatImm, E.StringImm)) or (
                isinstance(value, E.Call) and value.op in self.IGNORED_BUILTINS):
            return
        else:
            self.emit(f"(void){self.expr(value)};")

    def visit_LetStmt(self, s: S.LetStmt) -> None:
        var = s.var
        if var.dtype.lanes > 1:
            self.hoist_vector_loads(s.value)
            lanes = []
            for k in range(var.dtype.lanes):
                lane_var = E.Var(f"{var.name}_{k}", var.dtype.element_of())
                self.emit(f"const {self.value_type(var.dtype)} "
                          f"{self.define(lane_var, lane_var.name)} = "
                          f"{self.expr(self.lane(s.value, k))};")
                lanes.append(lane_var)
            self.vector_lanes[var] = lanes
            self.load_temps = {}  # a temporary holds memory as it was at this point
        else:
            value = self.expr(s.value)
            self.emit(f"const {self.value_type(var.dtype)} {self.define(var, var.name)} = "
                      f"{value};")
            if var.dtype.is_integer:
                self.bounds[var] = BoundEvaluator(
                    {k: v for k, v in self.bounds.items() if v is not None})(s.value)
        self.stmt(s.body)

    def visit_IfThenElse(self, s: S.IfThenElse) -> None:
        self.emit(f"if ({self.expr(s.condition)}) {{")
        self.block(s.then_case)
        if s.else_case is not None:
            self.emit("} else {")
            self.block(s.else_case)
        self.emit("}")

    def visit_Allocate(self, s: S.Allocate) -> None:
        buffer = s.buffer
        if buffer.scope == "local":
            self.emit(f"__align__(16) {self.storage_type(buffer.dtype)} "
                      f"{self.define(buffer, buffer.name)}[{_flat_size(buffer)}];")
        elif buffer.scope != "shared":  # shared arrays are declared at the top
            raise InternalError(f"CUDA codegen: {buffer.scope} allocation of "
                                f"'{buffer.name}' inside a kernel")
        self.stmt(s.body)

    def visit_For(self, s: S.For) -> None:
        var = s.loop_var
        low = self.expr(s.min)
        low_bound = BoundEvaluator({k: v for k, v in self.bounds.items() if v is not None})
        lo, extent = low_bound(s.min), low_bound(s.extent)
        if is_hardware_thread_loop(s):
            index = f"(({self.value_type(var.dtype)}){self.THREAD_INDEX[s.thread_tag]})"
            start = index if op.is_const_int(s.min, 0) else f"({low} + {index})"
            self.emit(f"{{  // {s.thread_tag}")
            self.indent += 1
            self.emit(f"const {self.value_type(var.dtype)} {self.define(var, var.name)} = "
                      f"{start};")
            self.bounds[var] = _loop_bound(lo, extent)
            self.stmt(s.body)
            self.indent -= 1
            self.emit("}")
            return
        end = self.expr(op.add(s.min, s.extent))
        if s.kind == S.ForKind.UNROLLED or s.thread_tag:
            self.emit("#pragma unroll")
        name = self.define(var, var.name)
        self.emit(f"for ({self.value_type(var.dtype)} {name} = {low}; {name} < {end}; "
                  f"++{name}) {{")
        self.bounds[var] = _loop_bound(lo, extent)
        self.block(s.body)
        self.emit("}")

    def visit_BufferStore(self, s: S.BufferStore) -> None:
        buffer = s.buffer
        lanes = s.value.dtype.lanes
        for index in s.indices:
            lanes = max(lanes, index.dtype.lanes)
        name = self.name_of(buffer)
        if lanes == 1:
            flat = self.expr(self.flat_index(buffer, s.indices))
            self.emit(f"{name}[{flat}] = {self.store_value(buffer, self.expr(s.value))};")
            return
        self.hoist_vector_loads(s.value)
        values = [self.expr(self.lane(s.value, k)) for k in range(lanes)]
        self.load_temps = {}  # a temporary holds memory as it was at this point
        found = self.vector_access(buffer, s.indices, lanes)
        if found is not None:
            vector_type, base = found
            self.emit(f"*({vector_type}*)({name} + {self.expr(base)}) = "
                      f"make_{vector_type}({', '.join(values)});")
            return
        # every lane is computed before any is stored (the value may read the target)
        temps = []
        for value in values:
            temp = self.temp("l")
            self.emit(f"const {self.value_type(buffer.dtype)} {temp} = {value};")
            temps.append(temp)
        for k, temp in enumerate(temps):
            flat = self.flat_index(buffer, [self.lane(i, k) for i in s.indices])
            self.emit(f"{name}[{self.expr(flat)}] = {self.store_value(buffer, temp)};")


class FastMathCudaCodegen(CudaCodegen):
    """Uses the fast, less accurate hardware approximations of exp, log and friends."""

    MATH_FLOAT = {**CudaCodegen.MATH_FLOAT, "exp": "__expf", "log": "__logf",
                  "sin": "__sinf", "cos": "__cosf", "pow": "__powf"}


def _loop_bound(low: ConstIntBound, extent: ConstIntBound) -> ConstIntBound:
    high = low.max_value + extent.max_value - 1 if extent.max_value < POS_INF else POS_INF
    return ConstIntBound(low.min_value, max(high, low.min_value))


def _flat_size(buffer: Buffer) -> int:
    if buffer.strides:
        return 1 + sum((d.value - 1) * s.value for d, s in zip(buffer.shape, buffer.strides))
    return math.prod(d.value for d in buffer.shape) if buffer.shape else 1


def _known_divisor(e) -> int:
    """A positive integer that provably divides ``e`` (0 counts as divisible by all)."""
    if isinstance(e, E.IntImm):
        return abs(e.value) if e.value else 1 << 30
    if isinstance(e, E.Mul):
        return _known_divisor(e.a) * _known_divisor(e.b)
    if isinstance(e, (E.Add, E.Sub)):
        return math.gcd(_known_divisor(e.a), _known_divisor(e.b))
    if isinstance(e, E.Cast) and e.dtype.is_integer and e.value.dtype.is_integer \
            and e.dtype.bits >= e.value.dtype.bits:
        return _known_divisor(e.value)  # widening keeps divisors
    return 1


def _is_shape_var(var: E.Var, kernel: Kernel) -> bool:
    return any(d is var for b in kernel.buffers for d in b.shape)


def generate_cuda(program: DeviceProgram, codegen: type[CudaCodegen] = CudaCodegen) -> str:
    """CUDA C source of ``program`` (see :class:`CudaCodegen`)."""
    return codegen().generate(program)
