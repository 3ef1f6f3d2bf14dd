"""TVM operations tensorlang has not built yet: each raises NotImplementedError saying so
and what to write meanwhile (README, "Limitations")."""
from __future__ import annotations


def extern(shape, inputs, fcompute, name: str = "extern", dtype=None, in_buffers=None,
           out_buffers=None, tag: str = ""):
    """TVM's ``te.extern`` (stages computed by a called function): not built yet."""
    raise NotImplementedError(
        "te.extern (with register_func / call_packed) is not built yet in tensorlang: "
        "compute the stage with te.compute, or call the library on the arrays before or "
        "after the tensorlang module")
