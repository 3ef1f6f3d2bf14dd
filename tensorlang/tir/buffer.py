"""Buffers: named, typed, shaped regions of memory in a memory scope."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import TensorLangTypeError
from .datatype import DataType
from .datatype import dtype as to_dtype
from .expr import ExprOp, Node, PrimExpr
from .op import buffer_load, convert

#: memory scopes a buffer may live in
SCOPES = ("global", "shared", "local")


@dataclass(frozen=True, slots=True, eq=False)
class Buffer(Node):
    """A multi-dimensional array: ``Buffer("A", (n, 64), float32)``.

    ``strides`` is empty for a compact row-major layout; ``storage_align`` gives explicit
    strides.  Buffers are compared by identity, like variables.
    """

    name: str
    shape: tuple[PrimExpr, ...]
    dtype: DataType
    scope: str = "global"
    strides: tuple[PrimExpr, ...] = ()
    _children = ("shape", "strides")
    _variable = True

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, indices) -> PrimExpr:
        if not isinstance(indices, tuple):
            indices = (indices,)
        return buffer_load(self, indices)

    def __repr__(self) -> str:
        shape = ", ".join(str(s) for s in self.shape)
        scope = "" if self.scope == "global" else f", scope={self.scope!r}"
        return f"Buffer({self.name}, ({shape}), {self.dtype}{scope})"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return True

    def __iter__(self):
        raise TensorLangTypeError(f"buffer '{self.name}' is not iterable; index it")


def decl_buffer(shape, dtype="float32", name="buf", scope="global", strides=None) -> Buffer:
    """Declare a buffer (shape entries are ints or expressions).  ``strides``, one per
    dimension in elements, are ints or variables (``te.var("s0")``): a variable stands
    for the stride of the buffer bound to this one (a te.extern stage's input or output)."""
    if scope not in SCOPES:
        raise TensorLangTypeError(f"buffer '{name}': unknown memory scope {scope!r}; "
                                  f"use one of {SCOPES}")
    if isinstance(shape, (int, ExprOp)):
        shape = (shape,)
    shape = tuple(convert(s) for s in shape)
    if strides:
        strides = (strides,) if isinstance(strides, (int, ExprOp)) else tuple(strides)
        if len(strides) != len(shape):
            raise TensorLangTypeError(f"buffer '{name}': {len(strides)} strides for "
                                      f"{len(shape)} dimensions")
        strides = tuple(convert(s) for s in strides)
        for stride in strides:
            if not stride.dtype.is_integer:
                raise TensorLangTypeError(f"buffer '{name}': stride '{stride}' is not an "
                                          f"integer")
    return Buffer(name, shape, to_dtype(dtype), scope, tuple(strides or ()))
