"""The CPU search space derived from the compute definition (Ansor-style sketch rules).

Every computed stage of the workload gets the rule that fits it
(:mod:`tensorlang.autotune.sketch_rules`, with the domains of
:mod:`tensorlang.autotune.sketch_domains`):

* an element-wise producer that is not an output may be inlined into its readers
  (``<stage>/inline``), padding included; one that calls an expensive intrinsic (exp,
  log, tanh, ...) and feeds several stages is mostly kept in memory, since inlined each
  reader computes it again (softmax's exponentials), and so is one that divides or calls
  an intrinsic and is read again and again by a reduction with reuse (a softmax read by
  a product);
* a stage kept in memory may be computed at a loop of its most downstream reader
  (``<stage>/at``: -1 for the root, else the index of the loop, outer first) where its
  other readers run inside that loop (row-fused softmax: the row maximum at the row of
  the output); elsewhere it stays at the root.  A reduction or a costly element-wise
  stage is not computed at a loop over values it does not depend on (it would compute
  the same values at each iteration): it moves out to the loop above;
* a reduction with data reuse (matmul, convolution, batched matmul: each input element
  read at least ``MIN_TILED_READS`` times) gets multi-level
  tiling SSRSRS (``tile.<axis>``), a ``cache_write`` accumulator (``cache``), packing of
  reused inputs (``pack.<input>``, read by the accumulator where there is one), fused
  parallel outer loops (``fuse``), vectorization of the innermost spatial loop (``vec``)
  and an unroll depth (``unroll``); its seeds (:meth:`SketchSpace.seeds`) are
  register-blocked, packed micro-kernels;
* other reductions get a two-level spatial tiling, the reduction inside or outside the
  inner tile (``order``), and ``rfactor`` (``rfactor``, ``rfactor_at``,
  ``rfactor_rows``): partial results a vector of lanes wide or a thread's share, for long
  reductions (a matrix-vector product: lanes of partial sums along a few rows at once,
  the rows in parallel);
* other stages in memory get their last axis split for SIMD lanes and fused parallel
  outer loops.

A ``te.extern`` stage has no loops and gets no rule, nor does a ``te.scan`` with the
stages of its steps (its time loop stays serial, as written): both are kept as written at
the root, the stages they read are neither inlined into them nor computed at a loop of
theirs (they are computed whole, first), and the stages that read them are scheduled as
usual.

A loop run in parallel is never one without work: where the loops a ``fuse`` decision
names run fewer iterations than there are threads (a batch of one), the next loops join
them (:func:`~tensorlang.autotune.sketch_rules.fuse_parallel`).

A config names one value per decision; :meth:`SketchSpace.apply` replays the rules on a
fresh schedule, and every value of every domain yields a valid schedule.  Random samples
follow the rules' priors: most samples of a tiled reduction keep the innermost tile's
accumulators within three quarters of the target's vector registers (24 of AVX-512's 32,
12 of AVX2's 16: ``Simd.accumulators``, ``StageRule.plausible``), vectors as wide as the
target's (16 float32 lanes with AVX-512, 8 with AVX2); a share is drawn unfiltered, and
mutation reaches every value.

>>> space = sketch_space([C])
>>> config = space.sample(np.random.default_rng(0))
>>> s, args = space.apply(config)
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import TuneError
from ..schedule import create_schedule
from ..schedule.stage import INLINE, SCOPE
from ..schedule.stage_parts import Fuse, Singleton, Split
from ..te.extern import ExternOp
from ..te.graph import ComputeOp, PlaceholderOp, ScanOp, post_order_ops
from .config import Config
from ..target.llvm.runtime import num_threads
from ..tir.analysis import free_vars
from .sketch_common import (calls_expensive_intrinsic, divides_or_calls, producer_loads,
                            reads_per_input_element, reused_inputs)
from .sketch_domains import Choice, Simd
from .sketch_gpu import gpu_sketch_space
from .sketch_rules import InjectiveRule, ReductionRule, TiledReductionRule, const_extent
from .space import SearchSpace
from .workload import output_tensors, parameter_list, workload_key

#: the name of the single CPU sketch (structural variants are decisions of it)
CPU_SKETCH = "cpu"
#: below this many output points a reduction with reuse is not worth multi-level tiling
MIN_TILED_POINTS = 16
#: below this many reads of each input element (``reads_per_input_element``) a reduction
#: streams its inputs (a matrix-vector product reads each matrix element once): it gets
#: the reduction rule, whose vector rfactor accumulates lanes of a contiguous row
MIN_TILED_READS = 4


def _target_kind(target) -> str:
    kind = getattr(target, "kind", None)
    if kind is None:
        kind = str(target).split()[0] if str(target).strip() else "llvm"
    return kind


class SketchSpace(SearchSpace):
    """The space of CPU schedules of a workload, one rule per computed stage.

    Decisions are named ``<stage>/<decision>``; :attr:`domains` maps each name to its
    domain (``sample``/``mutate``/``contains``).  See the module docstring for the rules.
    """

    def __init__(self, outputs, target="llvm", shape_vars=None, params=None):
        self.outputs = output_tensors(outputs, "sketch_space", TuneError)
        self.target = target
        self.shape_vars = dict(shape_vars or {})
        #: threads of parallel loops (``TL_NUM_THREADS``, else every core): a parallel
        #: loop gets at least this many iterations where the loops allow
        self.threads = num_threads()
        #: the SIMD unit of the target (lanes, registers) that tiles are sized for
        self.simd = Simd.of(target)
        output_ops = []
        for t in self.outputs:
            if not any(t.op is o for o in output_ops):
                output_ops.append(t.op)
        self.output_ops = output_ops
        ops = post_order_ops(output_ops)
        # kept as written: extern stages, and scans with the stages of their steps
        kept = {id(op) for op in ops if isinstance(op, ExternOp)}
        for op in ops:
            if isinstance(op, ScanOp):
                kept |= {id(op)} | {id(o) for o in op.body_ops} | \
                    {id(t.op) for t in op.init}
        for op in ops:
            if not isinstance(op, (ComputeOp, PlaceholderOp, ExternOp, ScanOp)):
                raise TuneError(f"sketch_space: operation '{op.name}' is a "
                                f"{type(op).__name__}; only te.compute stages (and the "
                                f"te.extern and te.scan stages among them) can be tuned")
        #: the parameters in order: ``params`` as given, else the placeholders in the
        #: order they were created, then the outputs
        self.args = parameter_list([t for op in output_ops for t in op.outputs], params,
                                   "autotune", TuneError)
        self.explicit_params = params is not None
        self.workload_key = workload_key(self.outputs, self.shape_vars or None)
        probe = create_schedule(output_ops)
        names = {id(st.origin_op): st.name for st in probe.stages}
        readers: dict = {}
        for op in ops:
            for tensor in op.input_tensors:
                readers.setdefault(id(tensor.op), [])
                if not any(r is op for r in readers[id(tensor.op)]):
                    readers[id(tensor.op)].append(op)
        is_output = {id(op) for op in output_ops}
        # element-wise stages that call an expensive intrinsic and feed several stages:
        # inlined, each reader would compute it again (softmax's exponentials)
        self._shared_expensive = {
            id(op) for op in ops if isinstance(op, ComputeOp)
            and len(readers.get(id(op), ())) > 1 and calls_expensive_intrinsic(op)}
        # costly element-wise stages (a division, an intrinsic) read again and again by
        # a reduction with reuse: inlined, the reduction computes them at every read
        # (a softmax's normalization inside the product that reads it: a division per
        # multiply-add)
        reread = {id(t.op) for op in ops if isinstance(op, ComputeOp) and op.own_reduce_axis
                  for t in reused_inputs(op)}
        self._reread_costly = {id(op) for op in ops if isinstance(op, ComputeOp)
                               and id(op) in reread and divides_or_calls(op)}
        self.rules = []          # consumers first
        self.domains: dict = {}
        rule_of: dict = {}
        # the most attach points any stage downstream of an operation offers
        downstream_points: dict = {}
        for op in reversed(ops):
            if isinstance(op, PlaceholderOp) or id(op) in kept:
                continue
            name = names[id(op)]
            rule = self._rule_for(op, name)
            rule_of[id(op)] = rule
            self.rules.append(rule)
            prefix = f"{name}/"
            for key, domain in rule.domains().items():
                self.domains[prefix + key] = domain
            op_readers = readers.get(id(op), [])
            # a stage kept as written reads whole tensors computed at the root: nothing
            # of what it reads is inlined into it or computed at a loop
            read_whole = any(id(r) in kept for r in op_readers)
            if id(op) not in is_output and not op.own_reduce_axis and op.num_outputs == 1 and \
                    not read_whole:
                weights = (1, 2) if id(op) in self._shared_expensive else \
                    (1, 4) if id(op) in self._reread_costly else (4, 1)
                self.domains[prefix + "inline"] = Choice((True, False), weights=weights)
            points = 0 if read_whole else \
                max([downstream_points[id(r)] for r in op_readers] +
                    [rule_of[id(r)].max_points() for r in op_readers] + [0])
            downstream_points[id(op)] = points
            if id(op) not in is_output and points:
                self.domains[prefix + "at"] = Choice(range(-1, points),
                                                     weights=[points] + [1] * points)
        self._stage_names = names
        self._sizes = {name: dom.size() for name, dom in self.domains.items()}
        self._fused = self._fused_decisions([names[id(op)] for op in output_ops])

    def _rule_for(self, op, name):
        if op.own_reduce_axis:
            points = math.prod(const_extent(iv, self.shape_vars) for iv in op.axis)
            reads = reads_per_input_element(op, self.shape_vars)
            if op.num_outputs == 1 and reused_inputs(op) and points >= MIN_TILED_POINTS \
                    and (reads is None or reads >= MIN_TILED_READS):
                return TiledReductionRule(name, op, self.shape_vars, self.threads, self.simd)
            return ReductionRule(name, op, self.shape_vars, self.threads, self.simd)
        return InjectiveRule(name, op, self.shape_vars, self.threads, self.simd)

    # -- SearchSpace --------------------------------------------------------------------
    #: share of samples drawn from the fused structure: every reduction that feeds
    #: another stage computed at its reader's outermost loop (expensive shared producers
    #: too, kept in memory), the outputs' outermost loop alone run in parallel, and the
    #: rows of the stages that read the reductions (every loop but the last) (Ansor
    #: samples each sketch alike; here the structures are decisions of one sketch, and
    #: independent draws would rarely fuse several reductions at one row, as row-fused
    #: softmax and layer norm need)
    FUSED_SHARE = 0.3

    def _fused_decisions(self, output_names: list) -> dict:
        """The decisions of the fused structure (empty where no reduction can attach)."""
        fused = {f"{rule.name}/at": 0 for rule in self.rules
                 if isinstance(rule, ReductionRule) and f"{rule.name}/at" in self.domains}
        if fused:
            # an expensive shared producer is computed once, at the row, in memory
            for rule in self.rules:
                if id(rule.op) in self._shared_expensive and \
                        f"{rule.name}/at" in self.domains:
                    fused.update({f"{rule.name}/inline": False, f"{rule.name}/at": 0})
            for name in output_names:
                fuse = self.domains.get(f"{name}/fuse")
                if fuse is not None and fuse.contains(1):
                    fused[f"{name}/fuse"] = 1
            # a stage in memory that reads an attached reduction runs its rows in
            # parallel, every loop fused but the last (the row of a 2-D softmax, the
            # head and row of a batched one), so that the reductions attach at the row
            attached = {rule.name for rule in self.rules if f"{rule.name}/at" in fused}
            for rule in self.rules:
                fuse = self.domains.get(f"{rule.name}/fuse")
                if isinstance(rule, InjectiveRule) and fuse is not None and any(
                        self._stage_names.get(id(t.op)) in attached
                        for t in rule.op.input_tensors):
                    rows = max(1, len(rule.spatial) - 1)
                    if fuse.contains(rows):
                        fused[f"{rule.name}/fuse"] = rows
        return fused

    #: share of samples taken whatever the rules' priors (``StageRule.plausible``) say,
    #: so that the model also sees what they rule out; the rest are redrawn up to
    #: ``PRIOR_ATTEMPTS`` times until every rule finds them plausible
    UNFILTERED_SHARE = 0.1
    PRIOR_ATTEMPTS = 16

    def sample(self, rng: np.random.Generator) -> Config:
        unfiltered = rng.random() < self.UNFILTERED_SHARE
        for _ in range(self.PRIOR_ATTEMPTS):
            values = {name: dom.sample(rng) for name, dom in self.domains.items()}
            if self._fused and rng.random() < self.FUSED_SHARE:
                values.update(self._fused)
            if unfiltered or self.plausible(values):
                break
        return Config.make(CPU_SKETCH, values)

    def plausible(self, values: dict) -> bool:
        """Whether every stage rule finds its decisions in ``values`` plausible (inlined
        stages aside)."""
        per_stage = self._per_stage(values)
        for rule in self.rules:
            d = per_stage.get(rule.name, {})
            if d.get("inline") is not True and not rule.plausible(d):
                return False
        return True

    @staticmethod
    def _per_stage(values: dict) -> dict:
        per_stage: dict = {}
        for name, value in values.items():
            stage, key = name.split("/", 1)
            per_stage.setdefault(stage, {})[key] = value
        return per_stage

    def mutate(self, config: Config, rng: np.random.Generator) -> Config:
        names = list(self.domains)
        if not names:
            return config
        values = self._values(config)
        # Decisions of inlined stages and one-value domains change nothing; prefer ones
        # that matter.
        live = [n for n in names if self._sizes[n] > 1 and self._live(n, values)] or names
        name = live[int(rng.integers(len(live)))]
        return config.with_decision(name, self.domains[name].mutate(values[name], rng))

    def crossover(self, first: Config, second: Config, rng) -> Config:
        if first.sketch != second.sketch:
            return first if rng.random() < 0.5 else second
        a, b = self._values(first), self._values(second)
        stages = sorted({n.split("/", 1)[0] for n in self.domains})
        pick = {st: rng.random() < 0.5 for st in stages}
        values = {n: (a if pick[n.split("/", 1)[0]] else b)[n] for n in self.domains}
        return Config.make(CPU_SKETCH, values)

    def size(self) -> float:
        return float(math.prod(self._sizes.values()))

    #: the random draw the seeds' other decisions come from (fixed: a space's seeds are
    #: the same in every run, so a resumed run does not measure new ones)
    SEED_DRAW = 0

    def seeds(self) -> list[Config]:
        """The rules' starting points (``StageRule.seeds``: register-blocked, packed
        micro-kernels for tiled reductions) as configs: the k-th seed takes the k-th
        seed of every rule that has some (cycling through shorter lists), its other
        decisions from one fixed random draw of the priors, in the fused structure
        where there is one (:attr:`FUSED_SHARE`).  Tuning measures them in its
        first batch, so even a small budget starts from an expert's schedule."""
        per_rule = [(rule, rule.seeds()) for rule in self.rules]
        per_rule = [(rule, seeds) for rule, seeds in per_rule if seeds]
        if not per_rule:
            return []
        rng = np.random.default_rng(self.SEED_DRAW)
        out, keys = [], set()
        for k in range(max(len(seeds) for _, seeds in per_rule)):
            values = self._values(self.sample(rng))
            # the other reductions row-fused, as an expert would start (a softmax
            # between two products)
            values.update(self._fused)
            for rule, seeds in per_rule:
                prefix = f"{rule.name}/"
                values.update({prefix + key: value
                               for key, value in seeds[k % len(seeds)].items()})
                # the micro-kernel computed whole at the root, its panels in parallel
                # (computed at a loop of a reader, it would run serial, a few rows at a
                # time, packing its panels again for each)
                if prefix + "at" in values:
                    values[prefix + "at"] = -1
                # what a micro-kernel reads is computed first, whole (padding inlined
                # into it would put a bounds test on every load)
                for producer in rule.op.input_tensors:
                    name = self._stage_names.get(id(producer.op))
                    if name is not None and f"{name}/inline" in values:
                        values[f"{name}/inline"] = False
                        if f"{name}/at" in values:
                            values[f"{name}/at"] = -1
            config = Config.make(CPU_SKETCH, values)
            if config.key() not in keys and self.contains(config):
                keys.add(config.key())
                out.append(config)
        return out

    def contains(self, config: Config) -> bool:
        """Whether ``config`` is a point of this space (every decision present and in
        its domain, nothing else)."""
        if config.sketch != CPU_SKETCH:
            return False
        values = config.as_dict()
        if set(values) != set(self.domains):
            return False
        return all(self.domains[n].contains(_as_tuple(values[n])) for n in self.domains)

    def default_config(self) -> Config:
        """A config with the first value of each choice and untiled loops (inlining
        on): a plain starting point."""
        values = {}
        for name, dom in self.domains.items():
            if isinstance(dom, Choice):
                values[name] = True if name.endswith("/inline") else dom.values[0]
            else:
                values[name] = (1,) * dom.levels
        return Config.make(CPU_SKETCH, values)

    def _values(self, config: Config) -> dict:
        values = {name: _as_tuple(value) for name, value in config.decisions}
        missing = [n for n in self.domains if n not in values]
        if missing or config.sketch != CPU_SKETCH:
            raise TuneError(f"config {config} is not a point of this sketch space "
                            f"(sketch '{config.sketch}', missing decisions {missing}); "
                            f"configs come from the space's sample/mutate/crossover")
        return values

    def _live(self, name: str, values: dict) -> bool:
        stage, key = name.split("/", 1)
        if key != "inline" and values.get(f"{stage}/inline") is True:
            return False
        if key.startswith("local.") and values.get(f"{stage}/order") != "spatial_inner_local":
            return False
        if key.startswith("rfactor_") and values.get(f"{stage}/rfactor") == "none":
            return False
        return True

    def apply(self, config: Config):
        values = self._values(config)
        s = create_schedule(self.output_ops)
        per_stage = self._per_stage(values)
        inlined = {r.name for r in self.rules
                   if per_stage.get(r.name, {}).get("inline") is True}
        ctx: dict = {}
        # dataflow changes first: they require untouched loops and nothing attached
        for rule in self.rules:
            if rule.name not in inlined:
                rule.structural(s, per_stage.get(rule.name, {}), ctx)
        for rule in self.rules:
            if rule.name in inlined:
                s.stage_by_name(rule.name).compute_inline()
        points: dict = {}
        for rule in self.rules:  # consumers first, so attach points exist
            if rule.name in inlined:
                continue
            d = per_stage.get(rule.name, {})
            target = self._attach_target(s, rule.name, d.get("at", -1), points)
            points[rule.name] = rule.loops(s, d, ctx, attached=target is not None)
            if target is not None:
                s.stage_by_name(rule.name).compute_at(*target)
        return s, list(self.args)

    def _attach_target(self, s, name: str, index: int, points: dict):
        """``(stage, loop)`` where stage ``name`` is computed for decision ``at=index``,
        or None for the root.

        A reduction, or a stage that divides or calls an intrinsic, is never computed
        again for each iteration of a loop over values it does not depend on (a row
        maximum at a loop along the row, a softmax at a loop over the columns of the
        product that reads it): it moves out to the deepest point above the first such
        loop (:func:`_last_useful_point`).

        The loop belongs to the most downstream stage that reads ``name`` (directly or
        through inlined stages); it is taken only where every other reader runs inside
        that loop (computed at it or at a loop nested in it), so that each reader finds
        the values it needs: otherwise the stage stays at the root."""
        if index < 0:
            return None
        stage = s.stage_by_name(name)
        readers = [other for other in s.stages
                   if other is not stage and not other.is_placeholder and
                   other.attach_type != INLINE and s.consumes(other, stage)]
        for rule in self.rules:  # most downstream first
            loops = points.get(rule.name)
            if loops and any(r is loops[0][0] for r in readers):
                break
        else:
            return None
        index = min(index, len(loops) - 1)
        if stage.op.own_reduce_axis or divides_or_calls(stage.op):
            index = _last_useful_point(s, stage, loops, index)
            if index < 0:
                return None
        target, axis = loops[index]
        depth = target.leaf_index(axis)
        for reader in readers:
            if reader is not target and not _computed_inside(reader, target, depth):
                return None
        return target, axis

    def describe(self) -> str:
        """The rules and decisions of this space, one stage a line."""
        lines = []
        for rule in self.rules:
            keys = [n.split("/", 1)[1] for n in self.domains if n.startswith(rule.name + "/")]
            lines.append(f"{rule.name}: {rule.kind} rule; decisions {', '.join(keys)}")
        return "\n".join(lines)


