"""Hypothesis strategies that draw random valid schedules, shared by the property tests
that run them through the TIR interpreter (tests/test_schedule_properties.py) and through
compiled code (tests/llvm/test_compiled_properties.py).

Each ``draw_*_schedule(data)`` builds one workload (matmul, conv2d with a padding stage,
softmax, a reduction over two axes) and draws its schedule step by step from the current
leaf axes, so that every step is valid by the schedule rules: splits with any factor
(divisors or not), fuses of adjacent axes, reorders, vectorize / unroll / parallel,
compute_at (also chained: into a consumer that is itself computed at a loop of another
stage, of a producer with several consumers at a loop enclosing them all, and into a stage
that reads the producer only through stages computed inside it) /
compute_inline / compute_root of producers, cache_write, rfactor after nested splits of
the reduction axes at any level.  It returns a :class:`DrawnSchedule`
whose ``log`` holds the schedule as the Python steps that rebuild it (also shown by
hypothesis with a failing example).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, note, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import tensorlang as tl
from tensorlang import te


def property_settings(examples_per_workload: int) -> settings:
    """Settings of a random-schedule property test.

    Draws are derandomized so CI runs the same schedules every time; a developer hunting
    for new failures can set TL_HYPOTHESIS_RANDOM=1 to explore fresh ones, and
    TL_PROPERTY_EXAMPLES to draw more of them."""
    return settings(
        max_examples=int(os.environ.get("TL_PROPERTY_EXAMPLES", examples_per_workload)),
        deadline=None,
        derandomize=not os.environ.get("TL_HYPOTHESIS_RANDOM"),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


@dataclass
class DrawnSchedule:
    """A drawn schedule with its tensors: the lowering arguments are inputs + outputs."""
    sched: object
    inputs: list
    outputs: list
    log: list[str]
    #: numpy's computation of the outputs from the inputs, where a workload has one
    numpy: object = None

    @property
    def args(self) -> list:
        return list(self.inputs) + list(self.outputs)

    def text(self) -> str:
        return "\n".join(self.log)


# ---------------------------------------------------------------------------------------
# tracking a stage's leaf axes while drawing its schedule

class Axis:
    """A leaf axis of a stage as the test sees it: the IterVar, a readable name for the
    printed schedule, its (nominal) extent and whether it iterates a reduction."""

    def __init__(self, itervar, name: str, extent: int, reduce: bool):
        self.itervar, self.name, self.extent, self.reduce = itervar, name, extent, reduce
        self.annotated = False

    def __repr__(self) -> str:
        return self.name


class StageDraw:
    """Draws schedule steps for one stage, keeping its leaf axes up to date."""

    def __init__(self, data, sched, tensor, name: str, log: list[str]):
        self.data, self.sched, self.tensor, self.name, self.log = data, sched, tensor, \
            name, log
        self.stage = sched[tensor]
        op = self.stage.op
        self.leaves = [Axis(iv, iv.var.name, _extent(iv), False) for iv in op.axis] + \
            [Axis(iv, iv.var.name, _extent(iv), True) for iv in op.reduce_axis]
        self.attached = False

    def draw(self, strategy, label):
        return self.data.draw(strategy, label=f"{self.name}: {label}")

    def emit(self, text: str) -> None:
        self.log.append(text)
        note_text(text)
        primitive = text.split("].", 1)[-1].split("(", 1)[0] if "]." in text else \
            text.split("= s.", 1)[-1].split("(", 1)[0]
        event(f"uses {primitive}")

    def axis_named(self, itervar) -> Axis:
        for axis in self.leaves:
            if axis.itervar is itervar:
                return axis
        raise AssertionError(f"{itervar} is not a leaf of {self.name}")

    # -- loop transformations ---------------------------------------------------------
    def split(self, axis: Axis | None = None) -> tuple[Axis, Axis]:
        if axis is None:
            axis = self.draw(st.sampled_from(self.leaves), "split axis")
        position = self.leaves.index(axis)
        if self.draw(st.booleans(), "split by nparts"):
            parts = self.draw(st.integers(1, axis.extent + 2), "nparts")
            outer_iv, inner_iv = self.stage.split(axis.itervar, nparts=parts)
            outer_extent, inner_extent = parts, -(-axis.extent // parts)
            self.emit(f"{axis.name}_o, {axis.name}_i = s[{self.name}].split("
                      f"{axis.name}, nparts={parts})")
        else:
            factor = self.draw(st.integers(1, axis.extent + 2), "factor")
            outer_iv, inner_iv = self.stage.split(axis.itervar, factor=factor)
            outer_extent, inner_extent = -(-axis.extent // factor), factor
            self.emit(f"{axis.name}_o, {axis.name}_i = s[{self.name}].split("
                      f"{axis.name}, factor={factor})")
        outer = Axis(outer_iv, axis.name + "_o", outer_extent, axis.reduce)
        inner = Axis(inner_iv, axis.name + "_i", inner_extent, axis.reduce)
        self.leaves[position:position + 1] = [outer, inner]
        return outer, inner

    def fuse(self) -> None:
        pairs = [k for k in range(len(self.leaves) - 1)
                 if self.leaves[k].reduce == self.leaves[k + 1].reduce]
        if not pairs:
            return
        k = self.draw(st.sampled_from(pairs), "fuse position")
        outer, inner = self.leaves[k], self.leaves[k + 1]
        fused_iv = self.stage.fuse(outer.itervar, inner.itervar)
        fused = Axis(fused_iv, f"{outer.name}_{inner.name}_f", outer.extent * inner.extent,
                     outer.reduce)
        self.emit(f"{fused.name} = s[{self.name}].fuse({outer.name}, {inner.name})")
        self.leaves[k:k + 2] = [fused]

    def reorder(self) -> None:
        order = self.draw(st.permutations(self.leaves), "reorder")
        self.stage.reorder(*(a.itervar for a in order))
        self.emit(f"s[{self.name}].reorder({', '.join(a.name for a in order)})")
        self.leaves = list(order)

    def transform(self, max_steps: int = 4, allow_fuse: bool = True) -> None:
        """A few random splits, fuses and reorders."""
        kinds = ["split", "reorder"] + (["fuse"] if allow_fuse else [])
        for _ in range(self.draw(st.integers(0, max_steps), "steps")):
            kind = self.draw(st.sampled_from(kinds), "step")
            getattr(self, kind)()

    # -- annotations ------------------------------------------------------------------
    def annotate(self, allow_parallel: bool) -> None:
        """Maybe vectorize a spatial axis (mostly the innermost; sometimes one with
        reduction loops inside it), unroll an axis (one of the two innermost, or any
        short one), put an ``auto_unroll_max_step`` pragma on an axis, and parallelize
        the outermost axis when it is spatial."""
        spatial = [a for a in self.leaves if not a.reduce]
        if spatial and self.draw(st.booleans(), "vectorize"):
            innermost = self.leaves[-1]
            if innermost.reduce or self.draw(st.integers(0, 3), "vectorize inner") == 0:
                axis = spatial[-1]
            else:
                axis = innermost
            self.stage.vectorize(axis.itervar)
            self.emit(f"s[{self.name}].vectorize({axis.name})")
            axis.annotated = True
        candidates = [a for a in self.leaves[-2:] if not a.annotated]
        candidates += [a for a in self.leaves[:-2] if not a.annotated and a.extent <= 8]
        if candidates and self.draw(st.booleans(), "unroll"):
            axis = self.draw(st.sampled_from(candidates), "unroll axis")
            self.stage.unroll(axis.itervar)
            self.emit(f"s[{self.name}].unroll({axis.name})")
            axis.annotated = True
        if self.draw(st.integers(0, 4), "pragma") == 0:
            axis = self.draw(st.sampled_from(self.leaves), "pragma axis")
            step = self.draw(st.sampled_from([4, 16]), "auto_unroll_max_step")
            self.stage.pragma(axis.itervar, "auto_unroll_max_step", step)
            self.emit(f"s[{self.name}].pragma({axis.name}, 'auto_unroll_max_step', {step})")
        outermost = self.leaves[0]
        if allow_parallel and not outermost.reduce and not outermost.annotated and \
                outermost.extent > 1 and self.draw(st.booleans(), "parallel outermost"):
            self.stage.parallel(outermost.itervar)
            self.emit(f"s[{self.name}].parallel({outermost.name})")
            outermost.annotated = True

    # -- attachment -------------------------------------------------------------------
    def place_in(self, consumer: "StageDraw", allow_inline: bool) -> str:
        """compute_at one of ``consumer``'s leaves, compute_root, or (when allowed)
        compute_inline; returns which."""
        return self.place_among([(consumer, axis) for axis in consumer.leaves],
                                allow_inline)

    def place_among(self, loops: list, allow_inline: bool) -> str:
        """compute_at one of ``loops`` (``(consumer draw, leaf axis)`` pairs), compute_root
        or (when allowed) compute_inline; returns which.  A consumer that is itself
        computed at a loop of another stage makes a compute_at chain."""
        # "at" first: hypothesis favours the first choice, and attachments (chains of
        # them most of all) are where bound inference is put to the test
        choices = (["at"] if loops else []) + ["root"] + (["inline"] if allow_inline else [])
        choice = self.draw(st.sampled_from(choices), "placement")
        if choice == "inline":
            self.stage.compute_inline()
            self.emit(f"s[{self.name}].compute_inline()")
        elif choice == "root":
            self.stage.compute_root()
            self.emit(f"s[{self.name}].compute_root()")
        else:
            consumer, target = self.draw(st.sampled_from(loops), "compute_at loop")
            self.stage.compute_at(consumer.stage, target.itervar)
            self.emit(f"s[{self.name}].compute_at(s[{consumer.name}], {target.name})")
            self.attached = True
            depth = attach_depth(self.stage)
            if depth > 1:
                event(f"compute_at chain of depth {depth}")
        return choice


def note_text(text: str) -> None:
    """Show ``text`` with a failing example (a no-op outside hypothesis tests)."""
    try:
        note(text)
    except InvalidArgument:
        pass


def event(text: str) -> None:
    """Count ``text`` in hypothesis statistics (a no-op outside hypothesis tests)."""
    try:
        hypothesis_event(text)
    except InvalidArgument:
        pass


def _extent(itervar) -> int:
    extent = itervar.dom.extent
    return int(getattr(extent, "value", extent))


def encloses(owner: StageDraw, axis: Axis, reader: StageDraw) -> bool:
    """Whether ``owner``'s loop ``axis`` encloses ``reader``: the reader is ``owner`` or is
    computed (through any chain of compute_at) at ``axis`` or at a loop inside it."""
    if reader is owner:
        return True
    stage, position = reader.stage, owner.stage.leaf_index(axis.itervar)
    while stage.attach_type == "scope":
        if stage.attach_stage is owner.stage:
            return owner.stage.leaf_index(stage.attach_ivar) >= position
        stage = stage.attach_stage
    return False


def attach_depth(stage) -> int:
    """How many compute_at links lead from ``stage`` to a stage at the root."""
    depth = 0
    while stage.attach_type == "scope":
        depth, stage = depth + 1, stage.attach_stage
    return depth


def consumers_of(output) -> dict:
    """Compute operations of the graph below ``output`` -> the compute operations that
    read them."""
    from tensorlang.te.graph import ComputeOp, post_order_ops
    readers: dict = {}
    for operation in post_order_ops([output.op]):
        if not isinstance(operation, ComputeOp):
            continue
        readers.setdefault(operation, [])
        for tensor in operation.input_tensors:
            if isinstance(tensor.op, ComputeOp):
                readers.setdefault(tensor.op, []).append(operation)
    return readers


def schedule_producers(data, sched, output, draws: dict, log: list[str]) -> None:
    """Place every producer stage of ``output`` (consumers first), then draw its loops.

    ``draws`` maps operations already scheduled to their :class:`StageDraw`.  A producer
    read by a single (non-inlined) consumer may be attached to any of its leaves; others
    go to the root.  Reductions are never inlined."""
    readers = consumers_of(output)
    from tensorlang.te.graph import post_order_ops
    order = [o for o in reversed(post_order_ops([output.op])) if o in readers
             and o is not output.op]
    inlined: set = set()

    def effective_readers(operation):
        found = []
        for reader in readers[operation]:
            found.extend(effective_readers(reader) if reader in inlined else [reader])
        return list(dict.fromkeys(found))

    for operation in order:
        producer = StageDraw(data, sched, operation.output(0), operation.name, log)
        readers_now = effective_readers(operation)
        targets = [draws[r] for r in readers_now if r in draws]
        loops = []
        if len(targets) == len(readers_now):
            # any loop that encloses every reader: of a reader, or of a stage the readers
            # are computed inside (softmax: the maximum at the output's row loop, where
            # the exponentials that read it are computed)
            loops = [(target, axis) for target in dict.fromkeys(targets + list(draws.values()))
                     for axis in target.leaves
                     if all(encloses(target, axis, reader) for reader in targets)]
        choice = producer.place_among(loops, allow_inline=not operation.is_reduction)
        if producer.stage.attach_type == "scope" and \
                all(producer.stage.attach_stage is not t.stage for t in targets):
            event("compute_at into a stage that reads the producer through others")
        if choice == "inline":
            inlined.add(operation)
            continue
        draws[operation] = producer
        producer.transform()
        producer.annotate(allow_parallel=not producer.attached)


# ---------------------------------------------------------------------------------------
# workloads

def matmul(m: int, n: int, k: int):
    a = te.placeholder((m, k), name="A")
    b = te.placeholder((k, n), name="B")
    r = te.reduce_axis((0, k), name="k")
    c = te.compute((m, n), lambda i, j: te.sum(a[i, r] * b[r, j], axis=r), name="C")
    return [a, b], c


#: the sizes the interpreter property test draws from
MATMUL_SIZES = [(13, 17, 11), (16, 16, 8), (5, 9, 7)]
CONV2D_SIZES = (7, 9)
SOFTMAX_SHAPES = [(5, 11), (4, 16), (3, 7)]


def draw_matmul_schedule(data, sizes=tuple(MATMUL_SIZES)) -> DrawnSchedule:
    """A matmul of one of the (m, n, k) ``sizes``, plain, with a cache_write stage, with
    an rfactor of its reduction, or with an input packed (``cache_read`` in its own
    order or transposed, read by the output or by its write cache)."""
    m, n, k = data.draw(st.sampled_from(list(sizes)), label="matmul sizes (m, n, k)")
    inputs, c = matmul(m, n, k)
    sched = tl.create_schedule(c)
    log: list[str] = [f"# matmul {m}x{n}x{k}"]
    mode = data.draw(st.sampled_from(["plain", "cache_write", "cache_write after splits",
                                      "rfactor", "packed", "packed into cache_write"]),
                     label="mode")
    event(f"matmul mode {mode}")
    if mode.startswith("packed"):
        schedule_packed(data, sched, c, inputs, mode, log)
    elif mode.startswith("cache_write"):
        main = StageDraw(data, sched, c, "C", log)
        if mode == "cache_write after splits":
            # splits of the output's axes made before cache_write stay on the copy-out
            for _ in range(data.draw(st.integers(1, 2), label="splits before cache_write")):
                main.split(main.draw(st.sampled_from([a for a in main.leaves
                                                      if not a.reduce]), "axis to split"))
        local = sched.cache_write(c, "local")
        log.append("CC = s.cache_write(C, 'local')")
        main.leaves = [a for a in main.leaves if not a.reduce]
        main.transform(allow_fuse=True)
        main.annotate(allow_parallel=True)
        cache = StageDraw(data, sched, local, "CC", log)
        cache.place_in(main, allow_inline=False)
        cache.transform()
        cache.annotate(allow_parallel=not cache.attached)
    elif mode == "rfactor":
        schedule_rfactor(data, sched, c, "C", log)
    else:
        main = StageDraw(data, sched, c, "C", log)
        main.transform()
        main.annotate(allow_parallel=True)
    return DrawnSchedule(sched, inputs, [c], log)


def schedule_packed(data, sched, c, inputs, mode: str, log: list[str]) -> None:
    """``A`` or ``B`` copied by ``cache_read`` (dimensions in their own order or
    transposed) for the output or its write cache, which are then scheduled, the copy
    placed among the loops of the stage that reads it."""
    name = data.draw(st.sampled_from(["A", "B"]), label="packed input")
    tensor = inputs[0] if name == "A" else inputs[1]
    axes = data.draw(st.sampled_from([None, (0, 1), (1, 0)]), label="packed axes")
    event(f"packed {name} axes {axes}")
    local = sched.cache_write(c, "local") if mode == "packed into cache_write" else None
    if local is not None:
        log.append("CC = s.cache_write(C, 'local')")
    reader = local if local is not None else c
    packed = sched.cache_read(tensor, "global", [reader], axes=axes)
    log.append(f"P = s.cache_read({name}, 'global', [{'CC' if local is not None else 'C'}], "
               f"axes={axes})")
    main = StageDraw(data, sched, c, "C", log)
    if local is not None:
        main.leaves = [a for a in main.leaves if not a.reduce]
    main.transform(allow_fuse=True)
    main.annotate(allow_parallel=True)
    reading = main
    if local is not None:
        reading = StageDraw(data, sched, local, "CC", log)
        reading.place_in(main, allow_inline=False)
        reading.transform()
        reading.annotate(allow_parallel=not reading.attached)
    pack = StageDraw(data, sched, packed, "P", log)
    if pack.place_in(reading, allow_inline=True) != "inline":
        pack.transform()
        pack.annotate(allow_parallel=not pack.attached)


def schedule_rfactor(data, sched, output, name: str, log: list[str]) -> None:
    """Split ``output``'s reduction: one to three splits of any reduce leaf (so splits of
    split parts, nested), by factor or nparts, dividing or not; maybe a fuse of two
    adjacent reduce leaves and a reorder; then rfactor at any reduce leaf (outer, middle
    or inner) into any factor_axis, and more schedule steps on both stages."""
    main = StageDraw(data, sched, output, name, log)
    splits = main.draw(st.integers(1, 3), "reduce splits")
    for _ in range(splits):
        main.split(main.draw(st.sampled_from([a for a in main.leaves if a.reduce]),
                             "reduce axis to split"))
    pairs = [k for k in range(len(main.leaves) - 1)
             if main.leaves[k].reduce and main.leaves[k + 1].reduce]
    fused = bool(pairs) and main.draw(st.integers(0, 2), "fuse reduce leaves") == 0
    if fused:
        k = main.draw(st.sampled_from(pairs), "fuse position")
        outer, inner = main.leaves[k], main.leaves[k + 1]
        fused_iv = main.stage.fuse(outer.itervar, inner.itervar)
        axis = Axis(fused_iv, f"{outer.name}_{inner.name}_f", outer.extent * inner.extent,
                    True)
        main.emit(f"{axis.name} = s[{name}].fuse({outer.name}, {inner.name})")
        main.leaves[k:k + 2] = [axis]
    if main.draw(st.booleans(), "reorder before rfactor"):
        main.reorder()
    reduce_leaves = [a for a in main.leaves if a.reduce]
    position = main.draw(st.integers(0, len(reduce_leaves) - 1), "rfactor leaf")
    factored_axis = reduce_leaves[position]
    factor_axis = main.draw(st.integers(0, len(output.op.axis)), "factor_axis")
    factored = sched.rfactor(output, factored_axis.itervar, factor_axis=factor_axis)
    log.append(f"{name}F = s.rfactor({name}, {factored_axis.name}, "
               f"factor_axis={factor_axis})")
    note_text(log[-1])
    level = "inner" if position == len(reduce_leaves) - 1 else \
        "outer" if position == 0 else "middle"
    event(f"rfactor after {splits} reduce split(s){' and a fuse' if fused else ''}, "
          f"at the {level} reduce leaf")
    final = StageDraw(data, sched, output, name, log)  # a new operation: the final sum
    final.transform(max_steps=2)
    final.annotate(allow_parallel=True)
    partial = StageDraw(data, sched, factored, f"{name}F", log)
    partial.place_in(final, allow_inline=False)
    partial.transform()
    partial.annotate(allow_parallel=not partial.attached)


#: (rows, r1, r2) of the reductions the rfactor property tests draw
REDUCTION_SHAPES = [(3, 16, 1), (2, 11, 3), (4, 5, 4), (1, 23, 2)]


def draw_reduction_schedule(data, shapes=tuple(REDUCTION_SHAPES)) -> DrawnSchedule:
    """A sum or max over the two last axes of a (rows, r1, r2) input, factored with
    rfactor after nested splits of its reduction axes (:func:`schedule_rfactor`); the
    "max from i" reducer starts from a value that depends on the output's axis (its
    identity uses ``i``, as TVM's loop-dependent reducers do)."""
    rows, n1, n2 = data.draw(st.sampled_from(list(shapes)), label="shape (rows, r1, r2)")
    kind = data.draw(st.sampled_from(["sum", "max", "max from i"]), label="reducer")
    a = te.placeholder((rows, n1, n2), name="A")
    r1 = te.reduce_axis((0, n1), name="r1")
    r2 = te.reduce_axis((0, n2), name="r2")

    def body(i):
        if kind == "max from i":
            reducer = te.comm_reducer(lambda x, y: te.max(x, y),
                                      lambda dtype: i.astype(dtype) * 0.5 - 1.0, name="top")
        else:
            reducer = te.sum if kind == "sum" else te.max
        return reducer(a[i, r1, r2] * 2.0, axis=[r1, r2])
    c = te.compute((rows,), body, name="C")
    log: list[str] = [f"# {kind} over the last two axes of a {rows}x{n1}x{n2} input"]
    sched = tl.create_schedule(c)
    schedule_rfactor(data, sched, c, "C", log)
    return DrawnSchedule(sched, [a], [c], log)


