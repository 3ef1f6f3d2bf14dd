"""The search space of a workload, whatever form it is given in, and the target check
that comes before it.

A workload is a :class:`~.space.SearchSpace` as given, a template function (its
:class:`~.template.TemplateSpace`), or output tensors, whose space is derived from the
compute definition by the sketch rules of the target (:mod:`.sketch` for CPUs,
:mod:`.sketch_gpu` for CUDA).  Tuning and looking up the best record both start here, so
that a workload gets the same space, and the same workload key, in either.

>>> space = make_space([C], check_target("llvm"))
"""
from __future__ import annotations

from ..errors import TuneError
from ..target import Target
from ..te.graph import Operation, PlaceholderOp, Tensor
from .record import normalize_target
from .sketch import sketch_space
from .sketch_gpu import gpu_sketch_space
from .space import SearchSpace
from .template import TemplateSpace


def make_space(workload, target: str, shape_vars=None, args=(), params=None) -> SearchSpace:
    """The search space of one workload: a SearchSpace as given, a template's space, or
    the space derived from the compute definition of output tensors (``params``: their
    module's parameters in order, see :func:`~.tuner.autotune`)."""
    if isinstance(workload, SearchSpace):
        if params is not None:
            raise TuneError("autotune: params= orders the parameters of output tensors; a "
                            "SearchSpace has its own (its args)")
        return workload
    if callable(workload) and not isinstance(workload, (Tensor, Operation)):
        if params is not None:
            raise TuneError(f"autotune: template '{getattr(workload, '__name__', workload)}'"
                            f" orders its parameters itself (the list it returns with the "
                            f"schedule); drop params=")
        return TemplateSpace(workload, tuple(args), target)
    outputs = list(workload) if isinstance(workload, (list, tuple)) else [workload]
    for t in outputs:
        if not isinstance(t, (Tensor, Operation)) or isinstance(t.op if isinstance(t, Tensor)
                                                                else t, PlaceholderOp):
            raise TuneError(f"autotune: '{getattr(t, 'name', t)}' is not the output of a "
                            f"te.compute; give the tensors to compute")
    if target.split()[0] == "cuda":
        return gpu_sketch_space(outputs, target, shape_vars=shape_vars, params=params)
    return sketch_space(outputs, target, shape_vars=shape_vars, params=params)


def check_target(target) -> str:
    """The target as records store it; a cuda target without a GPU fails here."""
    parsed = Target(target)
    if parsed.kind == "cuda":
        # the CUDA backend is loaded only where a CUDA target is asked for
        from ..target.cuda import gpu_available
        if not gpu_available():
            raise TuneError("autotune(target='cuda'): no CUDA GPU is available here (pycuda "
                            "found none); candidates must run to be measured. Tune for "
                            "'llvm' or run on a machine with a GPU")
    return normalize_target(str(parsed))
