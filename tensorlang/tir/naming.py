"""Fresh names: the printer, the interpreter and both code generators turn IR names into
unique identifiers of their output language the same way (``x``, ``x_1``, ``x_2``, ...)."""
from __future__ import annotations


class NameSupply:
    """Hands out names not handed out before (nor ``reserved``), by suffixing ``_k``.

    >>> names = NameSupply({"for"})
    >>> names.fresh("i"), names.fresh("i"), names.fresh("for")
    ('i', 'i_1', 'for_1')
    """

    def __init__(self, reserved=()):
        self.used: set[str] = set(reserved)

    def fresh(self, base: str) -> str:
        name, k = base, 0
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Mark ``name`` as taken (a symbol fixed elsewhere)."""
        self.used.add(name)

    def __contains__(self, name: str) -> bool:
        return name in self.used