def draw_conv2d_schedule(data, sizes=CONV2D_SIZES, channels=(3, 4)) -> DrawnSchedule:
    """A 3x3 conv2d with padding 1 (so a ``data_pad`` producer stage) on a square input
    of a side between ``sizes`` (inclusive) and (in, out) ``channels``, stride 1 or 2,
    maybe followed by a relu; the producers are inlined, attached (the pad into the conv
    attached into the relu: a chain) or left at the root."""
    from tensorlang import ops
    size = data.draw(st.integers(*sizes), label="H = W")
    stride = data.draw(st.integers(1, 2), label="stride")
    relu = data.draw(st.booleans(), label="relu after the conv")
    cin, cout = channels
    x = te.placeholder((1, cin, size, size), name="data")
    w = te.placeholder((cout, cin, 3, 3), name="kernel")
    out = ops.conv2d_nchw(x, w, stride, 1, 1)
    if relu:  # the conv becomes a producer: pad -> conv -> relu, a compute_at chain
        out = ops.relu(out)
    log: list[str] = [f"# conv2d 1x{cin}x{size}x{size}, {cout}x{cin}x3x3, stride {stride}, "
                      f"pad 1{', then relu' if relu else ''}"]
    sched = tl.create_schedule(out)
    main = StageDraw(data, sched, out, out.op.name, log)
    main.transform()
    main.annotate(allow_parallel=True)
    schedule_producers(data, sched, out, {out.op: main}, log)
    return DrawnSchedule(sched, [x, w], [out], log)


