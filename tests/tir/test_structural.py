"""Structural equality and hashing: every field that shapes generated code counts, bound
variables compare by their place of definition, and separately built IR hashes alike."""
import tensorlang as tl
from tensorlang import te, tir
from tensorlang.tir import (Allocate, BufferStore, For, ForKind, LetStmt, PrimFunc,
                            const, decl_buffer, structural_equal, structural_hash)
from tensorlang.tir.buffer import Buffer


def tiled(n=64):
    A = te.placeholder((n, n), name="A")
    B = te.placeholder((n, n), name="B")
    k = te.reduce_axis((0, n), name="k")
    C = te.compute((n, n), lambda x, y: te.sum(A[x, k] * B[k, y], axis=k), name="C")
    s = tl.create_schedule(C)
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], 8, 8)
    s[C].vectorize(yi)
    s[C].parallel(xo)
    return tl.lower(s, [A, B, C])


def copy(i_dtype="int32", strides=(), kind=ForKind.SERIAL, offset=0, scope="local",
         value=None, name="f", i_name="i"):
    """``B[i] = T[i]`` through a local buffer ``T``, with the given details."""
    A = decl_buffer((16,), "float32", "A")
    B = Buffer("B", (const(16),), tir.dtype("float32"), "global",
               tuple(const(s) for s in strides))
    T = decl_buffer((16,), "float32", "T", scope=scope)
    i = tir.var(i_name, i_dtype)
    j = tir.var("j")
    fill = For(j, const(0), const(16), ForKind.SERIAL,
               BufferStore(T, A[j] if value is None else value, (j,)))
    use = For(i, const(0, i_dtype), const(16, i_dtype), kind,
              BufferStore(B, T[i + offset], (i,)))
    return PrimFunc(name, (A, B), Allocate(T, tir.seq(fill, use)))


def keys(a, b):
    return structural_hash(a), structural_hash(b)


def test_separately_lowered_functions_are_equal_and_hash_alike():
    first, second = tiled(), tiled()
    assert first is not second
    assert structural_equal(first, second)
    assert structural_hash(first) == structural_hash(second)
    assert structural_hash(first, names=True) == structural_hash(second, names=True)
    assert structural_hash(first) != structural_hash(tiled(32))


def test_bound_variables_compare_by_position_names_only_with_names():
    a, b = copy(i_name="i"), copy(i_name="other")
    assert structural_equal(a, b)
    assert structural_hash(a) == structural_hash(b)
    assert structural_hash(a, names=True) != structural_hash(b, names=True)


def test_each_code_shaping_detail_changes_the_key():
    base = copy()
    variants = {
        "loop variable int64": copy(i_dtype="int64"),
        "stride": copy(strides=(2,)),
        "index offset": copy(offset=1),
        "scope": copy(scope="shared"),
        "loop kind": copy(kind=ForKind.PARALLEL),
        "function name": copy(name="g"),
    }
    for what, variant in variants.items():
        assert not structural_equal(base, variant), what
        assert structural_hash(base) != structural_hash(variant), what
    assert not structural_equal(copy(strides=(2,)), copy(strides=(3,)))


def test_constants_compare_by_type_and_bits():
    assert keys(const(0.0), const(-0.0))[0] != keys(const(0.0), const(-0.0))[1]
    assert not structural_equal(const(0.0), const(-0.0))
    assert structural_equal(const(float("nan")), const(float("nan")))
    assert len(set(keys(const(float("nan")), const(float("nan"))))) == 1
    assert not structural_equal(const(1, "int32"), const(1, "int64"))
    assert not structural_equal(const(1.0, "float32"), const(1.0, "float64"))
    assert not structural_equal(const(True), const(1))


def test_calls_loops_and_attributes():
    x = tir.var("x", "float32")
    assert not structural_equal(tir.call_intrin("exp", x), tir.call_intrin("log", x))
    i = tir.var("i")
    A = decl_buffer((8,), "float32", "A")
    body = BufferStore(A, const(1.0), (i,))
    loop = For(i, const(0), const(8), ForKind.THREAD_BINDING, body, thread_tag="threadIdx.x")
    assert not structural_equal(loop, loop.replace(thread_tag="threadIdx.y"))
    assert not structural_equal(loop, loop.replace(annotations=(("pragma_unroll", 1),)))
    assert not structural_equal(loop.replace(annotations=(("pragma_unroll", 1),)),
                                loop.replace(annotations=(("pragma_unroll", True),)))
    func = PrimFunc("f", (A,), loop)
    assert not structural_equal(func, func.with_attr("global_symbol", "g"))
    assert structural_hash(func) != structural_hash(func.with_attr("global_symbol", "g"))


def test_free_variables_by_identity_unless_mapped():
    x, y = tir.var("x"), tir.var("y")
    assert not structural_equal(x + 1, y + 1)
    assert structural_equal(x + 1, y + 1, map_free_vars=True)
    assert structural_hash(x + 1) == structural_hash(y + 1)
    assert not structural_equal(x + y, x + x, map_free_vars=True)
    assert not structural_equal(tir.var("x", "int64") + 1, x + 1, map_free_vars=True)


def test_parameters_bind_by_position_with_their_shape_variables():
    def saxpy(n_name):
        n = tir.var(n_name)
        X, Y = decl_buffer((n,), "float32", "X"), decl_buffer((n,), "float32", "Y")
        i = tir.var("i")
        return PrimFunc("saxpy", (X, Y), For(i, const(0), n, ForKind.SERIAL,
                                             BufferStore(Y, X[i], (i,))))
    assert structural_equal(saxpy("n"), saxpy("m"))
    a, b = saxpy("n"), saxpy("n")
    assert structural_hash(a, names=True) == structural_hash(b, names=True)
    swapped = a.replace(params=a.params[::-1])
    assert not structural_equal(a, swapped)


def test_scopes_end_with_their_binding_node():
    i, j = tir.var("i"), tir.var("j")
    A = decl_buffer((8,), "float32", "A")

    def loop(v, body):
        return For(v, const(0), const(8), ForKind.SERIAL, body)
    # the inner loop shadows i; the store after it uses the outer i (or j, a new one)
    shadowed = loop(i, tir.seq(loop(i, BufferStore(A, const(0.0), (i,))),
                               BufferStore(A, const(1.0), (i,))))
    renamed = loop(i, tir.seq(loop(j, BufferStore(A, const(0.0), (j,))),
                              BufferStore(A, const(1.0), (j,))))
    assert not structural_equal(shadowed, renamed, map_free_vars=True)
    # j = i + 1 defines j for the body only; i stays free
    let_j = LetStmt(j, i + 1, BufferStore(A, const(0.0), (j,)))
    assert structural_equal(let_j, LetStmt(i, i + 1, BufferStore(A, const(0.0), (i,))))
    assert not structural_equal(let_j, LetStmt(j, i + 1, BufferStore(A, const(0.0), (i,))))


def test_reductions_map_their_axes():
    def reduce_expr(name, reducer=te.sum):
        A = te.placeholder((16,), name="A")
        k = te.reduce_axis((0, 16), name=name)
        return A, reducer(A[k], axis=k)
    A, first = reduce_expr("k")
    _, second = reduce_expr("r")
    assert not structural_equal(first, second)  # different tensors A
    assert structural_equal(first, second, map_free_vars=True)
    _, other = reduce_expr("k", te.max)
    assert not structural_equal(first, other, map_free_vars=True)
