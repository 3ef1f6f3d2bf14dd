"""TIR-to-TIR passes, one a module; :mod:`tensorlang.driver` lists their order."""
from .substitute import substitute  # noqa: F401
