"""Per-stage schedule rules of the GPU sketch space (:mod:`.sketch_gpu`), each valid by
construction for the device limits below.

A rule draws the decisions of one stage (``sample``), says whether decisions respect the
limits (``valid``), and schedules the stage from them: ``structural`` (inline,
cache_write, cache_read, rfactor) for every stage first, then ``loops`` (splits, thread
bindings, attachments, unrolling).  The rules:

``inline``
    an injective stage read by another stage is inlined into its readers;
``tiling``
    a reduction with data reuse (matmul, convolution: some input is read without some
    spatial axis) gets the multi-level tiling ``SSSRRSRS``.  A local cache
    (``cache_write(..., "local")``) accumulates each thread's register tile; every
    spatial axis is split into block / virtual-thread / thread / two inner levels, every
    reduction axis into three levels; the block levels are fused and bound to
    ``blockIdx.x``, the virtual-thread levels to ``vthread``, the thread levels to
    ``threadIdx.x``; the local stage runs ``R R S R S`` under the thread loop, and each
    input is staged in shared memory at the outer reduction level, fetched cooperatively
    by all threads of the block (vectorized where the tile allows), with the innermost
    loops unrolled;
``reduction``
    a reduction without reuse (row sums, norms) either reduces across the threads of a
    block (``rfactor`` with the final reduction bound to ``threadIdx.x``, several rows per
    block on ``threadIdx.y``) or gives each thread whole outputs;
``elementwise``
    any other stage: all axes fused, split over blocks, threads and vector lanes.
"""
from __future__ import annotations

import math

from ..errors import TuneError
from ..te.declare import thread_axis
from ..tir import expr as E
from ..tir.arith.const_int_bound import BoundEvaluator, ConstIntBound
from .sketch_common import (UNROLL_STEPS, distinct_producers, fuse_all, known_extent,
                            producer_loads, reused_inputs, unroll_pragma)

#: threads of one block (every CUDA device since compute capability 2.0)
MAX_THREADS = 1024
#: shared memory of one block without opting in to more
MAX_SHARED_BYTES = 48 * 1024
#: elements of the register tile (local cache) of one thread
MAX_LOCAL_TILE = 64
#: virtual threads of one block (each multiplies the code of the thread loop)
MAX_VTHREADS = 8
#: draws of a stage's decisions before settling for the minimal ones
SAMPLE_TRIES = 64


# ---------------------------------------------------------------------------------------
# analysis of the compute definition


def has_reuse(op) -> bool:
    """Whether some input is read without some spatial axis (each of its elements serves
    several outputs), the case multi-level tiling pays off for."""
    return bool(reused_inputs(op))


def _extent(iv, shape_vars) -> int:
    extent = known_extent(iv, shape_vars)
    if extent is not None:
        return extent
    raise TuneError(f"the GPU search space needs concrete shapes: give the size of "
                    f"'{iv.dom.extent}' (axis '{iv.var.name}') in shape_vars={{...}}")


def _powers_of_two(limit: int) -> list[int]:
    return [1 << k for k in range(max(1, limit).bit_length())] or [1]


def _ceil_pow2(n: int) -> int:
    return 1 << max(0, (max(1, n) - 1).bit_length())


# ---------------------------------------------------------------------------------------
# rules


class GpuStageRule:
    """Decisions and scheduling of one stage; ``decisions`` maps names to values."""

    kind = ""

    def __init__(self, name: str, op, shape_vars):
        self.name = name
        self.op = op
        self.spatial = [_extent(iv, shape_vars) for iv in op.axis]
        self.reduce = [_extent(iv, shape_vars) for iv in op.own_reduce_axis]

    def sample(self, rng) -> dict:
        return {}

    def valid(self, d: dict) -> bool:
        """Whether the decisions ``d`` respect the device limits."""
        return True

    def structural(self, s, d: dict, ctx: dict) -> None:
        """Dataflow changes (inline, cache_write, cache_read, rfactor): run for every
        stage before any loop changes."""

    def loops(self, s, d: dict, ctx: dict) -> None:
        """Splits, binds, attachments and annotations."""


class GpuInlineRule(GpuStageRule):
    kind = "inline"

    def structural(self, s, d, ctx):
        s.stage_by_name(self.name).compute_inline()


