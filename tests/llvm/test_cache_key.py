"""The compile cache keys on the structural hash of the IR: a separately built, equal
function hits; a change of a type, a stride, a loop kind or a name misses."""
import numpy as np
import pytest

from tensorlang import tir
from tensorlang.target.llvm import build
from tensorlang.target.llvm import codegen as codegen_module
from tensorlang.tir import BufferStore, For, ForKind, PrimFunc, const
from tensorlang.tir.buffer import Buffer


def scale(i_dtype="int32", stride=1, kind=ForKind.SERIAL, out_name="Out", factor=2.0):
    """``Out[i] = X[i] * factor`` over 16 elements (``Out`` with the given stride)."""
    X = Buffer("X", (const(16),), tir.dtype("float32"))
    strides = () if stride == 1 else (const(stride),)
    Out = Buffer(out_name, (const(16),), tir.dtype("float32"), "global", strides)
    i = tir.var("i", i_dtype)
    body = BufferStore(Out, X[i] * factor, (i,))
    return PrimFunc("scale", (X, Out), For(i, const(0, i_dtype), const(16, i_dtype), kind, body))


@pytest.fixture
def no_codegen(monkeypatch, tmp_path):
    """Fill the cache with ``scale()``, then make code generation fail."""
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path))
    build(scale(), "llvm")

    def fail(*args, **kwargs):
        raise AssertionError("code generation ran")
    monkeypatch.setattr(codegen_module.CodeGenLLVM, "generate", fail)


def test_an_equal_separately_built_function_hits(no_codegen):
    mod = build(scale(), "llvm")
    x, out = np.arange(16, dtype="float32"), np.zeros(16, "float32")
    mod(x, out)
    np.testing.assert_array_equal(out, 2 * x)


@pytest.mark.parametrize("change", [dict(i_dtype="int64"), dict(kind=ForKind.PARALLEL),
                                    dict(out_name="Y"), dict(factor=-0.0),
                                    dict(factor=2.5)])
def test_a_code_shaping_change_misses(no_codegen, change):
    with pytest.raises(AssertionError, match="code generation ran"):
        build(scale(**change), "llvm")
