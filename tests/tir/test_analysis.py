"""tir.analysis: the shared questions about an IR tree."""
from tensorlang.tir import BufferStore, analysis, decl_buffer, var


def test_free_vars_in_order_of_appearance_each_once():
    x, y, z = var("x"), var("y"), var("z")
    e = (y + x) * y + z
    assert analysis.free_vars(e) == [y, x, z]
    assert analysis.free_vars((z, x)) == [z, x]
    assert analysis.free_vars(7) == []


def test_uses_var():
    x, y = var("x"), var("y")
    assert analysis.uses_var(x * 2 + 1, x)
    assert not analysis.uses_var(x * 2 + 1, y)
    assert not analysis.uses_var(3, x)


def test_loads_and_stores_of_a_buffer():
    A = decl_buffer((8,), "float32", "A")
    B = decl_buffer((8,), "float32", "B")
    i = var("i")
    body = BufferStore(B, A[i] + A[i + 1] + B[i], (i,))
    assert len(analysis.buffer_loads(body)) == 3
    assert [ld.indices[0] for ld in analysis.buffer_loads(body, A)][0] is i
    assert len(analysis.buffer_loads(body, B)) == 1
    assert analysis.stored_buffers(body) == {B}
    assert analysis.buffer_stores(body, A) == []


def test_accesses_from_one_walk_and_loaded_buffers():
    A = decl_buffer((8,), "float32", "A")
    B = decl_buffer((8,), "float32", "B")
    i = var("i")
    body = BufferStore(B, A[i] + B[i], (i,))
    loads, stores = analysis.buffer_accesses(body)
    assert [ld.buffer for ld in loads] == [A, B]
    assert stores == [body]
    assert analysis.loaded_buffers(body) == {A, B}
    assert analysis.loaded_buffers(A[i]) == {A}
