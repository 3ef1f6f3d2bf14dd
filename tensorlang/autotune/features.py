"""Fixed-length feature vectors of lowered candidates, for the cost model.

In the spirit of Ansor's per-store features: every innermost :class:`BufferStore` of a
lowered :class:`PrimFunc` gets a vector describing the work it does (arithmetic by kind,
weighted by its trip count), the loops around it (vectorized / unrolled / parallel /
thread-bound extents and where they sit) and, for the buffers it touches, the memory
traffic (bytes, unique bytes, cache lines, reuse, innermost stride).  The function's vector
concatenates the work-weighted mean of the store vectors, the vector of the store doing the
most work, and function-wide figures (allocations by scope, loop trip counts, parallel work).

Index expressions are analysed as sums of ``coefficient * loop variable`` terms;
``floordiv`` / ``floormod`` by constants scale or cap their term, so fused and split loops
are understood.  Anything else in an index counts as spanning the whole dimension.
Magnitudes are reported as ``log2(1 + x)``.

>>> vector = extract_features(tl.lower(s, [A, B, C]))     # shape (len(FEATURE_NAMES),)
>>> matrix = extract_features_batch([f1, f2, f3])         # shape (3, len(FEATURE_NAMES))

Extraction is one walk of the IR with no per-element work: about a millisecond for a
tiled, cache-written matmul.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

from ..tir import expr as E
from ..tir import stmt as S
from ..tir.op import INTRINSICS

#: bytes in a cache line, for the "lines touched" features
CACHE_LINE_BYTES = 64
#: extent assumed for a loop whose extent is not a constant
UNKNOWN_EXTENT = 16
#: buffers described per store (those with the most bytes touched)
BUFFER_SLOTS = 5

ARITH_KINDS = ("float_add_sub", "float_mul", "float_div", "float_min_max", "float_cmp",
               "float_math", "int_add_sub", "int_mul", "int_div_mod", "int_min_max",
               "int_cmp", "bool_logic", "select", "cast")
LOOP_KINDS = (S.ForKind.VECTORIZED, S.ForKind.UNROLLED, S.ForKind.PARALLEL)
#: where the loops of one kind sit in a store's nest (spatial: its variable indexes the store)
POSITIONS = ("none", "inner_spatial", "middle_spatial", "outer_spatial", "inner_reduce",
             "middle_reduce", "outer_reduce", "mixed")
THREAD_TAGS = ("blockIdx.x", "blockIdx.y", "blockIdx.z", "threadIdx.x", "threadIdx.y",
               "threadIdx.z", "vthread")
SCOPE_NAMES = ("global", "shared", "local")
BUFFER_FIELDS = ("present", "is_read", "is_write", "scope_global", "scope_shared",
                 "scope_local", "bytes", "unique_bytes", "lines", "unique_lines",
                 "reuse_ratio", "stride_zero", "stride_one", "stride_other", "stride",
                 "loop_carried_reuse", "reuse_distance_iters", "reuse_distance_bytes",
                 "reuse_count")


def _store_feature_names() -> list[str]:
    names = [f"ops.{kind}" for kind in ARITH_KINDS]
    for kind in LOOP_KINDS:
        names += [f"{kind}.count", f"{kind}.extent_product", f"{kind}.innermost_extent"]
        names += [f"{kind}.position.{p}" for p in POSITIONS]
    names += [f"thread.{tag}" for tag in THREAD_TAGS]
    names += ["store.lanes", "store.auto_unroll_max_step", "store.trip_count", "store.depth",
              "store.innermost_extent", "store.guarded", "store.arith_intensity"]
    names += [f"store.scope_{scope}" for scope in SCOPE_NAMES]
    for slot in range(BUFFER_SLOTS):
        names += [f"buffer{slot}.{field}" for field in BUFFER_FIELDS]
    return names


_FUNCTION_FEATURES = (
    "total_float_ops", "total_int_ops", "total_bytes", "total_unique_bytes", "total_lines",
    "store_count", "max_loop_depth", "total_loop_iterations", "total_store_executions",
    "alloc_bytes_global", "alloc_bytes_shared", "alloc_bytes_local", "alloc_count_global",
    "alloc_count_shared", "alloc_count_local", "outer_parallel_work", "vectorized_loops",
    "unrolled_loops", "guards", "total_threads")

_STORE_NAMES = _store_feature_names()
#: names of the entries of :func:`extract_features`' vectors, in order
FEATURE_NAMES: tuple[str, ...] = tuple(
    [f"mean.{n}" for n in _STORE_NAMES] + [f"main.{n}" for n in _STORE_NAMES]
    + [f"func.{n}" for n in _FUNCTION_FEATURES])

#: bumped whenever what an entry means changes without its name changing
FEATURE_REVISION = 1
#: names and revision of the features, hashed: a model trained on vectors of another
#: version cannot score these (a pretrained model stores the version it was trained on)
FEATURE_VERSION: str = hashlib.sha256(
    ("\n".join(FEATURE_NAMES) + f"\nrevision {FEATURE_REVISION}").encode()).hexdigest()[:16]

_STORE_DIM = len(_STORE_NAMES)
_OP_INDEX = {kind: k for k, kind in enumerate(ARITH_KINDS)}
_FLOAT_OP_SLOTS = [k for k, kind in enumerate(ARITH_KINDS) if kind.startswith("float")]
_INT_OP_SLOTS = [k for k, kind in enumerate(ARITH_KINDS) if kind.startswith("int")]


def _log(x: float) -> float:
    return math.log2(1.0 + x) if x > 0 else 0.0


def _const_int(expr) -> int | None:
    while isinstance(expr, E.Cast):
        expr = expr.value
    return expr.value if isinstance(expr, E.IntImm) else None


# ---------------------------------------------------------------------------------------
# arithmetic counting
_BINARY_KIND = {E.Add: "add_sub", E.Sub: "add_sub", E.Mul: "mul", E.Div: "div",
                E.FloorDiv: "div_mod", E.FloorMod: "div_mod", E.Min: "min_max",
                E.Max: "min_max",
                # bitwise operators cost what an add costs (one ALU instruction)
                E.ShiftRight: "add_sub", E.ShiftLeft: "add_sub", E.BitwiseAnd: "add_sub",
                E.BitwiseOr: "add_sub", E.BitwiseXor: "add_sub"}


def _binary_slot(cls, dtype) -> int:
    kind = _BINARY_KIND[cls]
    if dtype.is_float:
        kind = "div" if kind == "div_mod" else kind
        return _OP_INDEX["float_" + kind]
    kind = "div_mod" if kind == "div" else kind
    return _OP_INDEX["int_" + kind]


class _ExprScan:
    """Counts operations (times their lanes) and collects buffer loads of expressions."""

    __slots__ = ("counts", "loads")

    def __init__(self):
        self.counts = [0.0] * len(ARITH_KINDS)
        self.loads: list[E.BufferLoad] = []

    def scan(self, e) -> None:  # noqa: C901 - one case per node kind, kept flat for speed
        cls = type(e)
        if cls is E.IntImm or cls is E.FloatImm or cls is E.Var or cls is E.StringImm:
            return
        if cls in _BINARY_KIND:
            self.counts[_binary_slot(cls, e.dtype)] += e.dtype.lanes
            self.scan(e.a)
            self.scan(e.b)
        elif issubclass(cls, E.CmpOp):
            slot = "float_cmp" if e.a.dtype.is_float else "int_cmp"
            self.counts[_OP_INDEX[slot]] += e.dtype.lanes
            self.scan(e.a)
            self.scan(e.b)
        elif cls is E.BufferLoad:
            self.loads.append(e)
            for index in e.indices:
                self.scan(index)
        elif cls is E.And or cls is E.Or:
            self.counts[_OP_INDEX["bool_logic"]] += e.dtype.lanes
            self.scan(e.a)
            self.scan(e.b)
        elif cls is E.Not:
            self.counts[_OP_INDEX["bool_logic"]] += e.dtype.lanes
            self.scan(e.a)
        elif cls is E.Select:
            self.counts[_OP_INDEX["select"]] += e.dtype.lanes
            self.scan(e.condition)
            self.scan(e.true_value)
            self.scan(e.false_value)
        elif cls is E.Call:
            if e.op in INTRINSICS:
                self.counts[_OP_INDEX["float_math"]] += e.dtype.lanes
            for arg in e.args:
                self.scan(arg)
        elif cls is E.Cast:
            self.counts[_OP_INDEX["cast"]] += e.dtype.lanes
            self.scan(e.value)
        elif cls is E.Ramp:
            self.scan(e.base)
            self.scan(e.stride)
        elif cls is E.Broadcast:
            self.scan(e.value)
        elif cls is E.Let:
            self.scan(e.value)
            self.scan(e.body)
        else:
            for name in e._children:
                child = getattr(e, name)
                for c in (child if isinstance(child, tuple) else (child,)):
                    if isinstance(c, E.PrimExpr):
                        self.scan(c)


# ---------------------------------------------------------------------------------------
# index analysis: an index is a list of terms (coefficients by loop id, cap or None);
# the term spans sum(|coef| * (extent - 1)) over free loops, at most ``cap``.
_LANE_KEY = -1  # pseudo loop standing for the lanes of a vector access


def _scale_terms(terms, factor: float):
    return [({k: c * factor for k, c in coefs.items()},
             None if cap is None else cap * abs(factor)) for coefs, cap in terms]


def _add_terms(x, y):
    merged: dict = {}
    capped = []
    for coefs, cap in x + y:
        if cap is None:
            for k, c in coefs.items():
                merged[k] = merged.get(k, 0.0) + c
        else:
            capped.append((coefs, cap))
    merged = {k: c for k, c in merged.items() if c != 0}
    return ([(merged, None)] if merged else []) + capped


def _linear(e, lets: dict):  # noqa: C901 - one case per node kind
    """Terms of index expression ``e``, or None when it is not (piecewise) affine."""
    cls = type(e)
    if cls is E.IntImm:
        return []
    if cls is E.Var:
        key = id(e)
        if key in lets:
            return lets[key]
        return [({key: 1.0}, None)]
    if cls is E.Cast:
        return _linear(e.value, lets)
    if cls is E.Add or cls is E.Sub:
        a, b = _linear(e.a, lets), _linear(e.b, lets)
        if a is None or b is None:
            return None
        return _add_terms(a, b if cls is E.Add else _scale_terms(b, -1.0))
    if cls is E.Mul:
        ca, cb = _const_int(e.a), _const_int(e.b)
        if ca is None and cb is None:
            return None
        terms = _linear(e.b if ca is not None else e.a, lets)
        return None if terms is None else _scale_terms(terms, float(ca if ca is not None else cb))
    if cls is E.FloorDiv:
        divisor = _const_int(e.b)
        terms = _linear(e.a, lets) if divisor else None
        return None if terms is None else _scale_terms(terms, 1.0 / divisor)
    if cls is E.FloorMod:
        divisor = _const_int(e.b)
        terms = _linear(e.a, lets) if divisor else None
        if terms is None:
            return None
        coefs: dict = {}
        for term_coefs, _ in terms:
            for k, c in term_coefs.items():
                coefs[k] = coefs.get(k, 0.0) + c
        return [(coefs, float(abs(divisor) - 1))] if coefs else []
    if cls is E.Ramp:
        base = _linear(e.base, lets)
        stride = _const_int(e.stride)
        if base is None or stride is None:
            return None
        return _add_terms(base, [({_LANE_KEY: float(stride)}, None)])
    if cls is E.Broadcast:
        return _linear(e.value, lets)
    return None


class _Loop:
    __slots__ = ("key", "extent", "kind", "thread_tag", "unroll_step")

    def __init__(self, key, extent, kind, thread_tag="", unroll_step=0):
        self.key, self.extent, self.kind = key, extent, kind
        self.thread_tag, self.unroll_step = thread_tag, unroll_step


class _Access:
    """What one access to a buffer does inside the loops around its store."""

    __slots__ = ("buffer", "is_write", "bytes", "unique_bytes", "lines", "unique_lines",
                 "stride_class", "stride", "reuse_count", "reuse_iters", "reuse_bytes",
                 "touches", "_last_dim_span")

    def __init__(self, buffer, indices, is_write, loops, trip, lanes, lets):
        self.buffer, self.is_write = buffer, is_write
        element = buffer.dtype.bytes
        dims = [_const_int(s) or UNKNOWN_EXTENT for s in buffer.shape]
        strides = [_const_int(s) or UNKNOWN_EXTENT for s in buffer.strides] \
            if buffer.strides else _row_major(dims)
        terms = [_linear(index, lets) for index in indices]
        known = all(t is not None for t in terms)
        # Coefficient of each loop in the flattened element offset.  A fraction (a loop
        # under a floordiv) moves the index only now and then, so it does not count as a
        # stride, but the loop still touches new data.
        flat: dict = {}
        self.touches = set()
        for dim_terms, stride in zip(terms, strides):
            for coefs, _ in dim_terms or ():
                for k, c in coefs.items():
                    if c:
                        self.touches.add(k)
                    flat[k] = flat.get(k, 0.0) + math.trunc(c) * stride
        self.bytes = trip * lanes * element
        self.stride_class, self.stride = _stride_of(loops, flat, known)
        footprint = self._footprints(loops, terms, dims)
        self.unique_bytes = footprint[0] * element
        inner = loops[-1] if loops else None
        inner_extent = inner.extent if inner else 1
        inner_bytes = abs(flat.get(inner.key, 0.0)) * element if inner else 0.0
        per_run = 1.0 if inner_bytes == 0 else \
            min(inner_extent, math.ceil(((inner_extent - 1) * inner_bytes + element)
                                        / CACHE_LINE_BYTES))
        self.lines = trip * lanes / inner_extent * per_run
        last_span = self._last_dim_span
        rows = footprint[0] / max(1.0, last_span)
        self.unique_lines = rows * math.ceil(last_span * element / CACHE_LINE_BYTES)
        # innermost loop whose variable the access ignores: the data is reused across it
        self.reuse_count = self.reuse_iters = self.reuse_bytes = 0.0
        if known:
            for level in range(len(loops) - 1, -1, -1):
                if loops[level].key not in self.touches and loops[level].extent > 1:
                    self.reuse_count = float(loops[level].extent)
                    self.reuse_iters = float(math.prod(lp.extent for lp in loops[level + 1:]))
                    self.reuse_bytes = footprint[level + 1] * element
                    break

    def _footprints(self, loops, terms, dims) -> list[float]:
        """Distinct elements touched with loops ``level..`` free, for every level."""
        depth = len(loops)
        result = [1.0] * (depth + 1)
        self._last_dim_span = 1.0
        extents = [lp.extent for lp in loops]
        # a loop key is free at ``level`` when a loop of it sits at ``level`` or inside;
        # its extent is that of the innermost such loop
        innermost: dict = {}
        for index, lp in enumerate(loops):
            innermost[lp.key] = (index, lp.extent)
        # per term, (innermost level, |coefficient| * (extent - 1)) of each loop it names,
        # in the order of its coefficients (the order the widths are summed in)
        moves = [None if dim_terms is None else
                 [([(innermost[k][0], abs(c) * (innermost[k][1] - 1))
                    for k, c in coefs.items() if k in innermost], cap)
                  for coefs, cap in dim_terms]
                 for dim_terms in terms]
        sizes = [float(size) for size in dims]
        last_dim = len(dims) - 1
        all_known = all(t is not None for t in terms)
        for level in range(depth - 1, -1, -1):
            elements = 1.0
            for dim, (dim_moves, size) in enumerate(zip(moves, sizes)):
                if dim_moves is None:
                    span = size
                else:
                    span = 1.0
                    for pairs, cap in dim_moves:
                        width = sum(move for index, move in pairs if index >= level)
                        span += width if cap is None else min(width, cap)
                    span = min(span, size)
                if level == 0 and dim == last_dim:
                    self._last_dim_span = span
                elements *= span
            iterations = math.prod(extents[k] for k in range(level, depth)
                                   if loops[k].key in self.touches) if terms else 1
            result[level] = min(elements, float(iterations)) if all_known else elements
        return result


def _row_major(dims) -> list[int]:
    strides, stride = [], 1
    for size in reversed(dims):
        strides.append(stride)
        stride *= size
    return strides[::-1]


def _stride_of(loops, flat, known) -> tuple[int, float]:
    """Class (0: zero, 1: unit, 2: other) of the innermost loop's stride, and the stride
    of the innermost loop that moves the access."""
    if not loops or not known:
        return 2, 0.0
    inner = abs(flat.get(loops[-1].key, 0.0))
    cls = 0 if inner == 0 else 1 if inner == 1 else 2
    for lp in reversed(loops):
        moved = abs(flat.get(lp.key, 0.0))
        if moved:
            return cls, moved
    return cls, 0.0


# ---------------------------------------------------------------------------------------
# the walk
class _Extractor:
    def __init__(self):
        self.loops: list[_Loop] = []
        self.lets: dict = {}
        self.alloc_depth: dict[int, int] = {}  # allocated buffer -> loops around its Allocate
        self.guards = 0
        self.store_rows: list[list[float]] = []
        self.store_weights: list[float] = []
        self.totals = dict.fromkeys(_FUNCTION_FEATURES, 0.0)
        self.alloc_bytes = dict.fromkeys(SCOPE_NAMES, 0.0)
        self.alloc_count = dict.fromkeys(SCOPE_NAMES, 0.0)

    def trip(self) -> float:
        return float(math.prod(lp.extent for lp in self.loops))

    def visit(self, s) -> None:  # noqa: C901 - one case per statement kind
        cls = type(s)
        if cls is S.SeqStmt:
            for child in s.seq:
                self.visit(child)
        elif cls is S.For:
            extent = _const_int(s.extent) or UNKNOWN_EXTENT
            step = 0
            for key, value in s.annotations:
                if key == "pragma_auto_unroll_max_step" and isinstance(value, (int, float)):
                    step = int(value)
            loop = _Loop(id(s.loop_var), extent, s.kind, s.thread_tag, step)
            self.totals["total_loop_iterations"] += self.trip() * extent
            if s.kind == S.ForKind.VECTORIZED:
                self.totals["vectorized_loops"] += 1
            elif s.kind == S.ForKind.UNROLLED:
                self.totals["unrolled_loops"] += 1
            self.loops.append(loop)
            self.totals["max_loop_depth"] = max(self.totals["max_loop_depth"], len(self.loops))
            self.visit(s.body)
            self.loops.pop()
        elif cls is S.BufferStore:
            self.store(s)
        elif cls is S.Allocate:
            scope = s.buffer.scope if s.buffer.scope in SCOPE_NAMES else "global"
            size = math.prod(_const_int(d) or UNKNOWN_EXTENT for d in s.buffer.shape)
            self.alloc_bytes[scope] += size * s.buffer.dtype.bytes
            self.alloc_count[scope] += 1
            self.alloc_depth[id(s.buffer)] = len(self.loops)
            self.visit(s.body)
        elif cls is S.IfThenElse:
            self.totals["guards"] += 1
            self.guards += 1
            self.visit(s.then_case)
            if s.else_case is not None:
                self.visit(s.else_case)
            self.guards -= 1
        elif cls is S.LetStmt:
            terms = _linear(s.value, self.lets)
            if terms is not None:
                self.lets[id(s.var)] = terms
            self.visit(s.body)
        elif cls is S.AttrStmt:
            if s.key == "thread_extent":
                tag = s.node if isinstance(s.node, str) else getattr(s.node, "thread_tag", "")
                extent = _const_int(s.value) or UNKNOWN_EXTENT
                var = getattr(s.node, "var", None)
                self.loops.append(_Loop(id(var) if var is not None else id(s), extent,
                                        S.ForKind.THREAD_BINDING, tag))
                self.visit(s.body)
                self.loops.pop()
            else:
                self.visit(s.body)
        # Evaluate and other statements do no stored work

    def _reduction_loops(self, s, loops, accesses) -> set:
        """Loops carrying an accumulation into the stored element: the store reads its
        own buffer, the loop does not move the stored index, and the loop runs inside the
        buffer's allocation (outside it, every iteration accumulates into a fresh buffer)."""
        if not any(a.buffer is s.buffer for a in accesses[1:]):
            return set()
        inside = self.alloc_depth.get(id(s.buffer), 0)
        return {lp.key for lp in loops[inside:] if lp.key not in accesses[0].touches}

    def store(self, s: S.BufferStore) -> None:
        lanes = s.value.dtype.lanes
        loops = list(self.loops)
        if lanes > 1:
            loops.append(_Loop(_LANE_KEY, lanes, S.ForKind.VECTORIZED))
        trip = self.trip()
        scan = _ExprScan()
        scan.scan(s.value)
        for index in s.indices:
            scan.scan(index)
        counts = [c * trip for c in scan.counts]
        accesses = [_Access(s.buffer, s.indices, True, loops, trip, lanes, self.lets)]
        accesses += [_Access(ld.buffer, ld.indices, False, loops, trip, ld.dtype.lanes,
                             self.lets) for ld in scan.loads]
        row: list[float] = [_log(c) for c in counts]
        row += _loop_features(loops, self._reduction_loops(s, loops, accesses))
        unroll_step = max((lp.unroll_step for lp in loops), default=0)
        float_ops = sum(counts[k] for k in _FLOAT_OP_SLOTS)
        int_ops = sum(counts[k] for k in _INT_OP_SLOTS)
        total_bytes = sum(a.bytes for a in accesses)
        scope = s.buffer.scope if s.buffer.scope in SCOPE_NAMES else "global"
        row += [_log(lanes), _log(unroll_step), _log(trip * lanes), float(len(loops)),
                _log(loops[-1].extent if loops else 1), float(self.guards > 0),
                _log(float_ops / max(1.0, total_bytes))]
        row += [float(scope == name) for name in SCOPE_NAMES]
        row += _buffer_features(accesses)
        self.store_rows.append(row)
        self.store_weights.append(trip * lanes * (1.0 + sum(scan.counts) / max(1, lanes)))
        totals = self.totals
        totals["total_float_ops"] += float_ops
        totals["total_int_ops"] += int_ops
        totals["total_bytes"] += total_bytes
        totals["total_unique_bytes"] += sum(a.unique_bytes for a in accesses)
        totals["total_lines"] += sum(a.lines for a in accesses)
        totals["store_count"] += 1
        totals["total_store_executions"] += trip
        parallel = math.prod(lp.extent for lp in loops if lp.kind == S.ForKind.PARALLEL
                             or lp.thread_tag.startswith("blockIdx"))
        totals["outer_parallel_work"] = max(totals["outer_parallel_work"], parallel)
        threads = math.prod(lp.extent for lp in loops if lp.kind == S.ForKind.THREAD_BINDING)
        totals["total_threads"] = max(totals["total_threads"], threads)


