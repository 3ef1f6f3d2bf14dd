"""Template mode: a schedule written by hand with tunable knobs, as in TVM's AutoTVM.

A template is a function ``f(cfg, *args) -> (Schedule, tensors)`` decorated with
:func:`template`.  It declares its knobs on ``cfg`` (``define_split``, ``define_reorder``,
``define_knob``, ``define_annotate``) and uses the chosen values
(``cfg["tile_x"].apply(s, C, x)``, ``cfg["unroll"].val``).  Called first with a
:class:`ConfigSpace` ("define" mode), it records the knobs; called again with a
:class:`ConfigEntity` it builds the schedule of one config.  :class:`TemplateSpace` is the
:class:`~tensorlang.autotune.space.SearchSpace` of a template and its arguments.

>>> @template
... def matmul_tmpl(cfg, N, M, K):
...     A, B, C = ...
...     s = tl.create_schedule(C)
...     x, y = s[C].op.axis
...     cfg.define_split("tile_x", x, num_outputs=2)
...     xo, xi = cfg["tile_x"].apply(s, C, x)
...     return s, [A, B, C]
>>> space = TemplateSpace(matmul_tmpl, (64, 64, 64))
"""
from __future__ import annotations

import hashlib
import itertools
import math

import numpy as np

from ..errors import TuneError
from ..te.graph import PlaceholderOp, Tensor
from ..tir import expr as E
from .config import Config, thaw
from .sketch_common import divisors
from .space import SearchSpace
from .workload import workload_key

#: decisions of a template config live under this sketch name prefix
TEMPLATE_SKETCH_PREFIX = "template:"
#: the most entities a knob may enumerate (keeps define mode fast)
MAX_ENTITIES = 200_000

_JSON_SCALARS = (bool, int, float, str, type(None))


# ---------------------------------------------------------------------------------------
# entities: one value of a knob, with the method that applies it to a schedule
class _ListEntity:
    """An entity whose value is a list, held in the attribute named ``field``; it is
    written to records as that list and printed after ``label``."""

    field = ""
    label = ""

    def to_json(self):
        return list(getattr(self, self.field))

    def __repr__(self):
        return f"{self.label}{getattr(self, self.field)}"


class SplitEntity(_ListEntity):
    """Factors of a split, outer first; ``size[0]`` is -1 (whatever is left)."""

    field, label = "size", "split"

    def __init__(self, size):
        self.size = [int(v) for v in size]

    def apply(self, sch, op, axis):
        """Split ``axis`` of ``sch[op]`` into ``len(size)`` loops; returns them outer
        first."""
        stage = sch[op]
        inners = []
        for factor in reversed(self.size[1:]):
            axis, inner = stage.split(axis, factor=factor)
            inners.append(inner)
        return [axis] + inners[::-1]


class ReorderEntity(_ListEntity):
    """A permutation of the axes given to ``define_reorder``."""

    field, label = "perm", "reorder"

    def __init__(self, perm):
        self.perm = [int(v) for v in perm]

    def apply(self, sch, op, axes):
        """Reorder ``axes`` of ``sch[op]`` by the permutation; returns the new order."""
        ordered = [axes[i] for i in self.perm]
        sch[op].reorder(*ordered)
        return ordered


class AnnotateEntity(_ListEntity):
    """One annotation per axis: ``"none"``, ``"unroll"`` or ``"vec"``."""

    field, label = "anns", "annotate"

    def __init__(self, anns):
        self.anns = [str(a) for a in anns]

    def apply(self, sch, op, axes, axis_lens=None, max_unroll=None, vec_size=None,
              cfg=None, source=None):
        """Annotate ``axes`` of ``sch[op]``; an unroll longer than ``max_unroll`` or a
        vectorization whose length is not in ``vec_size`` is skipped (lengths from
        ``axis_lens``).  Returns ``axes``."""
        stage = sch[op]
        for k, (axis, ann) in enumerate(zip(axes, self.anns)):
            length = None if axis_lens is None else axis_lens[k]
            if ann == "unroll":
                if max_unroll is not None and length is not None and length > max_unroll:
                    continue
                stage.unroll(axis)
            elif ann == "vec":
                if vec_size is not None and length is not None and length not in (
                        vec_size if isinstance(vec_size, (list, tuple)) else [vec_size]):
                    continue
                stage.vectorize(axis)
        return list(axes)


class OtherOptionEntity:
    """The value of a knob: ``cfg["name"].val``."""

    def __init__(self, val):
        self.val = val

    def to_json(self):
        return self.val

    def __repr__(self):
        return repr(self.val)