def draw_softmax_schedule(data, shapes=tuple(SOFTMAX_SHAPES)) -> DrawnSchedule:
    """Softmax over the last axis of a matrix of one of the ``shapes``, with its three
    producer stages (max, exp, sum) placed at random."""
    from tensorlang import ops
    rows, cols = data.draw(st.sampled_from(list(shapes)), label="shape")
    x = te.placeholder((rows, cols), name="x")
    out = ops.softmax(x, axis=-1)
    log: list[str] = [f"# softmax over the last axis of a {rows}x{cols} input"]
    sched = tl.create_schedule(out)
    main = StageDraw(data, sched, out, out.op.name, log)
    main.transform()
    main.annotate(allow_parallel=True)
    schedule_producers(data, sched, out, {out.op: main}, log)
    return DrawnSchedule(sched, [x], [out], log)


#: reductions and element-wise functions whose NaN and infinity rules are drawn, with
#: numpy's meaning of each
REDUCERS = {"max": np.max, "min": np.min, "sum": np.sum, "prod": np.prod}
ELEMENTWISE = {"maximum": np.maximum, "minimum": np.minimum,
               "relu": lambda a: np.maximum(a, a.dtype.type(0)),
               "maximum with a constant": lambda a: np.maximum(a, a.dtype.type(-1)),
               "minimum of a sum": lambda a, b: np.minimum(a + b, b)}