def _loop_features(loops, reduction_keys) -> list[float]:
    row: list[float] = []
    depth = len(loops)
    for kind in LOOP_KINDS:
        found = [(k, lp) for k, lp in enumerate(loops) if lp.kind == kind]
        position = [0.0] * len(POSITIONS)
        if not found:
            position[0] = 1.0
            row += [0.0, 0.0, 0.0] + position
            continue
        names = set()
        for k, lp in found:
            where = "inner" if k == depth - 1 else "outer" if k == 0 else "middle"
            names.add(f"{where}_{'reduce' if lp.key in reduction_keys else 'spatial'}")
        position[POSITIONS.index(names.pop() if len(names) == 1 else "mixed")] = 1.0
        row += [float(len(found)), _log(math.prod(lp.extent for _, lp in found)),
                _log(found[-1][1].extent)] + position
    for tag in THREAD_TAGS:
        row.append(_log(math.prod(lp.extent for lp in loops if lp.thread_tag == tag)
                        if any(lp.thread_tag == tag for lp in loops) else 0))
    return row


def _buffer_features(accesses: list[_Access]) -> list[float]:
    by_buffer: dict[int, list[_Access]] = {}
    for access in accesses:
        by_buffer.setdefault(id(access.buffer), []).append(access)
    merged = []
    for group in by_buffer.values():
        main = max(group, key=lambda a: a.bytes)
        total = sum(a.bytes for a in group)
        unique = max(a.unique_bytes for a in group)
        scope = main.buffer.scope
        stride_class = [0.0, 0.0, 0.0]
        stride_class[main.stride_class] = 1.0
        merged.append((total, main.buffer.name, [
            1.0, float(any(not a.is_write for a in group)),
            float(any(a.is_write for a in group)),
            float(scope == "global"), float(scope == "shared"), float(scope == "local"),
            _log(total), _log(unique), _log(sum(a.lines for a in group)),
            _log(max(a.unique_lines for a in group)), _log(total / max(1.0, unique)),
            *stride_class, _log(main.stride), float(main.reuse_count > 0),
            _log(main.reuse_iters), _log(main.reuse_bytes), _log(main.reuse_count)]))
    merged.sort(key=lambda item: (-item[0], item[1]))
    row: list[float] = []
    for slot in range(BUFFER_SLOTS):
        row += merged[slot][2] if slot < len(merged) else [0.0] * len(BUFFER_FIELDS)
    return row


