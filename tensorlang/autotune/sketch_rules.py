"""Decision domains and per-stage schedule rules of the CPU sketch space.

A *domain* is the set of values one decision may take (a tile factorisation, a choice
among a few values); it samples, mutates and checks values.  A *rule* schedules one stage
of a workload from its decisions.  Rules are written so that every value of their domains
gives a valid schedule: splits take any positive factor (a split that does not divide is
guarded), vectorized loops are split-inner loops of constant extent, only stages computed
at the root run in parallel, and a producer is computed at a loop of the stage that reads
it directly.  :mod:`tensorlang.autotune.sketch` puts the rules together into a space.
"""
from __future__ import annotations

import math

import numpy as np

from ..tir import expr as E
from ..tir.functor import Visitor, post_order_visit

#: values of the ``auto_unroll_max_step`` pragma a stage may get (0: none)
UNROLL_STEPS = (0, 16, 64, 512)
#: SIMD lanes of float32 the vectorized loops aim at (one AVX-512 register)
VECTOR_LANES = 16


# ---------------------------------------------------------------------------------------
# domains
def divisors(n: int) -> list[int]:
    """The positive divisors of ``n`` in increasing order."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def _prime_factors(n: int) -> list[int]:
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return out


#: most accumulator registers of an innermost tile a sample aims at: AVX-512 has 32
#: vector registers and the tile's operands need some; of thousands of measured matmul
#: and conv2d schedules, tiles above 16 ran at least 1.4x slower than the best
REGISTER_TILE = 16
#: least share of the SIMD lanes a vectorized innermost loop that no multiple of the
#: width divides should keep busy to be sampled as a preferred factor
LANE_FILL = 7 / 8


def lane_filling_factors(extent: int, limit: int) -> list[int]:
    """Innermost factors, at most four vectors wide, that keep at least ``LANE_FILL`` of
    the SIMD lanes busy over an axis of ``extent`` that no multiple of the width divides:
    divisors just short of whole vectors (14 of 56) and multiples of the width whose last,
    guarded step is nearly full (16 and 32 of 56).  The lanes busy with factor ``f`` are
    ``extent / (ceil(extent / f) * ceil(f / lanes) * lanes)``."""
    out = []
    for f in range(1, min(limit, extent, 4 * VECTOR_LANES) + 1):
        if extent % f and f % VECTOR_LANES:
            continue   # a guarded split only for whole vectors
        steps, vectors = -(-extent // f), -(-f // VECTOR_LANES)
        if extent >= LANE_FILL * steps * vectors * VECTOR_LANES:
            out.append(f)
    return out


class Choice:
    """One of a fixed list of JSON values."""

    def __init__(self, values, weights=None):
        self.values = list(values)
        self.weights = None if weights is None else \
            np.asarray(weights, dtype=float) / float(np.sum(weights))

    def sample(self, rng):
        return self.values[int(rng.choice(len(self.values), p=self.weights))]

    def mutate(self, value, rng):
        others = [v for v in self.values if v != value]
        return others[int(rng.integers(len(others)))] if others else value

    def contains(self, value) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def size(self) -> float:
        return float(len(self.values))


class Tile:
    """The inner factors ``(f1, ..., fn)``, outer first, of an axis of ``extent`` split
    into ``n + 1`` loops; the outermost loop runs ``ceil(extent / prod(f))`` times.

    Factors are mostly divisors of what is left of the extent (no guard, no wasted
    iterations); with probability ``odd`` one is a power of two that does not divide, since
    any split is correct.  With ``vector`` the innermost factor prefers multiples of the
    SIMD width, and with ``lane_fill``, where none divides the extent, factors that keep
    the lanes nearly full (:func:`lane_filling_factors`; it paid on convolutions, and a
    pooling search did worse with it)."""

    def __init__(self, extent: int, levels: int, vector: bool = False, odd: float = 0.1,
                 max_inner: int | None = None, lane_fill: bool = False):
        self.extent = max(1, int(extent))
        self.levels = levels
        self.vector = vector
        self.lane_fill = lane_fill
        self.odd = odd
        self.max_inner = max_inner

    def _pick(self, remaining: int, innermost: bool, rng) -> int:
        limit = remaining
        if innermost and self.max_inner is not None:
            limit = min(limit, self.max_inner)
        if rng.random() < self.odd and limit > 2:
            powers = [1 << k for k in range(1, limit.bit_length()) if remaining % (1 << k)]
            if powers:
                return int(powers[int(rng.integers(len(powers)))])
        options = [d for d in divisors(remaining) if d <= limit]
        if innermost and self.vector:
            wide = [d for d in options if d % VECTOR_LANES == 0 and d <= 4 * VECTOR_LANES]
            if not wide and self.lane_fill:
                wide = lane_filling_factors(remaining, limit)
            if wide and rng.random() < 0.7:
                options = wide
        return int(options[int(rng.integers(len(options)))])

    def sample(self, rng):
        remaining, factors = self.extent, []
        for level in range(self.levels):
            f = self._pick(remaining, level == 0, rng)
            factors.append(f)
            remaining = -(-remaining // f)
        return tuple(reversed(factors))

    def outer(self, value) -> int:
        return -(-self.extent // math.prod(value))

    def mutate(self, value, rng):
        """Move a prime factor from one loop to another (the outer loop included), which
        keeps the product of all loop extents where the factors divide."""
        loops = [self.outer(value)] + list(value)
        for _ in range(8):
            src, dst = (int(x) for x in rng.choice(len(loops), size=2, replace=False))
            primes = _prime_factors(loops[src])
            if not primes:
                continue
            p = primes[int(rng.integers(len(primes)))]
            new = list(loops)
            new[src] //= p
            new[dst] *= p
            factors = tuple(new[1:])
            if self.contains(factors) and factors != tuple(value):
                return factors
        return self.sample(rng)

    def contains(self, value) -> bool:
        return isinstance(value, tuple) and len(value) == self.levels and all(
            isinstance(f, int) and not isinstance(f, bool) and 1 <= f <= self.extent
            for f in value) and math.prod(value) <= 4 * self.extent

    def size(self) -> float:
        # ordered factorisations into divisors (the odd powers of two are not counted)
        count = {1: 1}
        for _ in range(self.levels):
            nxt: dict = {}
            for rest, ways in count.items():
                for d in divisors(self.extent // rest):
                    nxt[rest * d] = nxt.get(rest * d, 0) + ways
            count = nxt
        return float(sum(count.values()))


# ---------------------------------------------------------------------------------------
# analysis helpers
class _VarCollector(Visitor):
    def __init__(self):
        self.vars: set = set()

    def visit_Var(self, node):
        self.vars.add(node)


def _vars_of(expr) -> set:
    collector = _VarCollector()
    collector.visit(expr)
    return collector.vars


class _Loads(Visitor):
    def __init__(self):
        self.loads: list = []

    def visit_ProducerLoad(self, node):
        self.loads.append(node)
        self.generic_visit(node)


def producer_loads(op) -> list:
    """The tensor reads in the body of ``op``."""
    collector = _Loads()
    for body in op.body:
        collector.visit(body)
    return collector.loads


#: intrinsics that cost tens of cycles a value even vectorized: a stage that calls one
#: and has several readers is better computed once into memory than inlined into each
EXPENSIVE_INTRINSICS = frozenset({"exp", "exp2", "log", "log2", "log10", "tanh", "sigmoid",
                                  "erf", "pow", "sin", "cos"})


def calls_expensive_intrinsic(op) -> bool:
    """Whether the body of ``op`` calls one of :data:`EXPENSIVE_INTRINSICS`."""
    names: set = set()
    for body in op.body:
        post_order_visit(body, lambda n: names.add(n.op) if isinstance(n, E.Call) else None)
    return bool(names & EXPENSIVE_INTRINSICS)


def reused_inputs(op) -> list:
    """Input tensors of ``op`` whose reads leave out some spatial axis (each element is
    read by several output points): the operands worth tiling for and packing."""
    axis_vars = {iv.var for iv in op.axis}
    result = []
    for load in producer_loads(op):
        used = set()
        for index in load.indices:
            used |= _vars_of(index)
        if axis_vars - used and not any(t is load.producer for t in result):
            result.append(load.producer)
    return result


def const_extent(iv, shape_vars) -> int:
    """The extent of ``iv`` as an int (symbolic dims looked up in ``shape_vars``; 1 when
    unknown, which only makes the space smaller)."""
    extent = iv.dom.extent
    if isinstance(extent, E.IntImm):
        return int(extent.value)
    if isinstance(extent, E.Var):
        for key, value in (shape_vars or {}).items():
            if key is extent or key == extent.name:
                return int(value)
    return 1


def first_long_leaf(stage):
    """The outermost leaf with a known extent above one (lowering drops loops of extent
    one, and a pragma on them with it), or None."""
    for iv in stage.leaf_iter_vars:
        extent = stage.static_extent(iv)
        if extent is not None and extent > 1:
            return iv
    return None


def annotate_unroll(stage, step: int) -> None:
    if step:
        leaf = first_long_leaf(stage)
        if leaf is not None:
            stage.pragma(leaf, "auto_unroll_max_step", int(step))


def fuse_parallel(stage, loops: list, count: int):
    """Fuse the first ``count`` of ``loops`` (adjacent leaves) and run the result in
    parallel; returns the fused loop (or None)."""
    count = min(count, len(loops))
    if count <= 0:
        return None
    fused = stage.fuse(*loops[:count]) if count > 1 else loops[0]
    stage.parallel(fused)
    return fused


def vectorize_split(stage, axis, lanes: int):
    """Split ``axis`` by ``lanes`` and vectorize the inner loop (a constant extent
    whatever the axis' own extent); returns the outer loop."""
    outer, inner = stage.split(axis, factor=lanes)
    stage.vectorize(inner)
    return outer


# ---------------------------------------------------------------------------------------
# rules
UNROLL = Choice(UNROLL_STEPS, weights=(1, 2, 2, 1))
BOOL = Choice((True, False))


def _axis_keys(prefix: str, axes) -> list[str]:
    """Decision names for ``axes``, by axis name (by position where names repeat)."""
    names = [iv.var.name for iv in axes]
    if len(set(names)) != len(names):
        names = [f"{k}" for k in range(len(axes))]
    return [f"{prefix}.{n}" for n in names]


class StageRule:
    """Schedules one stage (named ``name`` in a fresh schedule) from its decisions.

    ``structural`` runs first for every stage (cache_write, rfactor, cache_read change
    the dataflow and must precede loop changes); ``loops`` then splits, reorders and
    annotates, and returns the loops ``(stage, axis)`` at which the stage's producers
    may be computed (of the stage that reads them directly), outer first."""

    def __init__(self, name: str, op, shape_vars):
        self.name = name
        self.op = op
        self.spatial = [const_extent(iv, shape_vars) for iv in op.axis]
        self.reduce = [const_extent(iv, shape_vars) for iv in op.reduce_axis]

    def domains(self) -> dict:
        return {}

    def max_points(self) -> int:
        return 0

    def structural(self, s, d: dict, ctx: dict) -> None:
        pass

    def loops(self, s, d: dict, ctx: dict, attached: bool) -> list:
        return []

    def plausible(self, d: dict) -> bool:
        """Whether decisions ``d`` look worth measuring before any is measured: random
        samples that fail this are mostly redrawn (every value stays in the space)."""
        return True


class InjectiveRule(StageRule):
    """An element-wise or injective stage kept in memory: the last axis split for SIMD
    lanes, the outer loops fused and run in parallel."""

    kind = "injective"

    def domains(self):
        if not self.spatial:
            return {}
        n = len(self.spatial)
        return {"tile": Tile(self.spatial[-1], 1, vector=True, max_inner=64),
                "fuse": Choice(range(n + 1), weights=[1] + [2] * n),
                "vec": BOOL, "unroll": UNROLL}

    def max_points(self):
        return len(self.spatial)

    def loops(self, s, d, ctx, attached):
        st = s.stage_by_name(self.name)
        if not self.spatial:
            return []
        axes = list(st.op.axis)
        outer, inner = st.split(axes[-1], factor=d["tile"][0])
        if d["vec"]:
            st.vectorize(inner)
        loops = axes[:-1] + [outer]
        count = 0 if attached else d["fuse"]
        fused = fuse_parallel(st, loops, count)
        annotate_unroll(st, d["unroll"])
        points = ([fused] if fused is not None else []) + loops[count:]
        return [(st, iv) for iv in points]


_RFACTOR_MODES = ("none", "vec8", "vec16", "vec32", "vec64", "par2", "par4", "par8", "par16")


class ReductionRule(StageRule):
    """A reduction without data reuse (row max/sum, pooling, norms): spatial axes split
    in two, the reduction either inside the spatial tile or outside it (so the inner
    spatial loop can be vectorized), parallel outer loops; ``rfactor`` where the spatial
    work is small and the reduction long."""

    kind = "reduction"

    def rfactor_eligible(self) -> bool:
        first = self.op.body[0]
        return self.op.num_outputs == 1 and not first.init and math.prod(self.reduce) >= 32

    def domains(self):
        n = len(self.spatial)
        doms = {}
        for key, extent, last in zip(_axis_keys("tile", self.op.axis), self.spatial,
                                     [False] * (n - 1) + [True]):
            doms[key] = Tile(extent, 1, vector=last, max_inner=64)
        orders = ("reduce_inner", "spatial_inner")
        if self.op.num_outputs == 1 and n:
            # a few rows of vectors accumulated in registers (a local cache_write) over
            # the whole reduction: pooling windows, short reductions of long rows
            orders += ("spatial_inner_local",)
            doms["local.lanes"] = Choice(tuple(k * VECTOR_LANES // 2 for k in (1, 2, 4)))
            if n > 1:
                doms["local.rows"] = Choice((1, 2, 4))
        doms.update({"order": Choice(orders),
                     "fuse": Choice(range(n + 1), weights=[1] + [2] * n),
                     "vec": BOOL, "unroll": UNROLL})
        if self.rfactor_eligible():
            # Factoring pays most where there is little spatial work to spread (a sum
            # over a long vector); elsewhere it vectorizes a contiguous reduction.
            # Vector partials (contiguous lanes of a row) are the usual win; thread
            # shares only where there are few rows to run in parallel.
            little = math.prod(self.spatial) <= 64
            doms["rfactor"] = Choice(_RFACTOR_MODES, weights=[2 if little else 4] +
                                     [2] * 4 + [2 if little else 1] * 4)
            if n:
                # the partial results of one output point computed at that point
                doms["rfactor_at"] = BOOL
        return doms

    def max_points(self):
        n, m = len(self.spatial), len(self.reduce)
        return max(2 * n + m - 1, n + 1, 1)

    def structural(self, s, d, ctx):
        mode = d.get("rfactor", "none")
        if mode == "none":
            if d["order"] == "spatial_inner_local":
                st = s.stage_by_name(self.name)
                ctx[self.name, "cache"] = s.cache_write(st.op.output(0), "local")
            return
        st = s.stage_by_name(self.name)
        reduce_axes = list(st.op.reduce_axis)
        k = st.fuse(*reduce_axes) if len(reduce_axes) > 1 else reduce_axes[0]
        if mode.startswith("vec"):
            _, ki = st.split(k, factor=int(mode[3:]))
            ctx[self.name, "rf"] = s.rfactor(st.op.output(0), ki)
        else:
            ko, _ = st.split(k, nparts=int(mode[3:]))
            ctx[self.name, "rf"] = s.rfactor(st.op.output(0), ko)

    def loops(self, s, d, ctx, attached):
        mode = d.get("rfactor", "none")
        if mode != "none":
            return self._factored(s, d, ctx, mode, attached)
        st = s.stage_by_name(self.name)
        if d["order"] == "spatial_inner_local":
            return self._accumulated(s, st, d, ctx, attached)
        outers, inners = [], []
        for iv, key in zip(list(st.op.axis), _axis_keys("tile", self.op.axis)):
            o, i = st.split(iv, factor=d[key][0])
            outers.append(o)
            inners.append(i)
        reduce_axes = list(st.op.reduce_axis)
        if d["order"] == "spatial_inner":
            st.reorder(*outers, *reduce_axes, *inners)
            if d["vec"] and inners:
                st.vectorize(inners[-1])
        else:
            st.reorder(*outers, *inners, *reduce_axes)
        count = 0 if attached else d["fuse"]
        fuse_parallel(st, outers, count)
        annotate_unroll(st, d["unroll"])
        return [(st, iv) for iv in st.leaf_iter_vars[:-1]]

    def _accumulated(self, s, st, d, ctx, attached):
        """``local.rows`` x ``local.lanes`` outputs accumulated in registers over the whole
        reduction (outside the tile's loops), the lanes vectorized; the lanes need not
        divide the row (loop partitioning peels the tail)."""
        acc = s[ctx[self.name, "cache"]]
        axes = list(st.op.axis)
        factors = [1] * len(axes)
        factors[-1] = d["local.lanes"]
        if len(axes) > 1:
            factors[-2] = d["local.rows"]
        outers, inners = [], []
        for iv, factor in zip(axes, factors):
            o, i = st.split(iv, factor=factor)
            outers.append(o)
            inners.append(i)
        st.reorder(*outers, *inners)
        if d["vec"]:
            st.vectorize(inners[-1])
        count = 0 if attached else d["fuse"]
        fused = fuse_parallel(st, outers, count)
        points = ([fused] if fused is not None else []) + outers[count:]
        acc.compute_at(st, points[-1])
        axes, reduce_axes = list(acc.op.axis), list(acc.op.reduce_axis)
        acc.reorder(*reduce_axes, *axes)
        if d["vec"]:
            acc.vectorize(axes[-1])
        if len(axes) > 1:
            acc.unroll(axes[-2])
        annotate_unroll(acc, d["unroll"])
        return [(st, iv) for iv in points]

    def _factored(self, s, d, ctx, mode, attached):
        st = s.stage_by_name(self.name)
        rf = s[ctx[self.name, "rf"]]
        factored, spatial = rf.op.axis[0], list(rf.op.axis[1:])
        reduce_axes = list(rf.op.reduce_axis)
        if mode.startswith("vec"):
            rf.reorder(*spatial, *reduce_axes, factored)
            rf.vectorize(factored)
            # a stage computed inside its reader's loops computes its partials there too
            if spatial and (d.get("rfactor_at") or attached):
                # partials of each output point at that point; the points in parallel
                count = 0 if attached else d["fuse"]
                fuse_parallel(st, list(st.op.axis), count)
                loops = [iv for iv in st.leaf_iter_vars if iv.iter_type != E.REDUCE]
                rf.compute_at(st, loops[-1])
            elif spatial and d["fuse"]:
                rf.parallel(spatial[0])
        else:
            rf.reorder(factored, *spatial, *reduce_axes)
            rf.parallel(factored)
        annotate_unroll(rf, d["unroll"])
        return [(rf, iv) for iv in rf.leaf_iter_vars[:-1]]


class TiledReductionRule(StageRule):
    """A reduction with data reuse (matmul, convolution): multi-level tiling SSRSRS of
    the spatial loops (four levels) and reduction loops (two levels), optionally through a
    ``cache_write`` accumulator computed at the tile, fused parallel outer loops, the
    innermost spatial loop vectorized, an unroll depth, and packing of reused operands:
    ``cache_read(B, "global", [C])`` computed at an outer loop so that each panel of B is
    copied contiguously once and reused by the inner tiles."""

    kind = "tiled"

    def __init__(self, name, op, shape_vars):
        super().__init__(name, op, shape_vars)
        from ..te.graph import PlaceholderOp
        self.packable = [t for t in reused_inputs(op) if isinstance(t.op, PlaceholderOp)]

    def domains(self):
        n = len(self.spatial)
        doms = {"cache": Choice(("none", "local", "global"))}
        for key, extent, last in zip(_axis_keys("tile", self.op.axis), self.spatial,
                                     [False] * (n - 1) + [True]):
            doms[key] = Tile(extent, 3, vector=last, max_inner=64, lane_fill=True)
        for key, extent in zip(_axis_keys("tile", self.op.reduce_axis), self.reduce):
            doms[key] = Tile(extent, 1, max_inner=64)
        doms["fuse"] = Choice(range(2 * n + 1), weights=[1] + [2] * (2 * n))
        doms["vec"] = Choice((True, False), weights=(3, 1))
        doms["unroll"] = UNROLL
        for t in self.packable:
            doms[f"pack.{t.name}"] = Choice(range(-1, 2 * n), weights=[n] + [1] * (2 * n))
        return doms

    def max_points(self):
        n, m = len(self.spatial), len(self.reduce)
        return 3 * n + 2 * m

    def register_tile(self, d) -> int:
        """SIMD registers the innermost tile's accumulators take: the product of the
        innermost spatial factors, the last one in vectors."""
        inner = [tile[-1] for tile in self._tiles(d)[0]]
        return math.prod(inner[:-1]) * -(-inner[-1] // VECTOR_LANES)

    def plausible(self, d):
        return self.register_tile(d) <= REGISTER_TILE

    def structural(self, s, d, ctx):
        st = s.stage_by_name(self.name)
        if d["cache"] != "none":
            ctx[self.name, "cache"] = s.cache_write(st.op.output(0), d["cache"])
            return
        for t in self.packable:
            if d[f"pack.{t.name}"] >= 0:
                ctx[self.name, "pack", t.name] = s.cache_read(t, "global", [st])

    def _tiles(self, d):
        spatial = [d[k] for k in _axis_keys("tile", self.op.axis)]
        reduce = [d[k][0] for k in _axis_keys("tile", self.op.reduce_axis)]
        return spatial, reduce

    def loops(self, s, d, ctx, attached):
        st = s.stage_by_name(self.name)
        spatial, reduce = self._tiles(d)
        count = 0 if attached else d["fuse"]
        if d["cache"] == "none":
            return self._direct(s, st, d, ctx, spatial, reduce, count)
        return self._cached(s, st, d, ctx, spatial, reduce, count)

    def _split_reduce(self, st, reduce):
        r0s, r1s = [], []
        for iv, factor in zip(list(st.op.reduce_axis), reduce):
            r0, r1 = st.split(iv, factor=factor)
            r0s.append(r0)
            r1s.append(r1)
        return r0s, r1s

    def _direct(self, s, st, d, ctx, spatial, reduce, count):
        levels = [[], [], [], []]
        for iv, (f1, f2, f3) in zip(list(st.op.axis), spatial):
            a0, rest = st.split(iv, factor=f1 * f2 * f3)
            a1, rest = st.split(rest, factor=f2 * f3)
            a2, a3 = st.split(rest, factor=f3)
            for level, loop in zip(levels, (a0, a1, a2, a3)):
                level.append(loop)
        r0s, r1s = self._split_reduce(st, reduce)
        a0s, a1s, a2s, a3s = levels
        st.reorder(*a0s, *a1s, *r0s, *a2s, *r1s, *a3s)
        if d["vec"]:
            st.vectorize(a3s[-1])
        outer = a0s + a1s
        fused = fuse_parallel(st, outer, count)
        outer = ([fused] if fused is not None else []) + outer[count:]
        for t in self.packable:
            packed = ctx.get((self.name, "pack", t.name))
            if packed is None:
                continue
            pack = s[packed]
            pack.compute_at(st, outer[min(d[f"pack.{t.name}"], len(outer) - 1)])
            if pack.op.axis:
                vectorize_split(pack, pack.op.axis[-1], VECTOR_LANES)
        annotate_unroll(st, d["unroll"])
        return [(st, iv) for iv in outer + r0s + a2s + r1s]

    def _cached(self, s, st, d, ctx, spatial, reduce, count):
        acc = s[ctx[self.name, "cache"]]
        a0s, a1s, inner = [], [], []
        for iv, (f1, f2, f3) in zip(list(st.op.axis), spatial):
            a0, rest = st.split(iv, factor=f1 * f2 * f3)
            a1, rest = st.split(rest, factor=f2 * f3)
            a0s.append(a0)
            a1s.append(a1)
            inner.append(rest)
        st.reorder(*a0s, *a1s, *inner)
        if d["vec"]:
            f2, f3 = spatial[-1][1:]
            if f2 * f3 <= 4 * VECTOR_LANES:
                st.vectorize(inner[-1])
            else:
                vectorize_split(st, inner[-1], VECTOR_LANES)
        outer = a0s + a1s
        fused = fuse_parallel(st, outer, count)
        outer = ([fused] if fused is not None else []) + outer[count:]
        acc.compute_at(st, outer[-1])
        a2s, a3s = [], []
        for iv, (_, _, f3) in zip(list(acc.op.axis), spatial):
            a2, a3 = acc.split(iv, factor=f3)
            a2s.append(a2)
            a3s.append(a3)
        r0s, r1s = self._split_reduce(acc, reduce)
        acc.reorder(*r0s, *a2s, *r1s, *a3s)
        if d["vec"]:
            acc.vectorize(a3s[-1])
        annotate_unroll(acc, d["unroll"])
        return [(acc, iv) for iv in r0s + a2s + r1s]