def draw_reducer_schedule(data, shapes, dtype: str = "float32") -> DrawnSchedule:
    """``Out[i] = reducer(X[i, k])`` for a drawn reducer of :data:`REDUCERS` over a
    matrix of one of the ``shapes``, scheduled plain or with an rfactor of a split of
    its reduction axis.  ``drawn.numpy`` computes the expected output."""
    rows, cols = data.draw(st.sampled_from(list(shapes)), label="shape")
    reducer = data.draw(st.sampled_from(sorted(REDUCERS)), label="reducer")
    event(f"reducer {reducer}")
    x = te.placeholder((rows, cols), dtype, name="X")
    k = te.reduce_axis((0, cols), name="k")
    out = te.compute((rows,), lambda i: getattr(te, reducer)(x[i, k], axis=k), name="Out")
    sched = tl.create_schedule(out)
    log: list[str] = [f"# Out[i] = te.{reducer}(X[i, k]) over a {rows}x{cols} {dtype} X"]
    main = StageDraw(data, sched, out, "Out", log)
    if data.draw(st.booleans(), label="rfactor"):
        reduce_axis = next(a for a in main.leaves if a.reduce)
        outer, inner = main.split(reduce_axis)
        factored_axis = data.draw(st.sampled_from([outer, inner]), label="rfactor axis")
        factored = sched.rfactor(out, factored_axis.itervar)
        log.append(f"OutF = s.rfactor(Out, {factored_axis.name})")
        event("uses rfactor")
        main = StageDraw(data, sched, out, "Out", log)
        main.transform(max_steps=2)
        main.annotate(allow_parallel=True)
        partial = StageDraw(data, sched, factored, "OutF", log)
        partial.place_in(main, allow_inline=False)
        partial.transform()
        partial.annotate(allow_parallel=not partial.attached)
    else:
        main.transform()
        main.annotate(allow_parallel=True)
    return DrawnSchedule(sched, [x], [out], log,
                         numpy=lambda a: [_quietly(REDUCERS[reducer], a, axis=1)])