def _root_axes(stage, iv) -> list:
    """The axes of ``stage``'s operation that its loop ``iv`` iterates over (through the
    splits and fusions that derived it)."""
    for rel in reversed(stage.relations):
        if isinstance(rel, Split) and (rel.outer is iv or rel.inner is iv):
            return _root_axes(stage, rel.parent)
        if isinstance(rel, Fuse) and rel.fused is iv:
            return _root_axes(stage, rel.outer) + _root_axes(stage, rel.inner)
        if isinstance(rel, Singleton) and rel.iter_var is iv:
            return []
    return [iv]


def _vars_reading(s, op, producer) -> set:
    """The variables of ``op`` (its axes, reduction axes) that the indices of its reads of
    stage ``producer`` use, through the stages inlined into ``op``."""
    used = set()
    for load in producer_loads(op):
        if any(load.producer is t for t in producer.op.outputs):
            used |= set(free_vars(tuple(load.indices)))
            continue
        inner = s.stage_map.get(load.producer.op)
        if inner is None or inner.attach_type != INLINE:
            continue
        through = _vars_reading(s, inner.op, producer)
        for axis, index in zip(inner.op.axis, load.indices):
            if axis.var in through:
                used |= set(free_vars((index,)))
    return used


def _last_useful_point(s, producer, loops: list, index: int) -> int:
    """The deepest of ``loops`` (``(stage, loop)`` of the stage reading ``producer``,
    outer first), at most ``index``, above every loop over axes that the reader's reads
    of ``producer`` do not use: computed inside such a loop, ``producer`` would compute
    the same values again at each of its iterations; -1 where no point is above them."""
    target = loops[0][0]
    used = _vars_reading(s, target.op, producer)
    first_useless = None
    for depth, iv in enumerate(target.leaf_iter_vars):
        extent = target.static_extent(iv)
        if extent is not None and extent <= 1:
            continue
        if not any(axis.var in used for axis in _root_axes(target, iv)):
            first_useless = depth
            break
    if first_useless is None:
        return index
    useful = [k for k, (_, iv) in enumerate(loops[:index + 1])
              if target.leaf_index(iv) < first_useless]
    return useful[-1] if useful else -1


