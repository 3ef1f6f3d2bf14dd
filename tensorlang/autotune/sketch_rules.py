"""Per-stage schedule rules of the CPU sketch space.

A *rule* schedules one stage of a workload from its decisions, each drawn from a domain
of :mod:`.sketch_domains`.  Rules are written so that every value of their domains gives a
valid schedule: splits take any positive factor (a split that does not divide is
guarded), vectorized loops are split-inner loops of constant extent, only stages computed
at the root run in parallel, and a producer is computed at a loop of the stage that reads
it directly.  :mod:`tensorlang.autotune.sketch` puts the rules together into a space.
"""
from __future__ import annotations

import math

from ..te.graph import PlaceholderOp
from ..tir.analysis import free_vars
from .sketch_common import (UNROLL_STEPS, fuse_all, known_extent, producer_loads,
                            reused_inputs, unroll_pragma)
from .sketch_domains import LANE_FILL, Choice, Simd, Tile


# ---------------------------------------------------------------------------------------
# schedule helpers
def const_extent(iv, shape_vars) -> int:
    """The extent of ``iv`` as an int (symbolic dims looked up in ``shape_vars``; 1 when
    unknown, which only makes the space smaller)."""
    extent = known_extent(iv, shape_vars)
    return 1 if extent is None else extent


def first_long_leaf(stage):
    """The outermost leaf with a known extent above one (lowering drops loops of extent
    one, and a pragma on them with it), or None."""
    for iv in stage.leaf_iter_vars:
        extent = stage.static_extent(iv)
        if extent is not None and extent > 1:
            return iv
    return None


def annotate_unroll(stage, step: int) -> None:
    """Unroll pragma of ``step`` steps on the outermost loop that lowering keeps."""
    if step:
        unroll_pragma(stage, first_long_leaf(stage), step)


