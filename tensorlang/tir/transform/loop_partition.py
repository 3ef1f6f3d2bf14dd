"""Loop partitioning: peel the iterations where a guard may fail off the loop.

Lowering ``split(x, factor=8)`` on an extent of 100 guards the body with
``if xo*8 + xi < 100``.  For a loop whose body holds guards linear in its variable, this
pass solves each guard for the range of the variable where it holds for every value of the
inner loops, and splits the loop into

    head  [min, main_min)          guards kept
    main  [main_min, main_end)     guards proven, removed
    tail  [main_end, min + extent) guards kept

The outermost loop a guard depends on is the one partitioned, so inner vectorized and
unrolled loops of the main part carry no guard; head and tail are simplified (an
extent-1 tail becomes straight-line code) and partitioned again for the inner loops.
A parallel loop is not cut into pieces (a head or tail would run on one thread): each
of its iterations branches to the guard-free body in the main range, to the guarded one
elsewhere.
Guards are ``if`` conditions (each conjunct of an ``and`` counts alone) and conditions
wrapped in ``likely(...)`` calls.  Loops are partitioned for ``likely`` conditions inside
expressions (padding inlined into its reader) while the statements the copies would run,
counted as fully unrolled, stay within :data:`LIKELY_GROWTH_BUDGET` for the whole
function: copies of a convolution's reduction would multiply its code, and compile time,
several-fold for selects that cost little at run time; a pooling window's few
statements are worth peeling.  Where no iteration satisfies the ``likely`` guards and
the ``if`` guards together (a row of two vectors whose first starts in the padding and
whose last runs past the row), the loop is partitioned for its ``if`` guards alone.
"""
from __future__ import annotations

from .. import expr as E
from .. import op as _op
from .. import stmt as S
from ..op import is_const_int
from ..arith import Analyzer, is_pos_inf
from ..arith.canonical import from_sum, to_sum
from ..analysis import free_vars
from ..functor import Mutator, Visitor
from .simplify import StmtSimplifier, bind_shape_vars
from .unroll import step_count

_LIKELY = ("likely", "tl.likely")
_TRUE = _op.const(True)
#: most statements (counted as unrolled) that partitioning loops for ``likely`` guards
#: in expressions may add to a function
LIKELY_GROWTH_BUDGET = 128


def _conjuncts(cond):
    if type(cond) is E.And:
        return _conjuncts(cond.a) + _conjuncts(cond.b)
    return [cond]


class _GuardVarCollector(Visitor):
    """The variables that occur in any guard of a statement (a cheap pre-filter: only
    loops over these variables can be partitioned)."""

    def __init__(self):
        self.found: set = set()
        self.has_likely = False

    def visit_IfThenElse(self, node: S.IfThenElse):
        self.found |= set(free_vars(node.condition))
        self.generic_visit(node)

    def visit_Call(self, node: E.Call):
        if node.op in _LIKELY and node.args:
            self.has_likely = True
            self.found |= set(free_vars(node.args[0]))
        self.generic_visit(node)


class _GuardCollector(Visitor):
    """Finds the guard conditions below a loop that mention its variable, with the
    domains of the inner loops around each, and every variable defined inside."""

    def __init__(self, loop_var: E.Var, scan_expressions: bool, free_vars):
        self.loop_var = loop_var
        self.domains: dict[E.Var, E.Range] = {}
        self.defined: set[E.Var] = {loop_var}
        #: (condition, inner-loop domains, whether an ``if`` holds it: otherwise it is a
        #: likely(...) inside an expression)
        self.guards: list[tuple[E.PrimExpr, dict, bool]] = []
        self.scan_expressions = scan_expressions
        self.free_vars = free_vars

    def record(self, cond, statement: bool) -> None:
        for part in _conjuncts(cond):
            if self.loop_var in self.free_vars(part):
                self.guards.append((part, dict(self.domains), statement))

    def visit_PrimExpr(self, node):
        # only likely(...) calls matter inside expressions
        if self.scan_expressions:
            self.generic_visit(node)

    def visit_For(self, node: S.For):
        self.defined.add(node.loop_var)
        self.domains[node.loop_var] = E.Range(node.min, node.extent)
        self.visit(node.body)
        del self.domains[node.loop_var]

    def visit_LetStmt(self, node: S.LetStmt):
        self.defined.add(node.var)
        self.generic_visit(node)

    def visit_IfThenElse(self, node: S.IfThenElse):
        self.record(node.condition, True)
        self.generic_visit(node)

    def visit_Call(self, node: E.Call):
        if node.op in _LIKELY and node.args:
            self.record(node.args[0], False)
        self.generic_visit(node)


