"""Property test: simplified random integer expressions evaluate like the originals."""
import random

from hypothesis import given, settings, strategies as st

from tensorlang import tir
from tensorlang.tir import op
from tensorlang.tir.arith import Analyzer

VARS = [tir.var("x"), tir.var("y"), tir.var("z")]


def evaluate(e, env):
    """A tiny reference evaluator with Python's floor division and modulo."""
    t = type(e)
    if t is tir.IntImm:
        return e.value
    if t is tir.Var:
        return env[e]
    if t is tir.Not:
        return int(not evaluate(e.a, env))
    if t is tir.Select:
        return evaluate(e.true_value if evaluate(e.condition, env) else e.false_value, env)
    if t is tir.Cast:
        return evaluate(e.value, env)
    a, b = evaluate(e.a, env), evaluate(e.b, env)
    return {tir.Add: lambda: a + b, tir.Sub: lambda: a - b, tir.Mul: lambda: a * b,
            tir.FloorDiv: lambda: a // b, tir.FloorMod: lambda: a % b,
            tir.Min: lambda: min(a, b), tir.Max: lambda: max(a, b),
            tir.LT: lambda: int(a < b), tir.LE: lambda: int(a <= b),
            tir.GT: lambda: int(a > b), tir.GE: lambda: int(a >= b),
            tir.EQ: lambda: int(a == b), tir.NE: lambda: int(a != b),
            tir.And: lambda: int(a and b), tir.Or: lambda: int(a or b),
            tir.BitwiseAnd: lambda: a & b, tir.BitwiseOr: lambda: a | b,
            tir.BitwiseXor: lambda: a ^ b, tir.ShiftRight: lambda: a >> b}[t]()


leaves = st.one_of(st.sampled_from(VARS), st.integers(-20, 20).map(tir.const))
nonzero = st.integers(-9, 9).filter(lambda c: c != 0)


def _extend(children):
    binary = st.tuples(st.sampled_from(["+", "-", "*", "min", "max", "&", "|", "^"]),
                       children, children)
    by_const = st.tuples(st.sampled_from(["//", "%", "*c"]), children, nonzero)
    # masks and shifts by constants: the bound rules of x & c and x >> c
    bitwise = st.tuples(st.sampled_from(["&c", ">>c"]), children, st.integers(0, 9))
    selects = st.tuples(st.just("select"), st.tuples(st.sampled_from(["<", "<=", "=="]),
                                                     children, children), children, children)
    return st.one_of(binary, by_const, bitwise, selects).map(_build)


def _build(spec):
    kind = spec[0]
    if kind == "select":
        cmp, a, b = spec[1]
        cond = {"<": op.lt, "<=": op.le, "==": op.eq}[cmp](a, b)
        return op.select(cond, spec[2], spec[3])
    a, b = spec[1], spec[2]
    if kind == "*":
        # keep products of variables small: one side a constant or a leaf
        return op.mul(a, b) if isinstance(b, (tir.IntImm, tir.Var)) else op.add(a, b)
    if kind == "*c":
        return op.mul(a, b)
    if kind == "&c":
        return op.bitwise_and(a, (1 << b) - 1 if b % 2 else b)
    return {"+": op.add, "-": op.sub, "min": op.minimum, "max": op.maximum,
            "//": op.floordiv, "%": op.floormod, "&": op.bitwise_and, "|": op.bitwise_or,
            "^": op.bitwise_xor, ">>c": op.shift_right}[kind](a, b)


expressions = st.recursive(leaves, _extend, max_leaves=12)
ranges = st.tuples(st.integers(-12, 12), st.integers(1, 12))


@settings(max_examples=300, deadline=None)
@given(expressions, st.lists(ranges, min_size=3, max_size=3), st.integers(0, 2**32))
def test_simplified_expression_evaluates_equal(expr, var_ranges, seed):
    analyzer = Analyzer()
    for var, (lo, extent) in zip(VARS, var_ranges):
        analyzer.bind(var, (lo, extent))
    simplified = analyzer.simplify(expr)
    assert simplified.dtype == expr.dtype
    rnd = random.Random(seed)
    for _ in range(25):
        env = {var: rnd.randrange(lo, lo + extent) for var, (lo, extent) in
               zip(VARS, var_ranges)}
        assert evaluate(simplified, env) == evaluate(expr, env), \
            f"{expr} -> {simplified} differs at {env}"
    bound = analyzer.const_int_bound(expr)
    value = evaluate(expr, env)
    assert bound.min_value <= value <= bound.max_value


@settings(max_examples=150, deadline=None)
@given(expressions, expressions, st.lists(ranges, min_size=3, max_size=3))
def test_comparison_proofs_are_sound(a, b, var_ranges):
    analyzer = Analyzer()
    for var, (lo, extent) in zip(VARS, var_ranges):
        analyzer.bind(var, (lo, extent))
    proven = analyzer.can_prove(a < b)
    disproven = analyzer.can_prove(a >= b)
    assert not (proven and disproven)
    rnd = random.Random(0)
    for _ in range(25):
        env = {var: rnd.randrange(lo, lo + extent) for var, (lo, extent) in
               zip(VARS, var_ranges)}
        if proven:
            assert evaluate(a, env) < evaluate(b, env)
        if disproven:
            assert evaluate(a, env) >= evaluate(b, env)


@settings(max_examples=150, deadline=None)
@given(expressions, st.lists(ranges, min_size=3, max_size=3))
def test_simplify_is_idempotent_enough(expr, var_ranges):
    analyzer = Analyzer()
    for var, (lo, extent) in zip(VARS, var_ranges):
        analyzer.bind(var, (lo, extent))
    once = analyzer.simplify(expr)
    twice = analyzer.simplify(once)
    rnd = random.Random(1)
    for _ in range(10):
        env = {var: rnd.randrange(lo, lo + extent) for var, (lo, extent) in
               zip(VARS, var_ranges)}
        assert evaluate(once, env) == evaluate(twice, env)