def draw_elementwise_schedule(data, shapes, dtype: str = "float32") -> DrawnSchedule:
    """``Out = f(A, B)`` for a drawn function of :data:`ELEMENTWISE` (te.maximum,
    te.minimum, ops.relu, ...) on matrices of one of the ``shapes``, with random splits,
    fuses, reorders, vectorize, unroll and parallel."""
    from tensorlang import ops
    rows, cols = data.draw(st.sampled_from(list(shapes)), label="shape")
    function = data.draw(st.sampled_from(sorted(ELEMENTWISE)), label="function")
    event(f"element-wise {function}")
    a = te.placeholder((rows, cols), dtype, name="A")
    b = te.placeholder((rows, cols), dtype, name="B")
    if function == "relu":
        out, inputs = ops.relu(a), [a]
    else:
        fcompute, inputs = {
            "maximum": (lambda i, j: te.maximum(a[i, j], b[i, j]), [a, b]),
            "minimum": (lambda i, j: te.minimum(a[i, j], b[i, j]), [a, b]),
            "maximum with a constant": (lambda i, j: te.maximum(a[i, j], -1.0), [a]),
            "minimum of a sum": (lambda i, j: te.minimum(a[i, j] + b[i, j], b[i, j]), [a, b]),
        }[function]
        out = te.compute((rows, cols), fcompute, name="Out")
    sched = tl.create_schedule(out)
    log: list[str] = [f"# {out.op.name} = {function}(A, B) on {rows}x{cols} {dtype} "
                      f"matrices"]
    main = StageDraw(data, sched, out, out.op.name, log)
    main.transform()
    main.annotate(allow_parallel=True)
    return DrawnSchedule(sched, inputs, [out], log,
                         numpy=lambda *arrays: [_quietly(ELEMENTWISE[function], *arrays)])