class _GuardRemover(Mutator):
    """Replaces the decided guard conjuncts (by identity) with ``value``: True in the
    main part, False in a head or tail where the one guard bounding it is exact."""

    def __init__(self, proven: set[int], scan_expressions: bool, value: bool = True):
        self.proven = proven
        self.scan_expressions = scan_expressions
        self.value = _op.const(value)

    def visit_PrimExpr(self, node):
        return self.generic_visit(node) if self.scan_expressions else node

    def strip(self, cond):
        if id(cond) in self.proven:
            return self.value
        if type(cond) is E.Call and cond.op in _LIKELY and cond.args \
                and id(cond.args[0]) in self.proven:
            return self.value
        if type(cond) is E.And:
            a, b = self.strip(cond.a), self.strip(cond.b)
            if a is cond.a and b is cond.b:
                return cond
            return _op.logical_and(a, b)
        return cond

    def visit_IfThenElse(self, node: S.IfThenElse):
        cond = self.strip(node.condition)
        then_case = self.visit(node.then_case)
        else_case = None if node.else_case is None else self.visit(node.else_case)
        if type(cond) is E.IntImm:
            if cond.value:
                return then_case
            return S.NO_OP if else_case is None else else_case
        return node.replace(condition=cond, then_case=then_case, else_case=else_case)

    def visit_Call(self, node: E.Call):
        if node.op in _LIKELY and node.args:
            cond = self.strip(node.args[0])
            if type(cond) is E.IntImm:
                return cond
            if cond is not node.args[0]:
                return node.replace(args=(cond,) + tuple(node.args[1:]))
        return self.generic_visit(node)


class _GuardPruner(StmtSimplifier):
    """The statement part of the simplify pass: drops branches whose guard is decided
    and loops left empty, without rewriting stored values and indices (the simplify
    pass that follows partitioning does that once, at the end)."""

    def visit_BufferStore(self, node):
        return node

    def visit_Evaluate(self, node):
        return node


