"""The GPU search space: schedules for ``target="cuda"`` derived from the compute
definition, valid by construction.

Each compute stage of the workload gets one rule of :mod:`.sketch_gpu_rules` (inline,
tiling, reduction or elementwise), chosen from its definition.

Every decision a config holds respects the device: at most 1024 threads per block,
shared tiles within 48 KiB, register tiles of at most ``MAX_LOCAL_TILE`` elements.
Sampling and mutation draw only such values, so every config builds.

>>> space = gpu_sketch_space([C], "cuda")
>>> cfg = space.sample(np.random.default_rng(0))
>>> s, args = space.apply(cfg)
>>> mod = tl.build(s, args, target="cuda")
"""
from __future__ import annotations

import numpy as np

from ..errors import TuneError
from ..schedule import create_schedule
from ..te.graph import ComputeOp, post_order_ops
from .config import Config
from .sketch_gpu_rules import (SAMPLE_TRIES, GpuElementwiseRule, GpuInlineRule,
                               GpuReductionRule, GpuStageRule, GpuTilingRule, has_reuse)
from .space import SearchSpace
from .workload import (output_tensors, parameter_list, refuse_extern_stages_on_gpu,
                       refuse_scans, workload_key)


class GpuSketchSpace(SearchSpace):
    """Schedules of a workload for CUDA GPUs (see the module docstring)."""

    def __init__(self, outputs, target="cuda", shape_vars=None, params=None):
        target_name = getattr(target, "kind", None) or str(target).split()[0]
        if target_name != "cuda":
            raise TuneError(f"the GPU search space schedules for target \"cuda\", not "
                            f"'{target}'")
        tensors = output_tensors(outputs, "gpu_sketch_space", TuneError)
        self.outputs = tensors
        self.shape_vars = dict(shape_vars or {})
        refuse_extern_stages_on_gpu(tensors, "gpu_sketch_space")
        ops = post_order_ops([t.op for t in tensors])
        refuse_scans(ops, "autotune")
        # the parameters in order: ``params`` as given, else the placeholders in the
        # order they were created, then the outputs
        self.args = parameter_list(tensors, params, "autotune", TuneError)
        self.explicit_params = params is not None
        self.workload_key = workload_key(tensors, shape_vars)
        output_ops = {id(t.op) for t in tensors}
        readers: dict = {}
        for op in ops:
            for tensor in getattr(op, "input_tensors", ()):
                readers.setdefault(id(tensor.op), []).append(op)
        # rules are decided on the dataflow after inlining: a reduction reads its inlined
        # producers' inputs directly
        probe = create_schedule([t.op for t in tensors])
        self.rules: list[GpuStageRule] = []
        inlined = []
        for op in ops:
            if not isinstance(op, ComputeOp):
                continue
            name = probe[op].name
            injective = not op.own_reduce_axis
            if injective and id(op) not in output_ops and readers.get(id(op)):
                inlined.append(GpuInlineRule(name, op, self.shape_vars))
        for rule in inlined:
            probe.stage_by_name(rule.name).compute_inline()
        inlined_names = {rule.name for rule in inlined}
        for op in ops:
            if not isinstance(op, ComputeOp):
                continue
            name = probe[op].name
            if name in inlined_names:
                self.rules.append(next(r for r in inlined if r.name == name))
                continue
            current = probe.stage_by_name(name).op
            if not op.own_reduce_axis:
                self.rules.append(GpuElementwiseRule(name, current, self.shape_vars))
            elif has_reuse(current) and len(current.body) == 1:
                self.rules.append(GpuTilingRule(name, current, self.shape_vars))
            else:
                self.rules.append(GpuReductionRule(name, current, self.shape_vars))
        self.sketch = "gpu:" + "+".join(rule.kind for rule in self.rules)

    # -- configs -----------------------------------------------------------------------
    def _stage_decisions(self, config: Config, index: int) -> dict:
        prefix = f"{index}."
        return {key[len(prefix):]: value for key, value in config.decisions
                if key.startswith(prefix)}

    def _make(self, per_stage: list[dict]) -> Config:
        decisions = {}
        for index, d in enumerate(per_stage):
            for key, value in d.items():
                decisions[f"{index}.{key}"] = value
        return Config.make(self.sketch, decisions)

    def sample(self, rng: np.random.Generator) -> Config:
        return self._make([rule.sample(rng) for rule in self.rules])

    def mutate(self, config: Config, rng: np.random.Generator) -> Config:
        """Redraw one decision of one stage (the stage's decisions together where the
        single redraw would leave the device limits)."""
        per_stage = [self._stage_decisions(config, k) for k in range(len(self.rules))]
        tunable = [k for k, d in enumerate(per_stage) if d]
        if not tunable:
            return config
        index = tunable[int(rng.integers(len(tunable)))]
        rule, current = self.rules[index], per_stage[index]
        for _ in range(SAMPLE_TRIES):
            fresh = rule.sample(rng)
            key = sorted(current)[int(rng.integers(len(current)))]
            candidate = dict(current)
            candidate[key] = fresh[key]
            if candidate != current and rule.valid(candidate):
                per_stage[index] = candidate
                return self._make(per_stage)
        per_stage[index] = rule.sample(rng)
        return self._make(per_stage)

    def contains(self, config: Config) -> bool:
        """Whether ``config`` is of this space's sketch, with every stage's decisions
        present, well formed and within the device limits."""
        if config.sketch != self.sketch:
            return False
        probe = np.random.default_rng(0)
        for index, rule in enumerate(self.rules):
            d = self._stage_decisions(config, index)
            if set(d) != set(rule.sample(probe)):
                return False
            try:
                if not rule.valid(d):
                    return False
            except (TypeError, ValueError, KeyError):
                return False
        expected = sum(len(rule.sample(probe)) for rule in self.rules)
        return len(config.decisions) == expected

    def crossover(self, first: Config, second: Config, rng: np.random.Generator) -> Config:
        """Each stage's decisions from one parent (the limits hold per stage)."""
        if first.sketch != second.sketch:
            return first if rng.random() < 0.5 else second
        per_stage = [self._stage_decisions(first if rng.random() < 0.5 else second, k)
                     for k in range(len(self.rules))]
        return self._make(per_stage)

    def apply(self, config: Config):
        if config.sketch != self.sketch:
            raise TuneError(f"config of sketch '{config.sketch}' does not belong to this "
                            f"space (sketch '{self.sketch}')")
        s = create_schedule([t.op for t in self.outputs])
        per_stage = [self._stage_decisions(config, k) for k in range(len(self.rules))]
        ctx: dict = {}
        for rule, d in zip(self.rules, per_stage):
            rule.structural(s, d, ctx)
        for rule, d in zip(self.rules, per_stage):
            rule.loops(s, d, ctx)
        return s, list(self.args)

    def size(self) -> float:
        return float("inf")


def gpu_sketch_space(outputs, target="cuda", shape_vars=None, params=None
                     ) -> GpuSketchSpace:
    """The GPU search space of ``outputs`` (tensors) for ``target`` ("cuda"); symbolic
    dimensions need sizes in ``shape_vars`` ({var or name: int}); ``params``: the
    module's parameters in order (default: placeholders as created, then outputs)."""
    return GpuSketchSpace(outputs, target, shape_vars, params)