def _quietly(function, *args, **kwargs):
    """numpy's result without its warnings about NaN and overflow."""
    with np.errstate(all="ignore"):
        return function(*args, **kwargs)


def unscheduled_workloads() -> list[DrawnSchedule]:
    """The default schedule of each workload (the starting point of every draw)."""
    from tensorlang import ops
    inputs, c = matmul(13, 17, 11)
    plain = [DrawnSchedule(tl.create_schedule(c), inputs, [c], ["# matmul, default schedule"])]
    x = te.placeholder((1, 3, 8, 8), name="data")
    w = te.placeholder((4, 3, 3, 3), name="kernel")
    out = ops.conv2d_nchw(x, w, 2, 1, 1)
    plain.append(DrawnSchedule(tl.create_schedule(out), [x, w], [out], ["# conv2d, default"]))
    x = te.placeholder((5, 11), name="x")
    out = ops.softmax(x, axis=-1)
    plain.append(DrawnSchedule(tl.create_schedule(out), [x], [out], ["# softmax, default"]))
    return plain


# ---------------------------------------------------------------------------------------
# inputs

def random_inputs(tensors, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.0, 1.0, size=tuple(extent_value(d) for d in t.shape))
            .astype(str(t.dtype)) for t in tensors]


def extent_value(dim) -> int:
    return int(getattr(dim, "value", dim))