class _Partitioner(Mutator):
    def __init__(self, guard_vars: set, has_likely: bool):
        self.analyzer = Analyzer()
        # loops produced by partitioning (kept alive here, compared by identity)
        self.done: dict[int, S.For] = {}
        self.guard_vars = guard_vars
        self.has_likely = has_likely
        self.free_var_cache: dict[int, tuple[object, set]] = {}
        #: statements added so far by partitions for likely guards alone
        self.likely_growth = 0

    def free_vars(self, e) -> set:
        hit = self.free_var_cache.get(id(e))
        if hit is None:
            hit = self.free_var_cache[id(e)] = (e, set(free_vars(e)))
        return hit[1]

    def visit_PrimExpr(self, node):
        return node

    def visit_For(self, node: S.For):
        if node.loop_var in self.guard_vars and id(node) not in self.done \
                and node.kind != S.ForKind.THREAD_BINDING and not is_const_int(node.extent, 1):
            partitioned = self.partition(node)
            if partitioned is not None:
                return self.visit(partitioned)
        with self.analyzer.scope(node.loop_var, E.Range(node.min, node.extent)):
            body = self.visit(node.body)
        return node.replace(body=body)

    def visit_LetStmt(self, node: S.LetStmt):
        if node.value.dtype.is_integer and node.value.dtype.lanes == 1:
            with self.analyzer.scope(node.var, node.value):
                return node.replace(body=self.visit(node.body))
        return node.replace(body=self.visit(node.body))

    # -- solving guards --------------------------------------------------------------
    def solve(self, cond, loop_var, domains: dict, defined: set):
        """``(lower, upper, exact)`` bounds on ``loop_var`` (either may be None) within
        which ``cond`` holds for all inner-loop values; ``exact`` when the guard does not
        depend on inner loops, so that it fails everywhere outside the bound.  None when
        the guard is not linear."""
        t = type(cond)
        if t not in (E.LT, E.LE, E.GT, E.GE) or not cond.a.dtype.is_integer \
                or cond.a.dtype.lanes != 1:
            return None
        # every form becomes  diff <= limit
        a, b = (cond.a, cond.b) if t in (E.LT, E.LE) else (cond.b, cond.a)
        limit = -1 if t in (E.LT, E.GT) else 0
        keys = self.analyzer.keys
        diff = to_sum(self.analyzer.simplify(_op.sub(a, b)), keys)
        var_key = keys(loop_var)
        coef = diff.coefficient(var_key)
        if coef == 0:
            return None
        del diff.terms[var_key]
        rest = from_sum(diff)
        if loop_var in set(free_vars(rest)):
            return None  # the variable also hides inside a non-linear term
        rest_vars = set(free_vars(rest))
        exact = not (rest_vars & defined) and not any(v in domains for v in rest_vars)
        rest_max = rest if exact else self.analyzer.int_set(rest, domains).max_value
        if is_pos_inf(rest_max) or set(free_vars(rest_max)) & defined:
            return None
        room = _op.sub(_op.const(limit, rest_max.dtype), rest_max)
        if coef > 0:
            return None, self.analyzer.simplify(_op.floordiv(room, coef)), exact
        # coef*v <= room with coef < 0:  v >= ceil(-room / -coef)
        m = -coef
        return (self.analyzer.simplify(_op.floordiv(_op.add(_op.neg(room), m - 1), m)), None,
                exact)

    def _main_range(self, loop: S.For, guards, collector, begin, end):
        """Bounds of the guards on ``loop``'s variable and the main range where all of
        them hold within ``[begin, end)``, or None when none can be solved or no iteration
        satisfies them all."""
        lowers, uppers, proven, failed = [], [], set(), set()
        for cond, domains, _ in guards:
            solved = self.solve(cond, loop.loop_var, domains, collector.defined)
            if solved is None:
                failed.add(id(cond))
                continue
            lo, hi, exact = solved
            if lo is not None:
                lowers.append((lo, id(cond), exact))
            if hi is not None:
                uppers.append((hi, id(cond), exact))
            proven.add(id(cond))
        proven -= failed
        if not proven:
            return None
        a = self.analyzer
        var_type = loop.loop_var.dtype
        main_begin, main_end = begin, end
        for lo, _, _ in lowers:
            main_begin = _op.maximum(main_begin, _op.cast(lo, var_type))
        for hi, _, _ in uppers:
            main_end = _op.minimum(main_end, _op.add(_op.cast(hi, var_type), 1))
        # clamp so that head, main and tail tile [begin, end) exactly
        main_begin = a.simplify(_op.minimum(main_begin, end))
        main_end = a.simplify(_op.maximum(main_end, main_begin))
        main_extent = a.simplify(_op.sub(main_end, main_begin))
        if type(main_extent) is E.IntImm and main_extent.value <= 0:
            return None
        return lowers, uppers, proven, failed, main_begin, main_end, main_extent

    def partition(self, loop: S.For):
        collector = _GuardCollector(loop.loop_var, self.has_likely, self.free_vars)
        collector.visit(loop.body)
        guards = collector.guards
        body_size = 0
        if any(not statement for _, _, statement in guards):
            if loop.kind == S.ForKind.VECTORIZED:
                # guarded values inside a vector (padding) become masked lanes, which
                # beats peeling lanes into odd-width vectors
                keep_likely = False
            else:
                # every statement the body runs (a vectorized loop as one), which is the
                # code it becomes where LLVM or a pragma unrolls it
                steps = step_count(loop.body)
                body_size = LIKELY_GROWTH_BUDGET + 1 if steps is None else steps
                keep_likely = self.likely_growth + 2 * body_size <= LIKELY_GROWTH_BUDGET
            if not keep_likely:
                guards = [g for g in guards if g[2]]
        if not guards:
            return None
        a = self.analyzer
        begin = loop.min
        end = a.simplify(_op.add(loop.min, loop.extent))
        solved = self._main_range(loop, guards, collector, begin, end)
        if solved is None and any(not statement for _, _, statement in guards):
            # window guards (likely) that no iteration satisfies together with the rest
            # (a 2-trip loop whose first trip starts at the padding and whose last runs
            # past the row) must not stop the peeling of an ``if`` guard's tail
            guards = [g for g in guards if g[2]]
            solved = self._main_range(loop, guards, collector, begin, end)
        if solved is None:
            return None
        lowers, uppers, proven, failed, main_begin, main_end, main_extent = solved
        likely_ids = {id(cond) for cond, _, statement in guards if not statement}
        fixed_width = loop.kind in (S.ForKind.VECTORIZED, S.ForKind.UNROLLED)
        if fixed_width and type(main_extent) is not E.IntImm:
            # a vectorized/unrolled loop needs constant extents: keep it whole, guarded
            return None
        main_body = _GuardRemover(proven, self.has_likely).visit(loop.body)
        if loop.kind == S.ForKind.PARALLEL:
            if proven & likely_ids:
                self.likely_growth += body_size
            return self._split_in_place(loop, begin, end, main_begin, main_end, main_body)
        main = loop.replace(min=main_begin, extent=main_extent, body=main_body)
        pieces = []
        for lo, hi, bounds in ((begin, main_begin, lowers), (main_end, end, uppers)):
            extent = a.simplify(_op.sub(hi, lo))
            if type(extent) is E.IntImm and extent.value <= 0:
                pieces.append(None)
                continue
            kind = loop.kind
            if fixed_width and type(extent) is not E.IntImm:
                kind = S.ForKind.SERIAL
            body = loop.body
            if len(bounds) == 1 and bounds[0][2] and bounds[0][1] not in failed:
                # the only guard bounding this piece fails on all of it: drop what it guards
                body = _GuardRemover({bounds[0][1]}, self.has_likely, False).visit(body)
            # sibling loops may share the loop variable: each defines it in its own scope
            pieces.append(loop.replace(min=lo, extent=extent, kind=kind, body=body))
        # head and tail are simplified now, so that guards they prove false vanish before
        # their inner loops are considered; the main part is left as it is (cheaper)
        head, tail = (None if p is None else _GuardPruner(self.analyzer).visit(p)
                      for p in pieces)
        if proven & likely_ids:
            self.likely_growth += body_size * sum(p is not None for p in (head, tail))
        for piece in (head, main, tail):
            # not partitioned again over the same variable (their inner loops may be)
            if isinstance(piece, S.For) and piece.loop_var is loop.loop_var:
                self.done[id(piece)] = piece
        return S.seq(head, main, tail)


    def _split_in_place(self, loop: S.For, begin, end, main_begin, main_end, main_body):
        """A parallel loop keeps every iteration: its head and tail, peeled off, would
        run on one thread after it (and a loop of two tiles, one of them partial, not in
        parallel at all).  Each iteration runs the guard-free body in the main range and
        the guarded one elsewhere."""
        var, a = loop.loop_var, self.analyzer
        conds = [c for c, proven in ((_op.ge(var, main_begin), a.can_prove(
                                         _op.le(main_begin, begin))),
                                     (_op.lt(var, main_end), a.can_prove(
                                         _op.ge(main_end, end))))
                 if not proven]
        body = main_body
        if conds:
            cond = conds[0] if len(conds) == 1 else _op.logical_and(*conds)
            body = S.IfThenElse(cond, main_body, loop.body)
        whole = loop.replace(body=body)
        self.done[id(whole)] = whole
        return whole


def partition_loops(func: S.PrimFunc) -> S.PrimFunc:
    """Split loops at the bounds of their guards so the main part runs guard-free
    (the same object when no loop has a guard to solve)."""
    guards = _GuardVarCollector()
    guards.visit(func.body)
    if not guards.found:
        return func
    partitioner = _Partitioner(guards.found, guards.has_likely)
    bind_shape_vars(partitioner.analyzer, func)
    body = partitioner.visit(func.body)
    return func.replace(body=body)