# ---------------------------------------------------------------------------------------
# knob spaces
class KnobSpace:
    """The entities one knob may take."""

    kind = "knob"

    def __init__(self, name: str, entities: list):
        if not entities:
            raise TuneError(f"template knob '{name}' has no possible value")
        if len(entities) > MAX_ENTITIES:
            raise TuneError(f"template knob '{name}' has {len(entities)} values, more than "
                            f"{MAX_ENTITIES}; give a candidate list or num_outputs smaller")
        self.name = name
        self.entities = entities
        self._index = {self._key(e.to_json()): k for k, e in enumerate(entities)}

    @staticmethod
    def _key(value):
        return repr(value)

    def __len__(self):
        return len(self.entities)

    def encode(self, index: int):
        """The JSON decision of entity ``index``."""
        return self.entities[index].to_json()

    def decode(self, value) -> int:
        """The entity index of a JSON decision (raises TuneError when foreign)."""
        if isinstance(value, tuple):
            value = thaw(value)
        index = self._index.get(self._key(value))
        if index is None:
            raise TuneError(f"template knob '{self.name}' has no value {value!r}")
        return index


class KnobChoiceSpace(KnobSpace):
    """``define_knob``: values that are JSON scalars are stored as such, others by index."""

    kind = "knob"

    def __init__(self, name, values):
        values = list(values)
        self.by_index = not all(isinstance(v, _JSON_SCALARS) for v in values)
        super().__init__(name, [OtherOptionEntity(v) for v in values])
        if self.by_index:
            self._index = {repr(k): k for k in range(len(values))}

    def encode(self, index):
        return index if self.by_index else self.entities[index].val

    def decode(self, value):
        if self.by_index:
            if isinstance(value, int) and 0 <= value < len(self.entities):
                return value
            raise TuneError(f"template knob '{self.name}' has no value index {value!r}")
        for k, e in enumerate(self.entities):
            if e.val == value and type(e.val) is type(value):
                return k
        raise TuneError(f"template knob '{self.name}' has no value {value!r}")


def _axis_length(axis, what: str) -> int:
    if isinstance(axis, bool):
        raise TuneError(f"{what}: expected an axis or an int extent, got {axis!r}")
    if isinstance(axis, int):
        return axis
    if isinstance(axis, E.IterVar) and axis.dom is not None and \
            isinstance(axis.dom.extent, E.IntImm):
        return int(axis.dom.extent.value)
    raise TuneError(f"{what}: the extent of axis {getattr(axis, 'var', axis)!s} is not a "
                    f"known constant; pass an axis of the operation (s[C].op.axis) or the "
                    f"extent as an int")