# ---------------------------------------------------------------------------------------
# special values and memory layouts of arguments

#: the values numpy's NaN and infinity rules are about
SPECIAL_FLOATS = (float("nan"), float("inf"), float("-inf"), -0.0)
#: values whose sums and products over up to a dozen elements are exact in float16 and
#: wider, so that every reduction order gives numpy's result bit for bit
EXACT_FLOATS = (0.0, 0.5, 1.0, 2.0, -0.5, -1.0, -2.0)
#: how many of an input's elements are special: none, one (at a drawn position, where a
#: NaN's place decided the result of a compare-and-select max), some, or all
SPECIAL_DENSITIES = ("one", "sparse", "dense", "all", "none")


def draw_special_inputs(data, tensors) -> list[np.ndarray]:
    """Inputs for ``tensors`` mixing NaN, +-inf and -0.0 into exact small values."""
    arrays = []
    for tensor in tensors:
        shape = tuple(extent_value(d) for d in tensor.shape)
        size = int(np.prod(shape))
        density = data.draw(st.sampled_from(SPECIAL_DENSITIES), label=f"{tensor.name} specials")
        seed = data.draw(st.integers(0, 2 ** 32 - 1), label=f"{tensor.name} seed")
        event(f"special values {density}")
        rng = np.random.default_rng(seed)
        values = rng.choice(EXACT_FLOATS, size)
        if density == "one" and size:
            where = np.zeros(size, bool)
            where[data.draw(st.integers(0, size - 1), label=f"{tensor.name} special at")] = True
        else:
            where = rng.random(size) < {"none": 0.0, "one": 0.0, "sparse": 0.15,
                                        "dense": 0.6, "all": 1.0}[density]
        values[where] = rng.choice(SPECIAL_FLOATS, int(where.sum()))
        arrays.append(values.reshape(shape).astype(str(tensor.dtype)))
    return arrays


