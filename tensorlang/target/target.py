"""Compilation targets: which backend to generate code for, and for which processor.

A target is written as a string, the backend kind followed by ``-key=value`` options::

    Target("llvm")                                        # the host CPU
    Target("llvm -mcpu=skylake-avx512 -mattr=+avx512f")   # a named CPU and features
    Target("cuda -arch=sm_90")

For ``llvm`` the CPU name and features default to those of the host, as LLVM reports them.
"""
from __future__ import annotations

import functools

from ..errors import BuildError, TensorLangValueError
from ..tir.stmt import PrimFunc

#: backend kinds and the options each accepts
_KIND_OPTIONS = {
    "llvm": ("mcpu", "mattr", "mtriple", "opt-level"),
    "cuda": ("arch", "max-threads-per-block", "max-shared-memory"),
}


@functools.lru_cache(maxsize=1)
def _host_cpu() -> tuple[str, tuple[str, ...]]:
    """Host CPU name and feature list (``+avx512f``, ``-amx-tile``, ...) from LLVM."""
    import llvmlite.binding as llvm
    name = llvm.get_host_cpu_name()
    try:
        features = tuple(llvm.get_host_cpu_features().flatten().split(","))
    except RuntimeError:  # LLVM cannot read the features on some hosts
        features = ()
    return name, tuple(f for f in features if f)


class Target:
    """A code generation target parsed from its string form.

    >>> t = Target("llvm -mcpu=skylake-avx512 -mattr=+avx512f")
    >>> t.kind, t.mcpu, t.mattr
    ('llvm', 'skylake-avx512', ('+avx512f',))
    """

    __slots__ = ("kind", "options")

    def __init__(self, spec: "str | Target" = "llvm"):
        if isinstance(spec, Target):
            self.kind, self.options = spec.kind, dict(spec.options)
            return
        if not isinstance(spec, str):
            raise TensorLangValueError(
                f"target must be a string such as \"llvm\" or \"cuda\", or a Target; got "
                f"{type(spec).__name__} {spec!r}")
        words = spec.split()
        if not words:
            raise TensorLangValueError("empty target string; use \"llvm\" or \"cuda\"")
        kind = words[0]
        if kind not in _KIND_OPTIONS:
            raise TensorLangValueError(
                f"unknown target kind {kind!r} in {spec!r}; use one of "
                f"{', '.join(sorted(_KIND_OPTIONS))}")
        options: dict[str, str] = {}
        for word in words[1:]:
            if not word.startswith("-") or "=" not in word:
                raise TensorLangValueError(
                    f"cannot read {word!r} in target {spec!r}: options are written "
                    f"-key=value, e.g. \"{kind} -{_KIND_OPTIONS[kind][0]}=...\"")
            key, value = word.lstrip("-").split("=", 1)
            if key not in _KIND_OPTIONS[kind]:
                raise TensorLangValueError(
                    f"target {spec!r}: unknown option -{key} for {kind}; known options: "
                    f"{', '.join('-' + k for k in _KIND_OPTIONS[kind])}")
            options[key] = value
        self.kind = kind
        self.options = options

    # -- properties ------------------------------------------------------------------
    @property
    def mcpu(self) -> str:
        """CPU name for LLVM (the host's unless ``-mcpu`` was given); "" for cuda."""
        if self.kind != "llvm":
            return self.options.get("mcpu", "")
        return self.options.get("mcpu") or _host_cpu()[0]

    @property
    def mattr(self) -> tuple[str, ...]:
        """CPU features as ``+name``/``-name`` strings (the host's unless ``-mattr``)."""
        if "mattr" in self.options:
            return tuple(f for f in self.options["mattr"].split(",") if f)
        if self.kind != "llvm" or "mcpu" in self.options:
            # a named CPU brings its own features; host features would contradict it
            return ()
        return _host_cpu()[1]

    @property
    def arch(self) -> str:
        """GPU architecture (``sm_90``) for cuda; "" when not given."""
        return self.options.get("arch", "")

    @property
    def triple(self) -> str:
        if "mtriple" in self.options:
            return self.options["mtriple"]
        import llvmlite.binding as llvm
        return llvm.get_process_triple()

    @property
    def is_host(self) -> bool:
        """Whether code for this target runs on this machine's CPU."""
        return self.kind == "llvm" and "mtriple" not in self.options

    @property
    def vector_bits(self) -> int:
        """Widest SIMD register in bits (512 with AVX-512, 256 with AVX2, else 128)."""
        features = set(self.mattr)
        if "+avx512f" in features:
            return 512
        if "+avx2" in features or "+avx" in features:
            return 256
        return 128

    @property
    def float32_lanes(self) -> int:
        """float32 lanes of the widest SIMD register (16 with AVX-512, 8 with AVX2)."""
        return self.vector_bits // 32

    @property
    def vector_registers(self) -> int:
        """SIMD registers the CPU's code can use: 32 with AVX-512 and on 64-bit Arm, 16
        with AVX/AVX2/SSE on x86-64."""
        if self.vector_bits == 512 or self.triple.split("-")[0] in ("aarch64", "arm64"):
            return 32
        return 16

    def cache_key(self) -> str:
        """The target with triple, CPU name and features resolved (host defaults spelled
        out)."""
        triple = self.triple if self.kind == "llvm" else ""
        return f"{self.kind} triple={triple} cpu={self.mcpu} features={','.join(self.mattr)} " \
               f"{sorted(self.options.items())}"

    @staticmethod
    def current_host() -> "Target":
        """The host CPU as an explicit llvm target."""
        name, features = _host_cpu()
        return Target(f"llvm -mcpu={name} -mattr={','.join(features)}" if features
                      else f"llvm -mcpu={name}")

    # -- text ------------------------------------------------------------------------
    def __str__(self) -> str:
        return " ".join([self.kind] + [f"-{k}={v}" for k, v in self.options.items()])

    def __repr__(self) -> str:
        return f"Target({str(self)!r})"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = Target(other)
            except TensorLangValueError:
                return False
        return isinstance(other, Target) and self.kind == other.kind and \
            self.options == other.options

    def __hash__(self) -> int:
        return hash((self.kind, tuple(sorted(self.options.items()))))


def as_target(target) -> Target:
    """A :class:`Target` from a string, a Target, or None (the host llvm target)."""
    if target is None:
        return Target("llvm")
    return target if isinstance(target, Target) else Target(target)


def backend_target(func, target, kind: str, backend: str,
                   not_a_func_error: type = BuildError) -> "Target":
    """``target`` as a :class:`Target` of ``kind``, after checking that ``func`` is a
    lowered PrimFunc: the checks each backend's ``build`` starts with."""
    if not isinstance(func, PrimFunc):
        raise not_a_func_error(f"the {backend} backend builds a lowered PrimFunc (from "
                               f"tl.lower), got {type(func).__name__}")
    target = as_target(target)
    if target.kind != kind:
        raise BuildError(f"the {backend} backend cannot build for target '{target}'; use "
                         f"target=\"{kind}\"")
    return target
