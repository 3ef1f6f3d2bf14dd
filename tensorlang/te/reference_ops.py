"""The numpy evaluation of tensor expressions and of one ``ComputeOp`` for
:mod:`tensorlang.te.reference` (the oracle): value semantics of the IR types, index grids
(one broadcast dimension per spatial axis, then one per reduce axis), reductions folding
the extra dimensions, and lazy ``if_then_else`` branches (see that module's docstring)."""
from __future__ import annotations

import math

import numpy as np

from ..errors import TensorLangValueError
from ..tir import expr as E
from ..tir.datatype import DataType
from ..tir.extern_calls import extern_call, host_function
from ..tir.intrin_rules import apply_rule, reference_rule
from ..tir.intrin_table import is_declared
from .graph import ComputeOp, Tensor

# Upper bound on the elements of one index grid (spatial x reduce points); larger
# reductions are evaluated in chunks along their first reduce axis.
_GRID_LIMIT = 1 << 22


class OutOfBoundsError(TensorLangValueError, IndexError):
    """A tensor is read outside its shape at a point where the read is not masked."""


# ---------------------------------------------------------------------------------------
# dtype helpers

def storage_dtype(dtype: DataType) -> np.dtype:
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


def finish(value, dtype: DataType) -> np.ndarray:
    """``value`` held in the storage type of ``dtype`` (rounded for bfloat16)."""
    value = np.asarray(value)
    if dtype.kind == "bfloat":
        return round_to_bfloat16(value)
    storage = storage_dtype(dtype)
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
           E.And: np.logical_and, E.Or: np.logical_or, E.ShiftRight: np.right_shift,
           E.ShiftLeft: np.left_shift, E.BitwiseAnd: np.bitwise_and,
           E.BitwiseOr: np.bitwise_or, E.BitwiseXor: np.bitwise_xor}

# Combiners recognised as one numpy reduction: result is ``lhs <op> rhs``.
_FAST_REDUCE = {E.Add: np.add, E.Mul: np.multiply, E.Max: np.maximum, E.Min: np.minimum}


# ---------------------------------------------------------------------------------------
# expression evaluation

class Context:
    """Variable values, the active mask and memoised results for one index grid."""

    __slots__ = ("env", "mask", "memo", "parent", "consumer")

    def __init__(self, env, mask=None, parent=None, consumer=""):
        self.env = env
        self.mask = mask
        self.memo: dict[int, np.ndarray] = {}
        self.parent = parent
        self.consumer = consumer

    def masked(self, condition) -> "Context":
        mask = condition if self.mask is None else np.logical_and(self.mask, condition)
        return Context(self.env, mask, self, self.consumer)

    def lookup(self, node):
        ctx = self
        while ctx is not None:
            found = ctx.memo.get(id(node))
            if found is not None:
                return found
            ctx = ctx.parent
        return None


class Evaluator:
    def __init__(self, values: dict[Tensor, np.ndarray]):
        self.values = values

    def expr(self, node, ctx: Context) -> np.ndarray:
        found = ctx.lookup(node)
        if found is not None:
            return found
        result = self._expr(node, ctx)
        ctx.memo[id(node)] = result
        return result

    def _expr(self, node, ctx: Context) -> np.ndarray:  # noqa: C901 - one case per node
        t = type(node)
        binary = _BINARY.get(t)
        if binary is not None:
            a = self.expr(node.a, ctx)
            b = self.expr(node.b, ctx)
            return finish(binary(a, b), node.dtype)
        if t is E.Var:
            try:
                return ctx.env[node]
            except KeyError:
                raise TensorLangValueError(
                    f"reference evaluation of '{ctx.consumer}': the variable '{node.name}' "
                    f"has no value; give it in shape_vars={{{node.name}: ...}}") from None
        if t is E.IntImm:
            return np.asarray(bool(node.value) if node.dtype.is_bool else node.value,
                              dtype=storage_dtype(node.dtype))
        if t is E.FloatImm:
            return finish(np.asarray(node.value, dtype=np.float64), node.dtype)
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
            inner = Context({**ctx.env, node.var: value}, ctx.mask, None, ctx.consumer)
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
        return finish(np.asarray(value).astype(storage_dtype(target)), target)

    def call(self, node: E.Call, ctx: Context) -> np.ndarray:
        if node.op == "tl.likely":  # a hint to loop partitioning: the condition itself
            return self.expr(node.args[0], ctx)
        called = extern_call(node)
        if called is not None:   # the C function itself, through ctypes
            symbol, operands = called
            function = host_function(symbol, node.dtype, tuple(a.dtype for a in operands))
            return finish(function(*(self.expr(a, ctx) for a in operands)), node.dtype)
        if node.op not in _INTRINSICS and is_declared(node.op):
            rule = reference_rule(node.op)
            if rule is None:
                raise TensorLangValueError(
                    f"reference evaluation of '{ctx.consumer}': the intrinsic '{node.op}' "
                    f"has no lowering rule; register one with "
                    f"tir.register_intrin_lowering('{node.op}', 'llvm', f)")
            return self.expr(apply_rule(node, "llvm", rule), ctx)
        function = _INTRINSICS.get(node.op)
        if function is None:
            raise TensorLangValueError(
                f"reference evaluation of '{ctx.consumer}': no reference for the call "
                f"'{node.op}'")
        args = [np.asarray(self.expr(a, ctx), dtype=np.float64) for a in node.args]
        return finish(function(*args), node.dtype)

    def select(self, node: E.Select, ctx: Context) -> np.ndarray:
        condition = self.expr(node.condition, ctx)
        if condition.all():
            return self.expr(node.true_value, ctx)
        if not condition.any():
            return self.expr(node.false_value, ctx)
        # Each branch only "happens" where it is chosen: reads outside that region are
        # clipped instead of reported, exactly as a guarded load would not execute.
        true_value = self.expr(node.true_value, ctx.masked(condition))
        false_value = self.expr(node.false_value, ctx.masked(np.logical_not(condition)))
        return finish(np.where(condition, true_value, false_value), node.dtype)

    def load(self, node: E.ProducerLoad, ctx: Context) -> np.ndarray:
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