def _computed_inside(stage, target, depth: int) -> bool:
    """Whether ``stage`` is computed (through a chain of compute_at) inside the loop of
    ``target`` at leaf position ``depth`` or a loop nested in it."""
    while stage.attach_type == SCOPE:
        parent = stage.attach_stage
        if parent is target:
            return parent.leaf_index(stage.attach_ivar) >= depth
        stage = parent
    return False


def _as_tuple(value):
    if isinstance(value, list):
        return tuple(_as_tuple(v) for v in value)
    return value


def sketch_space(outputs, target="llvm", shape_vars=None, params=None) -> SearchSpace:
    """The search space of ``outputs`` (a tensor or a list of output tensors) on
    ``target``, derived from the compute definition: ``space.sample(rng)`` draws a
    config, ``space.apply(config)`` gives ``(Schedule, args)``.

    ``shape_vars`` maps symbolic dimensions (``te.var`` objects or their names) to the
    sizes to tune for.  ``params``: the module's parameters in order (every placeholder
    and output once); by default the placeholders in the order they were created, then
    the outputs."""
    kind = _target_kind(target)
    if kind == "llvm":
        return SketchSpace(outputs, target, shape_vars, params)
    if kind == "cuda":
        return gpu_sketch_space(outputs, target, shape_vars, params)
    raise TuneError(f"sketch_space: no sketch rules for target '{kind}' yet; use "
                    f"target='llvm'")


__all__ = ["sketch_space", "SketchSpace", "CPU_SKETCH"]
