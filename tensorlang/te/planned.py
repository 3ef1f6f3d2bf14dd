"""TVM operations tensorlang has not built yet: each raises NotImplementedError saying so
and what to write meanwhile (README, "Limitations")."""
from __future__ import annotations


def scan(init, update, state_placeholder, inputs=None, name: str = "scan", tag: str = ""):
    """TVM's ``te.scan`` (recurrences): not built yet."""
    raise NotImplementedError(
        "te.scan is not built yet in tensorlang: write a recurrence over a short time axis "
        "as one te.compute per step, or compute it outside the kernel")

