"""Before/after cases of loop unrolling."""
from tensorlang import tir
from tensorlang.tir import op
from tensorlang.tir import (Allocate, AttrStmt, BufferStore, For, ForKind, PrimFunc,
                            SeqStmt, decl_buffer, structural_equal)
from tensorlang.tir.transform.unroll import unroll_loops
from tensorlang.tir.verify import verify


def loop(var, extent, body, kind=ForKind.SERIAL, annotations=()):
    return For(var, op.const(0, var.dtype), op.convert(extent), kind, body,
               annotations=annotations)


def unrolled(func, **options):
    result = unroll_loops(func, **options)
    verify(result)
    return result


def loops_of(stmt):
    found = []
    tir.post_order_visit(stmt, lambda n: found.append(n) if isinstance(n, For) else None)
    return found


A = decl_buffer((8, 100), "float32", "A")
C = decl_buffer((8, 100), "float32", "C")
i, j, k = tir.var("i"), tir.var("j"), tir.var("k")
ZERO = op.const(0)


def test_unrolled_loop_becomes_the_sequence_of_its_bodies():
    body = BufferStore(C, A[i, k] * 2.0, (i, k))
    func = PrimFunc("u", (A, C), loop(i, 8, loop(k, 3, body, ForKind.UNROLLED)))
    expected = tir.seq(*(BufferStore(C, A[i, op.const(n)] * 2.0, (i, op.const(n)))
                         for n in range(3)))
    assert structural_equal(unrolled(func).body, loop(i, 8, expected))


def test_loop_min_is_added_to_each_copy():
    body = BufferStore(C, A[i, k], (i, k))
    start = i * 2
    func = PrimFunc("u", (A, C), loop(i, 8, For(k, start, op.const(2), ForKind.UNROLLED,
                                                body)))
    copies = unrolled(func).body.body
    assert isinstance(copies, SeqStmt) and len(copies.seq) == 2
    assert structural_equal(copies.seq[1].indices[1], start + 1)


def test_inner_definitions_get_fresh_variables_in_each_copy():
    local = decl_buffer((2,), "float32", "local", scope="local")
    inner = loop(j, 2, BufferStore(local, A[i, k * 2 + j], (j,)))
    body = Allocate(local, tir.seq(inner, BufferStore(C, local[0] + local[1], (i, k))))
    func = PrimFunc("u", (A, C), loop(i, 8, loop(k, 3, body, ForKind.UNROLLED)))
    result = unrolled(func)
    inner_loops = loops_of(result.body)[:-1]
    assert len(inner_loops) == 3
    assert len({id(f.loop_var) for f in inner_loops}) == 3
    allocations = []
    tir.post_order_visit(result.body, lambda n: allocations.append(n.buffer)
                         if isinstance(n, Allocate) else None)
    assert len({id(b) for b in allocations}) == 3


def test_long_and_symbolic_unroll_loops_stay_loops_with_a_hint():
    body = BufferStore(C, A[ZERO, k], (ZERO, k))
    func = PrimFunc("u", (A, C), loop(k, 100, body, ForKind.UNROLLED))
    result = unrolled(func)
    assert result.body.kind == ForKind.SERIAL
    assert dict(result.body.annotations)["unroll_hint"] == 1
    n = tir.var("n")
    func = PrimFunc("s", (A, C, n), loop(k, n, body, ForKind.UNROLLED))
    assert dict(unrolled(func).body.annotations)["unroll_hint"] == 1


def test_unroll_cap_is_configurable():
    body = BufferStore(C, A[ZERO, k], (ZERO, k))
    func = PrimFunc("u", (A, C), loop(k, 100, body, ForKind.UNROLLED))
    result = unrolled(func, max_extent=128)
    assert not loops_of(result.body) and len(result.body.seq) == 100
    func = PrimFunc("u", (A, C), loop(k, 8, body, ForKind.UNROLLED))
    assert loops_of(unrolled(func, max_extent=4).body)


def test_auto_unroll_max_step_annotation_unrolls_small_inner_nests():
    body = BufferStore(C, A[i, j * 4 + k], (i, j * 4 + k))
    nest = loop(j, 2, loop(k, 4, body))
    func = PrimFunc("a", (A, C), loop(i, 8, nest,
                                      annotations=(("auto_unroll_max_step", 8),)))
    result = unrolled(func)
    remaining = loops_of(result.body)
    assert len(remaining) == 1 and remaining[0].loop_var is i  # the 8*8 nest is too big
    assert len(result.body.body.seq) == 8


def test_auto_unroll_max_step_attribute_covers_the_loop_itself():
    body = BufferStore(C, A[i, k], (i, k))
    nest = loop(i, 2, loop(k, 3, body))
    func = PrimFunc("a", (A, C), AttrStmt(i, "pragma_auto_unroll_max_step", op.const(6),
                                          nest))
    result = unrolled(func)
    assert not loops_of(result.body) and len(result.body.body.seq) == 6
    small = PrimFunc("b", (A, C), AttrStmt(i, "pragma_auto_unroll_max_step", op.const(4),
                                           loop(i, 2, loop(k, 3, body))))
    assert [f.loop_var for f in loops_of(unrolled(small).body)] == [i]


def test_zero_extent_unroll_disappears_and_unchanged_function_is_kept():
    body = BufferStore(C, A[ZERO, k], (ZERO, k))
    func = PrimFunc("z", (A, C), tir.seq(loop(k, 0, body, ForKind.UNROLLED),
                                        BufferStore(C, A[ZERO, ZERO], (ZERO, ZERO))))
    result = unrolled(func)
    assert not loops_of(result.body)
    plain = PrimFunc("p", (A, C), loop(k, 4, body))
    assert unroll_loops(plain) is plain
