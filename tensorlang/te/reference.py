"""A reference evaluator: runs a tensor-expression graph straight from its compute
definitions with vectorized numpy, with no schedule and no lowering.

It is the oracle that scheduled and compiled code is checked against, so it shares no code
with the lowering: each ``ComputeOp`` is evaluated on numpy index grids (one broadcast
dimension per spatial axis, then one per reduce axis) and reductions fold the extra
dimensions.

>>> A = te.placeholder((4, 3), name="A")
>>> k = te.reduce_axis((0, 3), name="k")
>>> B = te.compute((4,), lambda i: te.sum(A[i, k] * 2.0, axis=k), name="B")
>>> [b] = evaluate([B], {A: np.ones((4, 3), "float32")})     # b == [6, 6, 6, 6]

Value semantics follow the IR types: integer arithmetic wraps around, ``//`` and ``%`` are
floor division and modulo, float32 stays float32, float16 rounds after every operation,
and bfloat16 travels as uint16 bit patterns (inputs may also be ml_dtypes.bfloat16
arrays) with float32 arithmetic rounded to bfloat16 after every operation.  Math
intrinsics are computed in float64 and rounded to the result type, so the oracle is at
least as accurate as any backend.
``if_then_else`` is lazy: a branch is only checked for out-of-bounds reads where it is
taken, so padding works; a read out of bounds where it *is* taken raises
:class:`OutOfBoundsError`.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import TensorLangTypeError, TensorLangValueError
from ..tir import expr as E
from ..tir.datatype import BFLOAT16_ARRAYS, DataType, bfloat16_bits
from .extern import ExternOp, evaluate_extern
from .graph import ComputeOp, PlaceholderOp, Tensor, post_order_ops

# Upper bound on the elements of one index grid (spatial x reduce points); larger
# reductions are evaluated in chunks along their first reduce axis.
_GRID_LIMIT = 1 << 22


class OutOfBoundsError(TensorLangValueError, IndexError):
    """A tensor is read outside its shape at a point where the read is not masked."""


# ---------------------------------------------------------------------------------------
# dtype helpers

def _storage(dtype: DataType) -> np.dtype:
    """The numpy dtype that holds values of ``dtype`` during evaluation."""
    if dtype.kind == "bfloat":
        return np.dtype("float32")
    return dtype.numpy_dtype


def round_to_bfloat16(values) -> np.ndarray:
    """Float32 values rounded to the nearest bfloat16 (ties to even), still as float32."""
    values = np.asarray(values, dtype=np.float32)
    bits = values.astype(np.float32).reshape(-1).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    rounded = np.where(np.isnan(values.reshape(-1)), np.uint32(0x7FC00000), rounded)
    return rounded.view(np.float32).reshape(values.shape)


def bfloat16_to_float32(bits) -> np.ndarray:
    """Decode uint16 bfloat16 bit patterns into float32 values."""
    bits = np.asarray(bits, dtype=np.uint16)
    return (bits.reshape(-1).astype(np.uint32) << 16).view(np.float32).reshape(bits.shape)


def float32_to_bfloat16(values) -> np.ndarray:
    """Encode float32 values as uint16 bfloat16 bit patterns (round to nearest even)."""
    rounded = round_to_bfloat16(values)
    return (rounded.reshape(-1).view(np.uint32) >> 16).astype(np.uint16).reshape(rounded.shape)


def _finish(value, dtype: DataType) -> np.ndarray:
    """``value`` held in the storage type of ``dtype`` (rounded for bfloat16)."""
    value = np.asarray(value)
    if dtype.kind == "bfloat":
        return round_to_bfloat16(value)
    storage = _storage(dtype)
    return value if value.dtype == storage else value.astype(storage)


def _erf(x):
    try:
        from scipy.special import erf
    except ImportError:  # scipy is optional: fall back to the scalar libm function
        return np.vectorize(math.erf, otypes=[np.float64])(x)
    return erf(x)


def _rsqrt(x):
    return 1.0 / np.sqrt(x)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


_INTRINSICS = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "rsqrt": _rsqrt,
               "tanh": np.tanh, "sigmoid": _sigmoid, "erf": _erf, "fabs": np.abs,
               "floor": np.floor, "ceil": np.ceil, "round": np.rint, "pow": np.power,
               "exp2": np.exp2, "log2": np.log2, "log10": np.log10, "sin": np.sin,
               "cos": np.cos, "trunc": np.trunc}

_BINARY = {E.Add: np.add, E.Sub: np.subtract, E.Mul: np.multiply, E.Div: np.true_divide,
           E.FloorDiv: np.floor_divide, E.FloorMod: np.mod, E.Min: np.minimum,
           E.Max: np.maximum, E.EQ: np.equal, E.NE: np.not_equal, E.LT: np.less,
           E.LE: np.less_equal, E.GT: np.greater, E.GE: np.greater_equal,
           E.And: np.logical_and, E.Or: np.logical_or}

# Combiners recognised as one numpy reduction: result is ``lhs <op> rhs``.
_FAST_REDUCE = {E.Add: np.add, E.Mul: np.multiply, E.Max: np.maximum, E.Min: np.minimum}


# ---------------------------------------------------------------------------------------
# expression evaluation

class _Context:
    """Variable values, the active mask and memoised results for one index grid."""

    __slots__ = ("env", "mask", "memo", "parent", "consumer")

    def __init__(self, env, mask=None, parent=None, consumer=""):
        self.env = env
        self.mask = mask
        self.memo: dict[int, np.ndarray] = {}
        self.parent = parent
        self.consumer = consumer

    def masked(self, condition) -> "_Context":
        mask = condition if self.mask is None else np.logical_and(self.mask, condition)
        return _Context(self.env, mask, self, self.consumer)

    def lookup(self, node):
        ctx = self
        while ctx is not None:
            found = ctx.memo.get(id(node))
            if found is not None:
                return found
            ctx = ctx.parent
        return None


class _Evaluator:
    def __init__(self, values: dict[Tensor, np.ndarray]):
        self.values = values

    def expr(self, node, ctx: _Context) -> np.ndarray:
        found = ctx.lookup(node)
        if found is not None:
            return found
        result = self._expr(node, ctx)
        ctx.memo[id(node)] = result
        return result

    def _expr(self, node, ctx: _Context) -> np.ndarray:  # noqa: C901 - one case per node
        t = type(node)
        binary = _BINARY.get(t)
        if binary is not None:
            a = self.expr(node.a, ctx)
            b = self.expr(node.b, ctx)
            return _finish(binary(a, b), node.dtype)
        if t is E.Var:
            try:
                return ctx.env[node]
            except KeyError:
                raise TensorLangValueError(
                    f"reference evaluation of '{ctx.consumer}': the variable '{node.name}' "
                    f"has no value; give it in shape_vars={{{node.name}: ...}}") from None
        if t is E.IntImm:
            return np.asarray(bool(node.value) if node.dtype.is_bool else node.value,
                              dtype=_storage(node.dtype))
        if t is E.FloatImm:
            return _finish(np.asarray(node.value, dtype=np.float64), node.dtype)
        if t is E.ProducerLoad:
            return self.load(node, ctx)
        if t is E.Cast:
            return self.cast(self.expr(node.value, ctx), node.value.dtype, node.dtype)
        if t is E.Not:
            return np.logical_not(self.expr(node.a, ctx))
        if t is E.Select:
            return self.select(node, ctx)
        if t is E.Call:
            return self.call(node, ctx)
        if t is E.Let:
            value = self.expr(node.value, ctx)
            inner = _Context({**ctx.env, node.var: value}, ctx.mask, None, ctx.consumer)
            return self.expr(node.body, inner)
        if t is E.Reduce:
            raise TensorLangValueError(
                f"reference evaluation of '{ctx.consumer}': a reduction sits inside a "
                f"larger expression; build the graph with te.compute, which gives it its "
                f"own stage")
        raise TensorLangValueError(
            f"reference evaluation of '{ctx.consumer}': {t.__name__} nodes do not belong "
            f"in a tensor expression")

    def cast(self, value, source: DataType, target: DataType) -> np.ndarray:
        if target.is_bool:
            return np.asarray(value != 0)
        if source.is_float and target.is_integer:
            # C semantics: truncate towards zero (out-of-range values are undefined).
            value = np.trunc(value)
        return _finish(np.asarray(value).astype(_storage(target)), target)

    def call(self, node: E.Call, ctx: _Context) -> np.ndarray:
        if node.op == "tl.likely":  # a hint to loop partitioning: the condition itself
            return self.expr(node.args[0], ctx)
        function = _INTRINSICS.get(node.op)
        if function is None:
            raise TensorLangValueError(
                f"reference evaluation of '{ctx.consumer}': no reference for the call "
                f"'{node.op}'")
        args = [np.asarray(self.expr(a, ctx), dtype=np.float64) for a in node.args]
        return _finish(function(*args), node.dtype)

    def select(self, node: E.Select, ctx: _Context) -> np.ndarray:
        condition = self.expr(node.condition, ctx)
        if condition.all():
            return self.expr(node.true_value, ctx)
        if not condition.any():
            return self.expr(node.false_value, ctx)
        # Each branch only "happens" where it is chosen: reads outside that region are
        # clipped instead of reported, exactly as a guarded load would not execute.
        true_value = self.expr(node.true_value, ctx.masked(condition))
        false_value = self.expr(node.false_value, ctx.masked(np.logical_not(condition)))
        return _finish(np.where(condition, true_value, false_value), node.dtype)

    def load(self, node: E.ProducerLoad, ctx: _Context) -> np.ndarray:
        tensor = node.producer
        array = self.values[tensor]
        indices = []
        for axis, index_expr in enumerate(node.indices):
            index = self.expr(index_expr, ctx)
            extent = array.shape[axis]
            if index.size and (index.min() < 0 or index.max() >= extent):
                bad = (index < 0) | (index >= extent)
                live = bad if ctx.mask is None else np.logical_and(bad, ctx.mask)
                if live.any():
                    self._report_out_of_bounds(node, ctx, axis, index, live, extent)
                index = np.clip(index.astype(np.int64), 0, extent - 1)
            indices.append(index)
        return array[tuple(indices)]

    def _report_out_of_bounds(self, node, ctx, axis, index, live, extent):
        grids = dict(_named_env(ctx.env, live.ndim))
        full = np.broadcast_shapes(live.shape, *(g.shape for g in grids.values()))
        live = np.broadcast_to(live, full)
        position = np.unravel_index(int(np.argmax(live.ravel())), full)
        bad_value = int(np.broadcast_to(index, full)[position])
        where = ", ".join(f"{name}={int(np.broadcast_to(g, full)[position])}"
                          for name, g in grids.items())
        raise OutOfBoundsError(
            f"'{ctx.consumer}' reads '{node.producer.name}' out of bounds: index {axis} is "
            f"{bad_value}, outside [0, {extent}) at {where}; guard the read with "
            f"te.if_then_else or pad the input")


def _named_env(env, ndim):
    """The index grids of the current iteration domain, by variable name."""
    for var, value in env.items():
        if isinstance(value, np.ndarray) and value.ndim == ndim and value.ndim \
                and sum(extent > 1 for extent in value.shape) <= 1:
            yield var.name, value


# ---------------------------------------------------------------------------------------
# operations

def _grid_vector(extent: int, minimum: int, dim: int, ndim: int, dtype) -> np.ndarray:
    shape = [1] * ndim
    shape[dim] = extent
    return (np.arange(extent, dtype=np.int64) + minimum).astype(dtype).reshape(shape)


class _OpEvaluator:
    """Evaluates one ComputeOp given the values of its inputs."""

    def __init__(self, op: ComputeOp, evaluator: _Evaluator, scalars: dict):
        self.op = op
        self.evaluator = evaluator
        self.scalars = scalars

    def scalar(self, node) -> int:
        ctx = _Context(self.scalars, consumer=self.op.name)
        value = self.evaluator.expr(node, ctx)
        if value.ndim != 0:
            raise TensorLangValueError(f"compute '{self.op.name}': the extent '{node}' is "
                                       f"not a scalar")
        return int(value)

    def run(self) -> list[np.ndarray]:
        op = self.op
        spatial = [(self.scalar(iv.dom.min), self.scalar(iv.dom.extent)) for iv in op.axis]
        shape = tuple(extent for _, extent in spatial)
        if any(extent < 0 for extent in shape):
            raise TensorLangValueError(f"compute '{op.name}': negative extent in shape "
                                       f"{shape}")
        if isinstance(op.body[0], E.Reduce):
            return self.reduce(spatial, shape)
        env = dict(self.scalars)
        ndim = len(shape)
        for dim, (iv, (lo, extent)) in enumerate(zip(op.axis, spatial)):
            env[iv.var] = _grid_vector(extent, lo, dim, ndim, _storage(iv.var.dtype))
        ctx = _Context(env, consumer=op.name)
        outputs = []
        for body in op.body:
            value = self.evaluator.expr(body, ctx)
            outputs.append(_materialize(_finish(value, body.dtype), shape))
        return outputs

    # -- reductions ----------------------------------------------------------------
    def reduce(self, spatial, shape) -> list[np.ndarray]:
        op = self.op
        first: E.Reduce = op.body[0]
        combiner = first.combiner
        reduce_dom = [(self.scalar(iv.dom.min), self.scalar(iv.dom.extent))
                      for iv in first.axis]
        nspatial, nreduce = len(shape), len(reduce_dom)
        ndim = nspatial + nreduce
        start_values = self.start_values(first, shape)
        if any(extent <= 0 for _, extent in reduce_dom) or 0 in shape:
            return self.outputs(start_values, shape)

        env = dict(self.scalars)
        for dim, (iv, (lo, extent)) in enumerate(zip(op.axis, spatial)):
            env[iv.var] = _grid_vector(extent, lo, dim, ndim, _storage(iv.var.dtype))
        # Chunk the first reduce axis so that one grid stays below _GRID_LIMIT points.
        points = math.prod(shape) * math.prod(extent for _, extent in reduce_dom)
        first_lo, first_extent = reduce_dom[0]
        chunk = first_extent
        if points > _GRID_LIMIT:
            chunk = max(1, first_extent * _GRID_LIMIT // points)
        accumulated = None
        for begin in range(0, first_extent, chunk):
            size = min(chunk, first_extent - begin)
            for r, (iv, (lo, extent)) in enumerate(zip(first.axis, reduce_dom)):
                if r == 0:
                    lo, extent = first_lo + begin, size
                env[iv.var] = _grid_vector(extent, lo, nspatial + r, ndim,
                                           _storage(iv.var.dtype))
            partial = self.fold_grid(first, env, shape)
            accumulated = partial if accumulated is None else \
                self.combine(combiner, accumulated, partial)
        final = self.combine(combiner, start_values, accumulated)
        return self.outputs(final, shape)

    def start_values(self, reduce: E.Reduce, shape) -> list[np.ndarray]:
        """The init values of the accumulators: ``init=`` when given, else the identity."""
        ctx = _Context(self.scalars, consumer=self.op.name)
        if reduce.init:
            env = dict(self.scalars)
            for dim, iv in enumerate(self.op.axis):
                env[iv.var] = _grid_vector(shape[dim], 0, dim, len(shape),
                                           _storage(iv.var.dtype))
            ctx = _Context(env, consumer=self.op.name)
            starts = reduce.init
        else:
            starts = reduce.combiner.identity
        return [np.broadcast_to(_finish(self.evaluator.expr(s, ctx), s.dtype), shape)
                for s in starts]

    def outputs(self, results, shape) -> list[np.ndarray]:
        return [_materialize(results[body.value_index], shape) for body in self.op.body]

    def fold_grid(self, reduce: E.Reduce, env, shape) -> list[np.ndarray]:
        """Fold the reduce dimensions of one grid; masked points hold the identity."""
        nspatial = len(shape)
        full = tuple(shape) + tuple(env[iv.var].shape[nspatial + r]
                                    for r, iv in enumerate(reduce.axis))
        ctx = _Context(env, consumer=self.op.name)
        condition = self.evaluator.expr(reduce.condition, ctx)
        masked = not (condition.ndim == 0 and bool(condition))
        source_ctx = ctx.masked(condition) if masked else ctx
        values = []
        for source, identity in zip(reduce.source, reduce.combiner.identity):
            value = _finish(self.evaluator.expr(source, source_ctx), source.dtype)
            if masked:
                neutral = _finish(self.evaluator.expr(identity, ctx), identity.dtype)
                value = np.where(condition, value, neutral)
            values.append(np.broadcast_to(value, full))
        reduce_axes = tuple(range(nspatial, len(full)))
        fast = _fast_reduction(reduce.combiner)
        if fast is not None:
            dtype = _storage(reduce.source[0].dtype)
            return [_finish(fast.reduce(values[0], axis=reduce_axes, dtype=dtype),
                            reduce.source[0].dtype)]
        # Generic commutative reducer: pairwise tree over the flattened reduce points,
        # keeping earlier points on the left (argmax-style tie-breaking stays stable).
        flat = [v.reshape(tuple(shape) + (-1,)) for v in values]
        while flat[0].shape[-1] > 1:
            if flat[0].shape[-1] % 2:
                flat = [np.concatenate(
                    [v, np.broadcast_to(_finish(self.evaluator.expr(i, ctx), i.dtype),
                                        v.shape[:-1] + (1,))], axis=-1)
                    for v, i in zip(flat, reduce.combiner.identity)]
            flat = self.combine(reduce.combiner, [v[..., 0::2] for v in flat],
                                [v[..., 1::2] for v in flat])
        return [v[..., 0] for v in flat]

    def combine(self, combiner: E.CommReducer, left, right) -> list[np.ndarray]:
        env = {**self.scalars, **dict(zip(combiner.lhs, left)),
               **dict(zip(combiner.rhs, right))}
        ctx = _Context(env, consumer=self.op.name)
        shape = np.broadcast_shapes(*[np.shape(v) for v in (*left, *right)])
        return [np.broadcast_to(_finish(self.evaluator.expr(r, ctx), r.dtype), shape)
                for r in combiner.result]


def _materialize(value: np.ndarray, shape) -> np.ndarray:
    """A new C-contiguous array of ``shape`` holding ``value`` broadcast (0-d stays 0-d)."""
    out = np.empty(shape, dtype=value.dtype)
    out[...] = value
    return out


def _fast_reduction(combiner: E.CommReducer):
    """The numpy ufunc of a single-value reducer ``lhs <op> rhs``, if it is one."""
    if len(combiner.result) != 1:
        return None
    result = combiner.result[0]
    ufunc = _FAST_REDUCE.get(type(result))
    if ufunc is None:
        return None
    lhs, rhs = combiner.lhs[0], combiner.rhs[0]
    if (result.a is lhs and result.b is rhs) or (result.a is rhs and result.b is lhs):
        return ufunc
    return None


# ---------------------------------------------------------------------------------------
# entry point

def _as_tensor_list(outputs) -> list[Tensor]:
    if isinstance(outputs, Tensor):
        return [outputs]
    if isinstance(outputs, (list, tuple)) and all(isinstance(t, Tensor) for t in outputs):
        return list(outputs)
    raise TensorLangTypeError(
        f"reference.evaluate: outputs must be a tensor or a list of tensors, got "
        f"{outputs!r}")


def _bind_scalars(shape_vars, free_vars: dict[str, E.Var]) -> dict:
    scalars: dict = {}
    for key, value in (shape_vars or {}).items():
        if isinstance(key, str):
            if key not in free_vars:
                raise TensorLangValueError(
                    f"reference.evaluate: shape_vars names '{key}', which no tensor of "
                    f"the graph uses")
            key = free_vars[key]
        if not isinstance(key, E.Var):
            raise TensorLangTypeError(
                f"reference.evaluate: shape_vars keys must be te.var variables or their "
                f"names, got {key!r}")
        scalars[key] = _finish(np.asarray(value), key.dtype)
    return scalars


def _collect_vars(ops) -> dict[str, E.Var]:
    from ..tir.functor import post_order_visit
    found: dict[str, E.Var] = {}

    def note(node):
        if isinstance(node, E.Var):
            found.setdefault(node.name, node)

    # Extents first: a shape variable's name wins over a loop variable of the same name.
    for op in ops:
        for extent in getattr(op, "shape", ()):
            post_order_visit(extent, note)
        for iv in (*getattr(op, "axis", ()), *getattr(op, "reduce_axis", ())):
            post_order_visit(iv.dom.min, note)
            post_order_visit(iv.dom.extent, note)
    for op in ops:
        for body in op.body if isinstance(op, ComputeOp) else ():
            post_order_visit(body, note)
        if isinstance(op, ExternOp):
            post_order_visit(op.body, note)
            for tensor in op.outputs:
                for extent in tensor.shape:
                    post_order_visit(extent, note)
    return found


def evaluate(outputs, inputs, shape_vars=None) -> list[np.ndarray]:
    """Evaluate ``outputs`` (a tensor or list of tensors) with numpy.

    ``inputs`` maps each placeholder (the Tensor, or its name) to a numpy array of its
    dtype (for bfloat16: an ml_dtypes.bfloat16 array, or its uint16 bit patterns;
    bfloat16 outputs come back as uint16 bit patterns).  ``shape_vars`` maps te.var
    variables (or their names) to values; variables used as placeholder dimensions are
    also inferred from the arrays' shapes.  Returns one new array per output, in order.
    """
    tensors = _as_tensor_list(outputs)
    ops = post_order_ops([t.op for t in tensors])
    placeholders = [op for op in ops if isinstance(op, PlaceholderOp)]
    by_name = {op.name: op for op in placeholders}
    arrays: dict[int, np.ndarray] = {}
    for key, array in inputs.items():
        if isinstance(key, str):
            if key not in by_name:
                raise TensorLangValueError(
                    f"reference.evaluate: no placeholder named '{key}' feeds the outputs")
            key = by_name[key].output(0)
        if not isinstance(key, Tensor):
            raise TensorLangTypeError(
                f"reference.evaluate: inputs keys must be placeholder tensors or their "
                f"names, got {key!r}")
        arrays[id(key.op)] = array

    scalars = _bind_scalars(shape_vars, _collect_vars(ops))
    # Infer shape variables from the arrays before checking any shape.
    for op in placeholders:
        if id(op) not in arrays:
            raise TensorLangValueError(
                f"reference.evaluate: no array given for the placeholder '{op.name}'")
        array = np.asarray(arrays[id(op)])
        if array.ndim != len(op.shape):
            raise TensorLangValueError(
                f"reference.evaluate: placeholder '{op.name}' has {len(op.shape)} "
                f"dimension(s) but its array has shape {array.shape}")
        for extent, size in zip(op.shape, array.shape):
            if isinstance(extent, E.Var) and extent not in scalars:
                scalars[extent] = np.asarray(size, dtype=_storage(extent.dtype))

    evaluator = _Evaluator({})
    values = evaluator.values
    with np.errstate(all="ignore"):
        for op in ops:
            if isinstance(op, PlaceholderOp):
                values[op.output(0)] = _input_value(op, np.asarray(arrays[id(op)]),
                                                    evaluator, scalars)
            elif isinstance(op, ComputeOp):
                for tensor, value in zip(op.outputs, _OpEvaluator(op, evaluator,
                                                                  scalars).run()):
                    values[tensor] = value
            elif isinstance(op, ExternOp):
                def scalar(expr, _name=op.name):
                    return evaluator.expr(expr, _Context(scalars, consumer=_name))
                for tensor, value in zip(op.outputs, evaluate_extern(op, values, scalar)):
                    values[tensor] = value
            else:
                raise TensorLangTypeError(
                    f"reference.evaluate: cannot evaluate the operation '{op.name}' "
                    f"({type(op).__name__}); only placeholders, te.compute and te.extern "
                    f"are known")
    results = []
    for tensor in tensors:
        value = values[tensor]
        if tensor.dtype.kind == "bfloat":
            value = float32_to_bfloat16(value)
        elif isinstance(tensor.op, PlaceholderOp):
            value = np.array(value, copy=True)   # never hand back the caller's own array
        results.append(value)
    return results


def _input_value(op: PlaceholderOp, array: np.ndarray, evaluator, scalars) -> np.ndarray:
    expected = op.dtype.numpy_dtype
    if op.dtype.kind == "bfloat":
        array = bfloat16_bits(array)
        if array.dtype != expected:
            raise TensorLangTypeError(
                f"reference.evaluate: placeholder '{op.name}' is bfloat16, got an array of "
                f"{array.dtype}; pass {BFLOAT16_ARRAYS}")
    if array.dtype != expected:
        raise TensorLangTypeError(
            f"reference.evaluate: placeholder '{op.name}' has dtype {op.dtype}, so its "
            f"array must be {expected}, got {array.dtype}")
    ctx = _Context(scalars, consumer=op.name)
    for axis, extent in enumerate(op.shape):
        size = int(evaluator.expr(extent, ctx))
        if size != array.shape[axis]:
            raise TensorLangValueError(
                f"reference.evaluate: placeholder '{op.name}' dimension {axis} ('{extent}') "
                f"is {size} but its array has shape {array.shape}")
    if op.dtype.kind == "bfloat":
        return bfloat16_to_float32(array)
    return array