class GpuElementwiseRule(GpuStageRule):
    kind = "elementwise"

    def total(self) -> int:
        return math.prod(self.spatial) if self.spatial else 1

    def sample(self, rng):
        total = self.total()
        lanes = [v for v in (1, 2, 4) if total % v == 0 and v <= total]
        vector = int(rng.choice(lanes))
        threads = [t for t in _powers_of_two(MAX_THREADS) if t * vector <= _ceil_pow2(total)]
        big = [t for t in threads if t >= 32]
        pool = big if big and rng.random() < 0.9 else threads
        return {"threads": int(rng.choice(pool)), "vector": vector,
                "unroll": int(rng.choice(UNROLL_STEPS))}

    def valid(self, d):
        return self.total() % d["vector"] == 0 and d["threads"] <= MAX_THREADS

    def loops(self, s, d, ctx):
        st = s.stage_by_name(self.name)
        axes = list(st.op.axis)
        if not axes:
            return
        fused = fuse_all(st, axes)
        outer, inner = st.split(fused, factor=d["threads"] * d["vector"])
        st.bind(outer, thread_axis("blockIdx.x"))
        if d["vector"] > 1:
            thread, lanes = st.split(inner, factor=d["vector"])
            st.vectorize(lanes)
        else:
            thread = inner
        st.bind(thread, thread_axis("threadIdx.x"))