#: memory layouts an argument may come in; compiled calls must take every one
LAYOUTS = ("C-contiguous", "odd byte offset", "offset slice", "strided", "transposed",
           "reversed")


def draw_layout(data, array: np.ndarray, label: str) -> np.ndarray:
    """A writable array with ``array``'s shape and values in a drawn memory layout: C
    order; one byte off its dtype's alignment; a slice starting one element into a larger
    buffer (aligned to the element but not to a vector); every other element of a wider
    array; Fortran order (a transposed view); negative strides."""
    layout = data.draw(st.sampled_from(LAYOUTS), label=f"{label} layout")
    event(f"layout {layout}")
    shape, dtype = array.shape, array.dtype
    if layout == "odd byte offset":
        raw = np.zeros(array.nbytes + 1, np.uint8)
        view = raw[1:].view(dtype).reshape(shape)
    elif layout == "offset slice":
        view = np.zeros(array.size + 1, dtype)[1:].reshape(shape)
    elif layout == "strided" and array.ndim:
        dim = data.draw(st.integers(0, array.ndim - 1), label=f"{label} strided dimension")
        wide = list(shape)
        wide[dim] *= 2
        every_other = [slice(None)] * array.ndim
        every_other[dim] = slice(None, None, 2)
        view = np.zeros(wide, dtype)[tuple(every_other)]
    elif layout == "transposed":
        view = np.zeros(shape[::-1], dtype).T
    elif layout == "reversed" and array.ndim:
        view = np.zeros(shape, dtype)[(slice(None, None, -1),) * array.ndim]
    else:
        view = np.zeros(shape, dtype)
    view[...] = array
    return view


