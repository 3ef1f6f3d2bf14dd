"""Reducers: ``te.sum``, ``te.max``, ``te.min``, ``te.prod`` and ``te.comm_reducer``."""
from __future__ import annotations

from ..errors import TensorLangTypeError
from ..tir import expr as E
from ..tir.op import const, convert


def _is_axis_argument(expr, axis) -> bool:
    """Whether a reducer's second argument names reduction axes (rather than a second
    operand): an IterVar, a list or tuple (of IterVars, checked later), or an index
    variable of another type than ``expr`` (a compute's own axis passed by mistake: the
    axis checks then say so)."""
    if isinstance(axis, (E.IterVar, list, tuple)):
        return True
    if isinstance(axis, E.Var) and not isinstance(expr, (tuple, list)):
        try:
            return convert(expr).dtype != axis.dtype
        except TensorLangTypeError:
            return False
    return False


class CommReducerFn:
    """A reducer callable: ``reducer(expr, axis=k, where=cond, init=None)``."""

    def __init__(self, fcombine, fidentity, name: str):
        self.fcombine = fcombine
        self.fidentity = fidentity
        self.name = name
        self._cache: dict = {}

    def _combiner(self, dtypes) -> E.CommReducer:
        key = tuple(str(t) for t in dtypes)
        combiner = self._cache.get(key)
        if combiner is None:
            lhs = tuple(E.Var(f"x{k}" if len(dtypes) > 1 else "x", t) for k, t in enumerate(dtypes))
            rhs = tuple(E.Var(f"y{k}" if len(dtypes) > 1 else "y", t) for k, t in enumerate(dtypes))
            if len(dtypes) == 1:
                result = (convert(self.fcombine(lhs[0], rhs[0])),)
                identity = (const(self.fidentity(dtypes[0]), dtypes[0])
                            if not isinstance(self.fidentity(dtypes[0]), E.PrimExpr)
                            else self.fidentity(dtypes[0]),)
            else:
                result = tuple(convert(r) for r in self.fcombine(lhs, rhs))
                ident = self.fidentity(*dtypes)
                identity = tuple(i if isinstance(i, E.PrimExpr) else const(i, t)
                                 for i, t in zip(ident, dtypes))
            for r, t in zip(result, dtypes):
                if r.dtype != t:
                    raise TensorLangTypeError(
                        f"reducer '{self.name}': the combine function returns {r.dtype} for "
                        f"{t} operands")
            combiner = E.CommReducer(lhs, rhs, result, identity, self.name)
            self._cache[key] = combiner
        return combiner

    def __call__(self, expr, axis, *more, where=None, init=None):
        """``reducer(expr, axis=k)`` reduces over ``k`` (an axis or a list of them);
        ``reducer(a, b, ...)`` with operands that are not reduction axes combines them
        element-wise, as TVM's reducers do (``te.max(a, b)`` is ``te.maximum(a, b)``)."""
        if not _is_axis_argument(expr, axis):
            if where is not None or init is not None:
                raise TensorLangTypeError(f"te.{self.name}(a, b): an element-wise "
                                          f"{self.name} takes no where= or init=")
            result = expr
            for operand in (axis,) + more:
                result = self.fcombine(result, operand)
            return convert(result)
        if more:
            raise TensorLangTypeError(f"te.{self.name}(expr, axis, ...): give one axis or a "
                                      f"list of axes (axis=[k1, k2])")
        axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
        if not axes:
            raise TensorLangTypeError(f"te.{self.name}: give at least one reduce axis")
        for a in axes:
            if not isinstance(a, E.IterVar) or a.iter_type != E.REDUCE:
                what = f"'{a.name}'" if isinstance(a, (E.IterVar, E.Var)) else repr(a)
                raise TensorLangTypeError(
                    f"te.{self.name}: axis {what} is not a reduction axis (a compute's own "
                    f"index variables cannot be reduced over); create one with "
                    f"te.reduce_axis((lo, hi), name=...)")
        if len({id(a) for a in axes}) != len(axes):
            # (this module's `sum` is the reducer, so count without it)
            twice = next(a for k, a in enumerate(axes) if any(b is a for b in axes[k + 1:]))
            raise TensorLangTypeError(
                f"te.{self.name}: the reduce axis '{twice.name}' is given twice")
        sources = tuple(convert(e) for e in expr) if isinstance(expr, (tuple, list)) \
            else (convert(expr),)
        for s in sources:
            if s.dtype.is_bool or s.dtype.is_vector:
                raise TensorLangTypeError(
                    f"te.{self.name}: cannot reduce the {s.dtype} expression '{s}'")
            if _contains_reduce(s):
                raise TensorLangTypeError(
                    f"te.{self.name}: the reduced expression '{s}' contains another "
                    f"reduction; compute the inner one as its own tensor first")
        combiner = self._combiner(tuple(s.dtype for s in sources))
        if where is None:
            cond = const(True)
        else:
            cond = convert(where)
            if not cond.dtype.is_bool or cond.dtype.lanes != 1:
                raise TensorLangTypeError(
                    f"te.{self.name}: where= must be a boolean condition, but '{cond}' is "
                    f"{cond.dtype}; compare it, e.g. ({cond}) != 0")
        inits = ()
        if init is not None:
            inits = tuple(convert(i) for i in (init if isinstance(init, (tuple, list)) else (init,)))
        dtype = sources[0].dtype
        reduces = tuple(E.Reduce(combiner, sources, axes, cond, k, s.dtype, inits)
                        for k, s in enumerate(sources))
        return reduces[0] if len(reduces) == 1 else reduces


def _contains_reduce(e) -> bool:
    from ..tir.functor import post_order_visit
    found = []
    post_order_visit(e, lambda n: found.append(n) if isinstance(n, E.Reduce) else None)
    return bool(found)


def comm_reducer(fcombine, fidentity, name: str = "reduce") -> CommReducerFn:
    """A custom commutative reducer.

    >>> mysum = te.comm_reducer(lambda x, y: x + y, lambda t: te.const(0, t), name="mysum")
    >>> B = te.compute((n,), lambda i: mysum(A[i, k], axis=k))
    """
    return CommReducerFn(fcombine, fidentity, name)


def _min_value(t):
    return const(t.min_value(), t) if not t.is_float else const(float("-inf"), t)


def _max_value(t):
    return const(t.max_value(), t) if not t.is_float else const(float("inf"), t)


sum = comm_reducer(lambda x, y: x + y, lambda t: const(0, t), name="sum")  # noqa: A001
prod = comm_reducer(lambda x, y: x * y, lambda t: const(1, t), name="prod")
max = comm_reducer(lambda x, y: _maximum(x, y), _min_value, name="max")  # noqa: A001
min = comm_reducer(lambda x, y: _minimum(x, y), _max_value, name="min")  # noqa: A001


def _maximum(a, b):
    from ..tir.op import maximum
    return maximum(a, b)


def _minimum(a, b):
    from ..tir.op import minimum
    return minimum(a, b)