class OpEvaluator:
    """Evaluates one ComputeOp given the values of its inputs."""

    def __init__(self, op: ComputeOp, evaluator: Evaluator, scalars: dict):
        self.op = op
        self.evaluator = evaluator
        self.scalars = scalars

    def scalar(self, node) -> int:
        ctx = Context(self.scalars, consumer=self.op.name)
        value = self.evaluator.expr(node, ctx)
        if value.ndim != 0:
            raise TensorLangValueError(f"compute '{self.op.name}': the extent '{node}' is "
                                       f"not a scalar")
        return int(value)

    def run(self, time_step: int | None = None) -> list[np.ndarray]:
        """The outputs over the operation's domain, or only at ``time_step`` of its first
        axis (a step of a scan: the outputs then have extent 1 there)."""
        op = self.op
        spatial = [(self.scalar(iv.dom.min), self.scalar(iv.dom.extent)) for iv in op.axis]
        if time_step is not None:
            spatial[0] = (time_step, 1)
        shape = tuple(extent for _, extent in spatial)
        if any(extent < 0 for extent in shape):
            raise TensorLangValueError(f"compute '{op.name}': negative extent in shape "
                                       f"{shape}")
        if isinstance(op.body[0], E.Reduce):
            return self.reduce(spatial, shape)
        env = dict(self.scalars)
        ndim = len(shape)
        for dim, (iv, (lo, extent)) in enumerate(zip(op.axis, spatial)):
            env[iv.var] = _grid_vector(extent, lo, dim, ndim, storage_dtype(iv.var.dtype))
        ctx = Context(env, consumer=op.name)
        outputs = []
        for body in op.body:
            value = self.evaluator.expr(body, ctx)
            outputs.append(_materialize(finish(value, body.dtype), shape))
        return outputs

    # -- reductions ----------------------------------------------------------------
    def spatial_env(self, spatial, ndim: int) -> dict:
        """The scalars and the spatial axes as index grids of ``ndim`` dimensions (the
        spatial ones first): what a reducer's identity, combination or reduce domain
        may use (``te.reduce_axis((0, i))``, ``lambda x, y: te.max(x + y, i)``)."""
        env = dict(self.scalars)
        for dim, (iv, (lo, extent)) in enumerate(zip(self.op.axis, spatial)):
            env[iv.var] = _grid_vector(extent, lo, dim, ndim, storage_dtype(iv.var.dtype))
        return env

    def reduce(self, spatial, shape) -> list[np.ndarray]:
        op = self.op
        first: E.Reduce = op.body[0]
        combiner = first.combiner
        nspatial, nreduce = len(shape), len(first.axis)
        ndim = nspatial + nreduce
        start_values = self.start_values(first, spatial)
        if 0 in shape:
            return self.outputs(start_values, shape)
        env = self.spatial_env(spatial, ndim)
        # each reduce axis's range, per spatial point where it depends on the axes: the
        # grid covers the union, and points outside a point's own range are masked
        bounds, reduce_dom = [], []
        dom_ctx = Context(env, consumer=op.name)
        for iv in first.axis:
            lo = np.asarray(self.evaluator.expr(iv.dom.min, dom_ctx))
            extent = np.asarray(self.evaluator.expr(iv.dom.extent, dom_ctx))
            if lo.ndim == 0 and extent.ndim == 0:
                reduce_dom.append((int(lo), int(extent)))
                bounds.append(None)
                continue
            low, high = int(lo.min()), int((lo + np.maximum(extent, 0)).max())
            reduce_dom.append((low, max(high - low, 0)))
            bounds.append((lo, lo + extent))
        if any(extent <= 0 for _, extent in reduce_dom):
            return self.outputs(start_values, shape)
        # Chunk the first reduce axis so that one grid stays below _GRID_LIMIT points.
        points = math.prod(shape) * math.prod(extent for _, extent in reduce_dom)
        first_lo, first_extent = reduce_dom[0]
        chunk = first_extent
        if points > _GRID_LIMIT:
            chunk = max(1, first_extent * _GRID_LIMIT // points)
        accumulated = None
        combine_env = self.spatial_env(spatial, nspatial)   # the outputs' layout
        for begin in range(0, first_extent, chunk):
            size = min(chunk, first_extent - begin)
            inside = None
            for r, (iv, (lo, extent)) in enumerate(zip(first.axis, reduce_dom)):
                if r == 0:
                    lo, extent = first_lo + begin, size
                grid = _grid_vector(extent, lo, nspatial + r, ndim, storage_dtype(iv.var.dtype))
                env[iv.var] = grid
                if bounds[r] is not None:
                    own = (grid >= bounds[r][0]) & (grid < bounds[r][1])
                    inside = own if inside is None else inside & own
            partial = self.fold_grid(first, env, shape, inside)
            accumulated = partial if accumulated is None else \
                self.combine(combiner, accumulated, partial, combine_env)
        final = self.combine(combiner, start_values, accumulated, combine_env)
        return self.outputs(final, shape)

    def start_values(self, reduce: E.Reduce, spatial) -> list[np.ndarray]:
        """The init values of the accumulators: ``init=`` when given, else the identity."""
        shape = tuple(extent for _, extent in spatial)
        ctx = Context(self.spatial_env(spatial, len(shape)), consumer=self.op.name)
        starts = reduce.init if reduce.init else reduce.combiner.identity
        return [np.broadcast_to(finish(self.evaluator.expr(s, ctx), s.dtype), shape)
                for s in starts]

    def outputs(self, results, shape) -> list[np.ndarray]:
        return [_materialize(results[body.value_index], shape) for body in self.op.body]

    def fold_grid(self, reduce: E.Reduce, env, shape, inside=None) -> list[np.ndarray]:
        """Fold the reduce dimensions of one grid; masked points (the condition false, or
        ``inside`` false: outside a point's own reduce range) hold the identity."""
        nspatial = len(shape)
        full = tuple(shape) + tuple(env[iv.var].shape[nspatial + r]
                                    for r, iv in enumerate(reduce.axis))
        ctx = Context(env, consumer=self.op.name)
        condition = self.evaluator.expr(reduce.condition, ctx)
        if inside is not None:
            condition = np.logical_and(condition, inside)
        masked = not (condition.ndim == 0 and bool(condition))
        source_ctx = ctx.masked(condition) if masked else ctx
        values = []
        for source, identity in zip(reduce.source, reduce.combiner.identity):
            value = finish(self.evaluator.expr(source, source_ctx), source.dtype)
            if masked:
                neutral = finish(self.evaluator.expr(identity, ctx), identity.dtype)
                value = np.where(condition, value, neutral)
            values.append(np.broadcast_to(value, full))
        reduce_axes = tuple(range(nspatial, len(full)))
        fast = _fast_reduction(reduce.combiner)
        if fast is not None:
            dtype = storage_dtype(reduce.source[0].dtype)
            return [finish(fast.reduce(values[0], axis=reduce_axes, dtype=dtype),
                           reduce.source[0].dtype)]
        # Generic commutative reducer: pairwise tree over the flattened reduce points,
        # keeping earlier points on the left (argmax-style tie-breaking stays stable);
        # the spatial grids take one trailing dimension for the flattened points.
        flat_env = dict(env)
        for iv in self.op.axis:
            grid = env[iv.var]
            flat_env[iv.var] = grid.reshape(grid.shape[:nspatial] + (1,))
        identity_ctx = Context(flat_env, consumer=self.op.name)
        flat = [v.reshape(tuple(shape) + (-1,)) for v in values]
        while flat[0].shape[-1] > 1:
            if flat[0].shape[-1] % 2:
                flat = [np.concatenate(
                    [v, np.broadcast_to(finish(self.evaluator.expr(i, identity_ctx),
                                               i.dtype), v.shape[:-1] + (1,))], axis=-1)
                    for v, i in zip(flat, reduce.combiner.identity)]
            flat = self.combine(reduce.combiner, [v[..., 0::2] for v in flat],
                                [v[..., 1::2] for v in flat], flat_env)
        return [v[..., 0] for v in flat]

    def combine(self, combiner: E.CommReducer, left, right, env=None) -> list[np.ndarray]:
        """``combiner`` on ``left`` and ``right``; ``env`` gives the spatial axes in the
        values' layout where the combination uses them."""
        env = {**(self.scalars if env is None else env), **dict(zip(combiner.lhs, left)),
               **dict(zip(combiner.rhs, right))}
        ctx = Context(env, consumer=self.op.name)
        shape = np.broadcast_shapes(*[np.shape(v) for v in (*left, *right)])
        return [np.broadcast_to(finish(self.evaluator.expr(r, ctx), r.dtype), shape)
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