def extract_features(func: S.PrimFunc) -> np.ndarray:
    """The feature vector (float32, ``len(FEATURE_NAMES)`` entries) of a lowered function.

    >>> extract_features(tl.lower(s, [A, B, C])).shape == (len(FEATURE_NAMES),)
    True
    """
    walker = _Extractor()
    walker.visit(func.body)
    out = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
    if walker.store_rows:
        rows = np.asarray(walker.store_rows, dtype=np.float64)
        weights = np.asarray(walker.store_weights, dtype=np.float64)
        out[:_STORE_DIM] = weights @ rows / weights.sum()
        out[_STORE_DIM:2 * _STORE_DIM] = rows[int(np.argmax(weights))]
    totals = walker.totals
    for scope in SCOPE_NAMES:
        totals[f"alloc_bytes_{scope}"] = walker.alloc_bytes[scope]
        totals[f"alloc_count_{scope}"] = walker.alloc_count[scope]
    counts = {"store_count", "max_loop_depth", "vectorized_loops", "unrolled_loops", "guards",
              "alloc_count_global", "alloc_count_shared", "alloc_count_local"}
    out[2 * _STORE_DIM:] = [totals[name] if name in counts else _log(totals[name])
                            for name in _FUNCTION_FEATURES]
    return out


def extract_features_batch(funcs) -> np.ndarray:
    """Feature vectors of several lowered functions, stacked: shape ``(n, d)``."""
    funcs = list(funcs)
    out = np.zeros((len(funcs), len(FEATURE_NAMES)), dtype=np.float32)
    for row, func in enumerate(funcs):
        out[row] = extract_features(func)
    return out