def _factorizations(extent: int, parts: int) -> list[list[int]]:
    """Ordered ``parts``-tuples of positive ints whose product is ``extent``."""
    if parts == 1:
        return [[extent]]
    result = []
    for d in divisors(extent):
        for rest in _factorizations(extent // d, parts - 1):
            result.append([d] + rest)
    return result


def _split_entities(name, extent, num_outputs, policy, candidate, max_factor):
    if num_outputs < 1:
        raise TuneError(f"define_split('{name}'): num_outputs must be >= 1")
    if policy == "candidate":
        if not candidate:
            raise TuneError(f"define_split('{name}'): policy='candidate' needs candidate=")
        sizes = [list(c) for c in candidate]
        if any(len(c) != num_outputs for c in sizes):
            raise TuneError(f"define_split('{name}'): every candidate must have "
                            f"{num_outputs} entries")
        return [SplitEntity([-1] + c[1:]) for c in sizes]
    if policy == "factors":
        inner = [f[1:] for f in _factorizations(extent, num_outputs)]
    elif policy == "power2":
        powers = [1 << k for k in range(extent.bit_length()) if (1 << k) <= extent]
        inner = [list(p) for p in itertools.product(powers, repeat=num_outputs - 1)
                 if math.prod(p) <= extent]
    else:
        raise TuneError(f"define_split('{name}'): unknown policy {policy!r}; use 'factors', "
                        f"'power2' or 'candidate'")
    if max_factor is not None:
        inner = [f for f in inner if all(v <= max_factor for v in f)]
    return [SplitEntity([-1] + f) for f in inner]


def _annotate_entities(name, n, policy):
    if policy == "try_unroll":
        options = [["none", "unroll"]] * n
    elif policy == "try_vec":
        options = [["none"]] * (n - 1) + [["none", "vec"]]
    elif policy == "try_unroll_vec":
        options = [["none", "unroll"]] * (n - 1) + [["none", "unroll", "vec"]]
    else:
        raise TuneError(f"define_annotate('{name}'): unknown policy {policy!r}; use "
                        f"'try_unroll', 'try_vec' or 'try_unroll_vec'")
    return [AnnotateEntity(list(c)) for c in itertools.product(*options)] if n else \
        [AnnotateEntity([])]


# ---------------------------------------------------------------------------------------
# cfg objects handed to templates
class _Cfg:
    """What ``define_*`` and ``cfg[name]`` share in both modes."""

    is_fallback = False

    def __init__(self):
        self.flop = 0

    def add_flop(self, flop) -> None:
        """Record the floating-point operations of the workload (for GFLOPS)."""
        self.flop += flop

    def define_split(self, name, axis, num_outputs=2, policy="factors", candidate=None,
                     max_factor=None, filter=None):
        extent = None if policy == "candidate" else \
            _axis_length(axis, f"define_split('{name}')")
        entities = _split_entities(name, extent, num_outputs, policy, candidate, max_factor)
        if filter is not None:
            entities = [e for e in entities if filter(e)]
        self._define(name, KnobSpace(name, entities))

    def define_reorder(self, name, axes, policy="all", candidate=None):
        n = len(axes)
        if policy == "all":
            perms = [list(p) for p in itertools.permutations(range(n))]
        elif policy == "identity":
            perms = [list(range(n))]
        elif policy == "candidate":
            if not candidate:
                raise TuneError(f"define_reorder('{name}'): policy='candidate' needs "
                                f"candidate=")
            perms = []
            for order in candidate:
                try:
                    perms.append([next(k for k, a in enumerate(axes) if a is o)
                                  for o in order])
                except StopIteration:
                    raise TuneError(f"define_reorder('{name}'): a candidate order names "
                                    f"an axis that is not in axes") from None
        else:
            raise TuneError(f"define_reorder('{name}'): unknown policy {policy!r}; use "
                            f"'all', 'identity' or 'candidate'")
        self._define(name, KnobSpace(name, [ReorderEntity(p) for p in perms]))

    def define_knob(self, name, values):
        self._define(name, KnobChoiceSpace(name, values))

    def define_annotate(self, name, axes, policy="try_unroll"):
        self._define(name, KnobSpace(name, _annotate_entities(name, len(axes), policy)))

    def _define(self, name, knob):  # pragma: no cover - overridden
        raise NotImplementedError


class ConfigSpace(_Cfg):
    """``cfg`` in define mode: records the knobs; ``cfg[name]`` is the knob's first
    value, so the template runs to the end."""

    def __init__(self):
        super().__init__()
        self.space_map: dict = {}

    def _define(self, name, knob):
        if name in self.space_map:
            raise TuneError(f"template knob '{name}' is defined twice; give each knob its "
                            f"own name")
        self.space_map[name] = knob

    def __getitem__(self, name):
        knob = self.space_map.get(name)
        if knob is None:
            raise TuneError(f"template knob '{name}' is used before it is defined; call "
                            f"cfg.define_*('{name}', ...) first")
        return knob.entities[0]

    def __len__(self):
        return math.prod(len(k) for k in self.space_map.values())

    def __repr__(self):
        lines = [f"ConfigSpace (len={len(self)}, space_map="]
        for i, (name, knob) in enumerate(self.space_map.items()):
            lines.append(f"   {i} {name}: {type(knob).__name__}({len(knob)} values) "
                         f"len={len(knob)}")
        return "\n".join(lines) + ")"


class ConfigEntity(_Cfg):
    """``cfg`` with a value for every knob: ``cfg[name]`` is the chosen entity; the
    ``define_*`` calls of the template do nothing."""

    def __init__(self, space: "ConfigSpace", indices: dict, is_fallback: bool = False):
        super().__init__()
        self.space = space
        self.indices = dict(indices)
        self.is_fallback = is_fallback

    def _define(self, name, knob):
        pass

    def __getitem__(self, name):
        knob = self.space.space_map.get(name)
        if knob is None:
            raise TuneError(f"template knob '{name}' was not defined when the template ran "
                            f"in define mode")
        return knob.entities[self.indices.get(name, 0)]

    def to_json_dict(self) -> dict:
        return {n: self.space.space_map[n].encode(k) for n, k in self.indices.items()}

    def __repr__(self):
        return f"ConfigEntity({self.to_json_dict()})"


# ---------------------------------------------------------------------------------------
class Template:
    """A tunable schedule function ``func(cfg, *args) -> (Schedule, tensors)``."""

    def __init__(self, func, name: str | None = None):
        self.func = func
        self.name = name or getattr(func, "__qualname__", getattr(func, "__name__", "template"))
        self.__doc__ = getattr(func, "__doc__", None)
        self.__name__ = getattr(func, "__name__", self.name)

    def __call__(self, *args, **kwargs):
        """``tmpl(cfg, *args)`` runs the template with ``cfg``; ``tmpl(*args)`` runs it
        with the first value of every knob."""
        if args and isinstance(args[0], _Cfg):
            return self.func(*args, **kwargs)
        space = ConfigSpace()
        self.func(space, *args, **kwargs)
        return self.func(ConfigEntity(space, {}, is_fallback=True), *args, **kwargs)

    def space(self, args=(), target="llvm") -> "TemplateSpace":
        return TemplateSpace(self, args, target)

    def __repr__(self):
        return f"Template({self.name})"


def template(func=None, name: str | None = None):
    """Decorator making ``func(cfg, *args)`` a tunable template:
    ``@tl.autotune.template`` or ``@tl.autotune.template("matmul")``."""
    if isinstance(func, str) and name is None:
        return lambda f: Template(f, func)
    if func is None:
        return lambda f: Template(f, name)
    return Template(func, name)


def _tensor_outputs(tensors):
    return [t for t in tensors if isinstance(t, Tensor) and not isinstance(t.op, PlaceholderOp)]


class TemplateSpace(SearchSpace):
    """The search space of a template with given arguments: one decision per knob."""

    def __init__(self, func, args=(), target="llvm"):
        self.template = func if isinstance(func, Template) else Template(func)
        self.template_args = tuple(args)
        self.target = target
        self.config_space = ConfigSpace()
        result = self.template.func(self.config_space, *self.template_args)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise TuneError(f"template '{self.template.name}' must return (schedule, "
                            f"tensors), got {type(result).__name__}")
        _, tensors = result
        self.args = list(tensors)
        outputs = _tensor_outputs(self.args)
        if not outputs:
            raise TuneError(f"template '{self.template.name}' returned no computed tensor "
                            f"among its arguments")
        text = workload_key(outputs) + "|" + self.template.name + "|" + \
            ",".join(f"{n}:{len(k)}" for n, k in self.config_space.space_map.items())
        self.workload_key = hashlib.sha256(text.encode()).hexdigest()[:32]
        self.sketch = TEMPLATE_SKETCH_PREFIX + self.template.name
        self.knobs = dict(self.config_space.space_map)
        self.flop = self.config_space.flop

    def _config(self, indices: dict) -> Config:
        return Config.make(self.sketch, {n: self.knobs[n].encode(k)
                                         for n, k in indices.items()})

    def _indices(self, config: Config) -> dict:
        if config.sketch != self.sketch:
            raise TuneError(f"config {config} is not a config of template "
                            f"'{self.template.name}'")
        values = dict(config.decisions)
        missing = [n for n in self.knobs if n not in values]
        if missing:
            raise TuneError(f"config {config} lacks the knobs {missing} of template "
                            f"'{self.template.name}'")
        return {n: k.decode(values[n]) for n, k in self.knobs.items()}

    def contains(self, config: Config) -> bool:
        try:
            self._indices(config)
        except TuneError:
            return False
        return set(dict(config.decisions)) == set(self.knobs)

    def entity(self, config: Config) -> ConfigEntity:
        """The ``cfg`` object of ``config``."""
        return ConfigEntity(self.config_space, self._indices(config))

    def sample(self, rng: np.random.Generator) -> Config:
        return self._config({n: int(rng.integers(len(k))) for n, k in self.knobs.items()})

    def mutate(self, config: Config, rng: np.random.Generator) -> Config:
        indices = self._indices(config)
        names = [n for n, k in self.knobs.items() if len(k) > 1]
        if not names:
            return config
        name = names[int(rng.integers(len(names)))]
        size = len(self.knobs[name])
        indices[name] = (indices[name] + 1 + int(rng.integers(size - 1))) % size
        return self._config(indices)

    def crossover(self, first: Config, second: Config, rng) -> Config:
        if first.sketch != second.sketch:
            return first if rng.random() < 0.5 else second
        a, b = self._indices(first), self._indices(second)
        return self._config({n: (a if rng.random() < 0.5 else b)[n] for n in self.knobs})

    def apply(self, config: Config):
        result = self.template.func(self.entity(config), *self.template_args)
        s, tensors = result
        return s, list(tensors)

    def size(self) -> float:
        return float(math.prod(len(k) for k in self.knobs.values()))

    def default_config(self) -> Config:
        """The config of the first value of every knob."""
        return self._config({n: 0 for n in self.knobs})


__all__ = ["template", "Template", "TemplateSpace", "ConfigSpace", "ConfigEntity",
           "SplitEntity", "ReorderEntity", "AnnotateEntity", "OtherOptionEntity"]