def fuse_parallel(stage, loops: list, count: int, threads: int):
    """Fuse the first ``count`` of ``loops`` (adjacent leaves, outer first) and run the
    result in parallel; returns ``(fused loop or None, the loops left unfused)``.

    A parallel loop needs work for every thread: while the fused loops run fewer than
    ``threads`` iterations (a batch of one, an outer tile of one), the next loop joins
    them, and a loop of a single iteration is never run in parallel (lowering drops it,
    and the stage would run on one core).  ``count`` 0 keeps the loops serial."""
    count = min(count, len(loops))
    if count <= 0:
        return None, list(loops)
    extents = [stage.static_extent(iv) for iv in loops]

    def iterations(n):
        known = extents[:n]
        return None if None in known else math.prod(known)

    while count < len(loops) and (iterations(count) or threads) < threads:
        count += 1
    if iterations(count) == 1:
        return None, list(loops)
    fused = fuse_all(stage, loops[:count])
    stage.parallel(fused)
    return fused, list(loops[count:])


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
    may be computed (of the stage that reads them directly), outer first.  ``simd`` is
    the target's SIMD unit (:class:`~.sketch_domains.Simd`): vector widths and register
    tiles are sized for it."""

    def __init__(self, name: str, op, shape_vars, threads: int = 1, simd: Simd = Simd()):
        self.name = name
        self.op = op
        self.threads = threads
        self.simd = simd
        self.lanes = simd.lanes
        self.spatial = [const_extent(iv, shape_vars) for iv in op.axis]
        self.reduce = [const_extent(iv, shape_vars) for iv in op.own_reduce_axis]

    def domains(self) -> dict:
        return {}

    def seeds(self) -> list[dict]:
        """Decisions (of this stage) of schedules worth measuring first, an expert's
        starting points that the search then varies; none by default."""
        return []

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
        return {"tile": Tile(self.spatial[-1], 1, vector=True, max_inner=64,
                             lanes=self.lanes),
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
        fused, rest = fuse_parallel(st, loops, count, self.threads)
        annotate_unroll(st, d["unroll"])
        points = ([fused] if fused is not None else []) + rest
        return [(st, iv) for iv in points]


_RFACTOR_MODES = ("none", "vec8", "vec16", "vec32", "vec64", "par2", "par4", "par8", "par16")
_RFACTOR_ROWS = (1, 2, 4, 8)


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
            doms[key] = Tile(extent, 1, vector=last, max_inner=64, lanes=self.lanes)
        orders = ("reduce_inner", "spatial_inner")
        if self.op.num_outputs == 1 and n:
            # a few rows of vectors accumulated in registers (a local cache_write) over
            # the whole reduction: pooling windows, short reductions of long rows
            orders += ("spatial_inner_local",)
            doms["local.lanes"] = Choice(tuple(k * self.lanes // 2 for k in (1, 2, 4)))
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
                # the partial results of a few output points (rows of the last axis)
                # computed at them, the rows inside the reduction: several rows stream
                # at once and share each vector of a reused operand (a matrix-vector
                # product's x)
                doms["rfactor_at"] = BOOL
                doms["rfactor_rows"] = Choice(_RFACTOR_ROWS)
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
        reduce_axes = list(st.op.own_reduce_axis)
        k = fuse_all(st, reduce_axes)
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
        reduce_axes = list(st.op.own_reduce_axis)
        if d["order"] == "spatial_inner":
            st.reorder(*outers, *reduce_axes, *inners)
            if d["vec"] and inners:
                st.vectorize(inners[-1])
        else:
            st.reorder(*outers, *inners, *reduce_axes)
        count = 0 if attached else d["fuse"]
        fuse_parallel(st, outers, count, self.threads)
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
        fused, rest = fuse_parallel(st, outers, count, self.threads)
        points = ([fused] if fused is not None else []) + rest
        acc.compute_at(st, points[-1])
        axes, reduce_axes = list(acc.op.axis), list(acc.op.own_reduce_axis)
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
        reduce_axes = list(rf.op.own_reduce_axis)
        if mode.startswith("vec"):
            rf.vectorize(factored)
            # a stage computed inside its reader's loops computes its partials there too
            if spatial and (d.get("rfactor_at") or attached):
                self._factored_at(st, rf, d, attached, int(mode[3:]))
            else:
                rf.reorder(*spatial, *reduce_axes, factored)
                if spatial and d["fuse"]:
                    fuse_parallel(rf, spatial, 1, self.threads)
        else:
            rf.reorder(factored, *spatial, *reduce_axes)
            fuse_parallel(rf, [factored] + spatial, 1, self.threads)
        annotate_unroll(rf, d["unroll"])
        return [(rf, iv) for iv in rf.leaf_iter_vars[:-1]]


    def _factored_at(self, st, rf, d, attached, lanes):
        """The vector partials of ``rfactor_rows`` output points (of the last axis)
        computed at them, those rows inside the reduction (unrolled where their
        accumulators fit in registers); the outer loops fused and run in parallel."""
        axes = list(st.op.axis)
        rows = d.get("rfactor_rows", 1)
        outer, inner = st.split(axes[-1], factor=rows)
        count = 0 if attached else d["fuse"]
        fused, rest = fuse_parallel(st, axes[:-1] + [outer], count, self.threads)
        points = ([fused] if fused is not None else []) + rest
        rf.compute_at(st, points[-1])
        factored, spatial = rf.op.axis[0], list(rf.op.axis[1:])
        rf.reorder(*rf.op.own_reduce_axis, *spatial, factored)
        if rows > 1 and rows * -(-lanes // self.lanes) <= self.simd.accumulators:
            rf.unroll(spatial[-1])


class TiledReductionRule(StageRule):
    """A reduction with data reuse (matmul, convolution): multi-level tiling SSRSRS of
    the spatial loops (four levels) and reduction loops (two levels), optionally through a
    ``cache_write`` accumulator computed at the tile, fused parallel outer loops, the
    innermost spatial loop vectorized, an unroll depth, and packing of reused operands:
    ``cache_read(B, "global", [C])`` computed at an outer loop so that each panel of B is
    copied contiguously once and reused by the inner tiles."""

    kind = "tiled"

    def __init__(self, name, op, shape_vars, threads: int = 1, simd: Simd = Simd()):
        super().__init__(name, op, shape_vars, threads, simd)
        self.packable = [t for t in reused_inputs(op) if isinstance(t.op, PlaceholderOp)]

    def domains(self):
        n = len(self.spatial)
        doms = {"cache": Choice(("none", "local", "global"))}
        for key, extent, last in zip(_axis_keys("tile", self.op.axis), self.spatial,
                                     [False] * (n - 1) + [True]):
            doms[key] = Tile(extent, 3, vector=last, max_inner=64, lane_fill=True,
                             lanes=self.lanes, masked=self.simd.masked)
        for key, extent in zip(_axis_keys("tile", self.op.own_reduce_axis), self.reduce):
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
        return math.prod(inner[:-1]) * -(-inner[-1] // self.lanes)

    def plausible(self, d):
        return self.register_tile(d) <= self.simd.accumulators

    def _rows_axis(self) -> int | None:
        """The spatial axis (not the last) whose tile rows share each vector of the
        operand the last axis streams: the longest one that operand does not index (a
        matmul's ``i``, a convolution's output channels), else the one before the last."""
        n = len(self.spatial)
        if n < 2:
            return None
        last = self.op.axis[-1].var
        streamed = set()
        for load in producer_loads(self.op):
            used = set(free_vars(tuple(load.indices)))
            if last in used:
                streamed |= used
        free = [k for k in range(n - 1)
                if self.op.axis[k].var not in streamed and self.spatial[k] > 1]
        if not free:
            return n - 2
        return max(free, key=lambda k: (self.spatial[k], k))

    def seeds(self) -> list[dict]:
        """Decisions of register-blocked, packed micro-kernels (``simd.micro_kernels``):
        a ``rows x vectors`` accumulator tile in a local write cache over the innermost
        reduction loops, the panels of the last axis (all rows of each) run in
        parallel, the operand the last axis streams packed, once per panel (and a
        variant without packing).  Tuning measures them first and searches around
        them."""
        rows_axis = self._rows_axis()
        if rows_axis is None or self.spatial[-1] < self.lanes // 2:
            return []
        streamed = [t for t in self.packable if self._streams_last_axis(t)]
        out = []
        for rows, vectors in self.simd.micro_kernels:
            lanes = self._vector_factor(vectors)
            if lanes is None:
                continue
            rows = min(rows, self.spatial[rows_axis])
            # the outer tile loops fused and run in parallel (blocks of rows x panels)
            d = {"cache": "local", "fuse": len(self.spatial), "vec": True}
            for k, key in enumerate(_axis_keys("tile", self.op.axis)):
                if k == len(self.spatial) - 1:
                    d[key] = (1, 1, lanes)
                elif k == rows_axis:
                    # one block of every row: each panel is packed once, then serves
                    # all rows (the parallel loop runs over panels)
                    d[key] = (-(-self.spatial[k] // rows), 1, rows)
                else:
                    d[key] = (1, 1, 1)
            reduce_keys = _axis_keys("tile", self.op.own_reduce_axis)
            for k, (key, extent) in enumerate(zip(reduce_keys, self.reduce)):
                # the innermost reduction loops run inside the micro-kernel: short
                # windows whole, a long reduction in steps of a few
                d[key] = (min(extent, 8) if k == len(reduce_keys) - 1 or extent <= 8
                          else 1,)
            # the micro-kernel unrolled whole (its rows and inner reduction steps), so
            # that its accumulators stay in registers
            steps = rows * math.prod(d[key][0] for key in reduce_keys)
            d["unroll"] = min([u for u in UNROLL_STEPS if u >= steps] or [max(UNROLL_STEPS)])
            for pack in (True, False) if streamed else (False,):
                variant = dict(d)
                for t in self.packable:
                    variant[f"pack.{t.name}"] = 0 if pack and t in streamed else -1
                out.append(variant)
        return out

    def _streams_last_axis(self, tensor) -> bool:
        last = self.op.axis[-1].var
        return any(load.producer is tensor and last in set(free_vars(tuple(load.indices)))
                   for load in producer_loads(self.op))

    def _vector_factor(self, vectors: int) -> int | None:
        """The innermost factor of the last axis that takes ``vectors`` SIMD registers
        and keeps the most lanes busy over the whole axis, counting a divisor (whose
        vector loop needs no bounds test) as filling all it fills up to ``LANE_FILL``
        of them; whole vectors only where a vector of fewer lanes is not cheap (not
        ``simd.masked``); None where none keeps more than half of them busy."""
        extent, lanes = self.spatial[-1], self.lanes
        best, best_key = None, None
        for f in range((vectors - 1) * lanes + 1, min(extent, vectors * lanes) + 1):
            if f % lanes and not self.simd.masked:
                continue
            fill = extent / (-(-extent // f) * vectors * lanes)
            key = (min(fill, LANE_FILL), extent % f == 0, fill, f)
            if fill > 0.5 and (best_key is None or key > best_key):
                best, best_key = f, key
        return best

    def structural(self, s, d, ctx):
        st = s.stage_by_name(self.name)
        reader = st
        if d["cache"] != "none":
            ctx[self.name, "cache"] = s.cache_write(st.op.output(0), d["cache"])
            reader = s[ctx[self.name, "cache"]]
        # packing reads the operand for the stage that computes the products: the
        # accumulator where there is one (a packed panel feeding a register-blocked
        # micro-kernel, OpenBLAS's structure)
        for t in self.packable:
            if d[f"pack.{t.name}"] >= 0:
                ctx[self.name, "pack", t.name] = s.cache_read(t, "global", [reader],
                                                              axes=self._pack_axes(t))

    def _pack_axes(self, tensor):
        """The order of ``tensor``'s dimensions in its packed copy: the one the last
        spatial axis indexes moved last where another dimension is last (``K[b, j, k]``
        of ``Q K^T`` packed as ``[b, k, j]``, so that the vectors along ``j`` are
        contiguous), else None (the tensor's own order)."""
        last = self.op.axis[-1].var
        dims = set()
        for load in producer_loads(self.op):
            if load.producer is tensor:
                dims |= {k for k, index in enumerate(load.indices)
                         if last in set(free_vars((index,)))}
        ndim = len(tensor.shape)
        if len(dims) != 1 or ndim - 1 in dims:
            return None
        (dim,) = dims
        return tuple(k for k in range(ndim) if k != dim) + (dim,)

    def _compute_packs(self, s, st, d, ctx, outer) -> None:
        """Each packed operand computed at the loop of ``outer`` its decision names (the
        innermost where it names a deeper one), its last axis vectorized."""
        for t in self.packable:
            packed = ctx.get((self.name, "pack", t.name))
            if packed is None:
                continue
            pack = s[packed]
            pack.compute_at(st, outer[min(d[f"pack.{t.name}"], len(outer) - 1)])
            if pack.op.axis:
                vectorize_split(pack, pack.op.axis[-1], self.lanes)

    def _tiles(self, d):
        spatial = [d[k] for k in _axis_keys("tile", self.op.axis)]
        reduce = [d[k][0] for k in _axis_keys("tile", self.op.own_reduce_axis)]
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
        for iv, factor in zip(list(st.op.own_reduce_axis), reduce):
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
        fused, rest = fuse_parallel(st, outer, count, self.threads)
        outer = ([fused] if fused is not None else []) + rest
        self._compute_packs(s, st, d, ctx, outer)
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
            if f2 * f3 <= 4 * self.lanes:
                st.vectorize(inner[-1])
            else:
                vectorize_split(st, inner[-1], self.lanes)
        outer = a0s + a1s
        fused, rest = fuse_parallel(st, outer, count, self.threads)
        outer = ([fused] if fused is not None else []) + rest
        self._compute_packs(s, st, d, ctx, outer)
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