class GpuReductionRule(GpuStageRule):
    """Cross-thread reduction (rfactor, final reduction on threadIdx.x, rows on
    threadIdx.y) or one thread per output."""

    kind = "reduction"

    def cross_thread_possible(self) -> bool:
        first = self.op.body[0]
        return self.op.num_outputs == 1 and not first.init and bool(self.reduce) \
            and bool(self.spatial)

    def sample(self, rng):
        rows = math.prod(self.spatial) if self.spatial else 1
        length = math.prod(self.reduce)
        mode = "per_thread"
        if self.cross_thread_possible() and (length >= 32 or rng.random() < 0.5):
            mode = "cross_thread" if rng.random() < 0.8 else "per_thread"
        unroll = int(rng.choice(UNROLL_STEPS))
        if mode == "cross_thread":
            options = [t for t in _powers_of_two(MAX_THREADS) if 2 <= t <= _ceil_pow2(length)]
            threads = int(rng.choice(options or [2]))
            row_options = [r for r in _powers_of_two(MAX_THREADS // threads)
                           if r <= _ceil_pow2(rows)]
            return {"mode": mode, "threads": threads, "rows": int(rng.choice(row_options)),
                    "unroll": unroll}
        options = [t for t in _powers_of_two(MAX_THREADS) if t <= _ceil_pow2(rows)]
        return {"mode": mode, "threads": int(rng.choice(options)), "rows": 1,
                "unroll": unroll}

    def valid(self, d):
        if d["mode"] == "cross_thread":
            return self.cross_thread_possible() and d["threads"] * d["rows"] <= MAX_THREADS
        return d["mode"] == "per_thread" and d["rows"] == 1 and d["threads"] <= MAX_THREADS

    def structural(self, s, d, ctx):
        if d["mode"] != "cross_thread":
            return
        st = s.stage_by_name(self.name)
        reduce_axes = list(st.op.own_reduce_axis)
        k = fuse_all(st, reduce_axes)
        _, inner = st.split(k, factor=d["threads"])
        ctx[self.name, "rf"] = s.rfactor(st.op.output(0), inner)

    def loops(self, s, d, ctx):
        st = s.stage_by_name(self.name)
        axes = list(st.op.axis)
        row = fuse_all(st, axes)
        if d["mode"] != "cross_thread":
            outer, inner = st.split(row, factor=d["threads"])
            st.bind(outer, thread_axis("blockIdx.x"))
            st.bind(inner, thread_axis("threadIdx.x"))
            unroll_pragma(st, st.op.own_reduce_axis[0] if st.op.own_reduce_axis else None,
                           d["unroll"])
            return
        factored = s[ctx[self.name, "rf"]]
        tx = st.op.own_reduce_axis[0]
        if d["rows"] > 1:
            outer, inner = st.split(row, factor=d["rows"])
            st.bind(outer, thread_axis("blockIdx.x"))
            st.bind(inner, thread_axis("threadIdx.y"))
        else:
            st.bind(row, thread_axis("blockIdx.x"))
        st.bind(tx, thread_axis("threadIdx.x"))
        factored.compute_at(st, tx)
        factored.set_scope("local")
        unroll_pragma(factored, factored.op.own_reduce_axis[0], d["unroll"])


class GpuTilingRule(GpuStageRule):
    """Multi-level tiling ``SSSRRSRS`` with shared-memory staging (see the module)."""

    kind = "tiling"

    def __init__(self, name, op, shape_vars):
        super().__init__(name, op, shape_vars)
        self.inputs = distinct_producers(op)

    # -- the device limits -------------------------------------------------------------
    def block_extents(self, d) -> tuple[list[int], list[int]]:
        spatial = [math.prod(d[f"tile.{k}"]) for k in range(len(self.spatial))]
        reduce = [math.prod(d[f"reduce.{k}"]) for k in range(len(self.reduce))]
        return spatial, reduce

    def shared_bytes(self, d) -> int:
        """An upper bound of the shared memory one block uses: the bounding box of each
        input's reads over one block tile and one step of the outer reduction loops."""
        spatial, reduce = self.block_extents(d)
        ranges = {}
        for iv, extent in zip(self.op.axis, spatial):
            ranges[iv.var] = ConstIntBound(0, extent - 1)
        for iv, extent in zip(self.op.own_reduce_axis, reduce):
            ranges[iv.var] = ConstIntBound(0, extent - 1)
        bound = BoundEvaluator(ranges)
        total = 0
        for tensor in self.inputs:
            box = None
            for load in producer_loads(self.op):
                if load.producer is not tensor:
                    continue
                dims = [bound(index) for index in load.indices]
                box = dims if box is None else [
                    ConstIntBound(min(a.min_value, b.min_value), max(a.max_value, b.max_value))
                    for a, b in zip(box, dims)]
            elements = 1
            for dim, size in zip(box or [], tensor.shape):
                span = dim.max_value - dim.min_value + 1
                if not math.isfinite(span):  # an index the evaluator cannot bound
                    span = size.value if isinstance(size, E.IntImm) else MAX_SHARED_BYTES
                elements *= span
            total += (elements * tensor.dtype.bytes + 15) // 16 * 16
        return total

    def valid(self, d) -> bool:
        for k in range(len(self.spatial)):
            if not _factors(d[f"tile.{k}"], 4):
                return False
        for k in range(len(self.reduce)):
            if not _factors(d[f"reduce.{k}"], 2):
                return False
        if d["vector"] not in (1, 2, 4):
            return False
        threads = math.prod(d[f"tile.{k}"][1] for k in range(len(self.spatial)))
        vthreads = math.prod(d[f"tile.{k}"][0] for k in range(len(self.spatial)))
        local = math.prod(d[f"tile.{k}"][2] * d[f"tile.{k}"][3]
                          for k in range(len(self.spatial)))
        return (threads <= MAX_THREADS and vthreads <= MAX_VTHREADS
                and local <= MAX_LOCAL_TILE and self.shared_bytes(d) <= MAX_SHARED_BYTES)

    # -- sampling ----------------------------------------------------------------------
    def sample(self, rng):
        for attempt in range(SAMPLE_TRIES):
            d = self._draw(rng, relaxed=attempt >= SAMPLE_TRIES // 2)
            if self.valid(d):
                return d
        return self.minimal()

    def minimal(self) -> dict:
        """One thread per block computing one output: always within every limit."""
        d = {f"tile.{k}": (1, 1, 1, 1) for k in range(len(self.spatial))}
        d.update({f"reduce.{k}": (1, 1) for k in range(len(self.reduce))})
        d.update({"vector": 1, "unroll": 0, "unroll_inner": False})
        return d

    def _draw(self, rng, relaxed: bool) -> dict:
        d = {}
        threads_left, local_left = MAX_THREADS, MAX_LOCAL_TILE
        for k, extent in enumerate(self.spatial):
            room = _ceil_pow2(extent)
            vthread = int(rng.choice([1, 1, 1, 2, 4])) if room >= 8 else 1
            room = max(1, room // vthread)
            options = _powers_of_two(min(room, threads_left))
            wide = [t for t in options if t >= 4]
            thread = int(rng.choice(wide if wide and not relaxed else options))
            room = max(1, room // thread)
            inner = _powers_of_two(min(room, local_left))
            s1 = int(rng.choice(inner))
            s2 = int(rng.choice([f for f in inner if s1 * f <= min(room, local_left)]))
            threads_left //= thread
            local_left //= s1 * s2
            d[f"tile.{k}"] = (vthread, thread, s1, s2)
        for k, extent in enumerate(self.reduce):
            options = _powers_of_two(min(_ceil_pow2(extent), 64))
            r1 = int(rng.choice(options))
            r2 = int(rng.choice([f for f in options if r1 * f <= _ceil_pow2(extent)]))
            d[f"reduce.{k}"] = (r1, r2)
        d["vector"] = int(rng.choice([1, 2, 4]))
        d["unroll"] = int(rng.choice(UNROLL_STEPS))
        d["unroll_inner"] = bool(rng.random() < 0.7)
        return d

    # -- scheduling --------------------------------------------------------------------
    def structural(self, s, d, ctx):
        st = s.stage_by_name(self.name)
        local = s.cache_write(st.op.output(0), "local")
        ctx[self.name, "local"] = local
        readers = s[local].op
        shared = []
        for tensor in distinct_producers(readers):
            shared.append(s.cache_read(tensor, "shared", [local]))
        ctx[self.name, "shared"] = shared

    def loops(self, s, d, ctx):
        st = s.stage_by_name(self.name)
        levels = []
        for k, axis in enumerate(st.op.axis):
            vthread, thread, s1, s2 = d[f"tile.{k}"]
            rest, inner = st.split(axis, factor=s1 * s2)
            rest, thread_loop = st.split(rest, factor=thread)
            block, vthread_loop = st.split(rest, factor=vthread)
            levels.append((block, vthread_loop, thread_loop, inner))
        st.reorder(*(level[0] for level in levels), *(level[1] for level in levels),
                   *(level[2] for level in levels), *(level[3] for level in levels))
        block = fuse_all(st, [level[0] for level in levels])
        vthread = fuse_all(st, [level[1] for level in levels])
        thread = fuse_all(st, [level[2] for level in levels])
        st.bind(block, thread_axis("blockIdx.x"))
        st.bind(vthread, thread_axis("vthread"))
        st.bind(thread, thread_axis("threadIdx.x"))

        local = s[ctx[self.name, "local"]]
        local.compute_at(st, thread)
        spatial_outer, spatial_inner = [], []
        for k, axis in enumerate(local.op.axis):
            outer, inner = local.split(axis, factor=d[f"tile.{k}"][3])
            spatial_outer.append(outer)
            spatial_inner.append(inner)
        r0s, r1s, r2s = [], [], []
        for k, axis in enumerate(local.op.own_reduce_axis):
            r1, r2 = d[f"reduce.{k}"]
            r0, rest = local.split(axis, factor=r1 * r2)
            r1_loop, r2_loop = local.split(rest, factor=r2)
            r0s.append(r0)
            r1s.append(r1_loop)
            r2s.append(r2_loop)
        local.reorder(*r0s, *r1s, *spatial_outer, *r2s, *spatial_inner)
        if d["unroll_inner"]:
            for loop in r2s + spatial_inner:
                local.unroll(loop)
        unroll_pragma(local, r1s[0] if r1s else None, d["unroll"])

        threads = math.prod(d[f"tile.{k}"][1] for k in range(len(self.spatial)))
        for tensor in ctx[self.name, "shared"]:
            fetch = s[tensor]
            fetch.compute_at(local, r0s[-1])
            # vector lanes split off the contiguous last axis, so that each is one
            # aligned float2/float4 access where the tile's row length allows
            *outer_axes, last = fetch.op.axis
            vector = d["vector"]
            if vector > 1:
                last, lanes = fetch.split(last, factor=vector)
            fused = fuse_all(fetch, outer_axes + [last])
            _, thread_loop = fetch.split(fused, factor=threads)
            fetch.bind(thread_loop, thread_axis("threadIdx.x"))
            if vector > 1:
                fetch.vectorize(lanes)


def _factors(value, count: int) -> bool:
    return isinstance(value, tuple) and len(value) == count and all(
        isinstance(f, int) and not isinstance(f, bool) and f >= 1 for f in value)
