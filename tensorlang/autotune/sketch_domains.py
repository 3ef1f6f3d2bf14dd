"""Decision domains of the CPU sketch space: the values one decision may take.

A domain samples a value, mutates one into a neighbour and says whether a value belongs
to it; :class:`Choice` is one of a few JSON values, :class:`Tile` the factors of a
multi-level split.  The samplers lean towards what runs fast on a SIMD CPU (divisors, whole
vectors) while every value stays reachable, so the search can still find the exceptions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..target import Target
from .sketch_common import divisors

#: register-blocked micro-kernels ``(rows, vectors)`` by accumulator budget: rows of the
#: output times vectors of its last axis accumulated in registers, as OpenBLAS and BLIS
#: block them (most reuse first), and a tall one-vector kernel for short rows (a
#: convolution's 56 columns).  24 accumulators of AVX-512's 32 registers; 12 of
#: AVX2's 16 (BLIS's Haswell kernel is 6 x 2).
MICRO_KERNELS = {24: ((6, 4), (4, 4), (8, 2), (12, 2), (16, 1)),
                 12: ((6, 2), (4, 2), (4, 3), (3, 4), (8, 1))}


@dataclass(frozen=True)
class Simd:
    """The SIMD unit the CPU space schedules for: ``lanes`` float32 lanes a vector
    register, ``registers`` vector registers, and whether a vector of fewer lanes is
    cheap (``masked``: AVX-512's mask registers; with AVX2 a vector of 14 lanes is one
    of 8 and a split remainder of 6, much slower than two whole ones).  A
    register-blocked tile aims at :attr:`accumulators` of them (three quarters: the
    tile's operands need the rest, a row of the streamed operand and a broadcast value;
    larger tiles spill)."""

    lanes: int = 16
    registers: int = 32
    masked: bool = True

    @staticmethod
    def of(target) -> "Simd":
        """The SIMD unit of an llvm target (a string or :class:`~tensorlang.Target`)."""
        t = Target(target) if isinstance(target, str) else target
        return Simd(t.float32_lanes, t.vector_registers, t.vector_bits == 512)

    @property
    def accumulators(self) -> int:
        return self.registers * 3 // 4

    @property
    def micro_kernels(self) -> tuple:
        """``(rows, vectors)`` micro-kernels for :attr:`accumulators` registers."""
        known = MICRO_KERNELS.get(self.accumulators)
        if known is not None:
            return known
        acc = self.accumulators
        return tuple((acc // v, v) for v in (2, 4, 1) if acc // v >= 1)


def prime_factors(n: int) -> list[int]:
    """The prime factors of ``n``, with repetition, in increasing order."""
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return out


#: least share of the SIMD lanes a vectorized innermost loop that no multiple of the
#: width divides should keep busy to be sampled as a preferred factor
LANE_FILL = 7 / 8


def lane_filling_factors(extent: int, limit: int, lanes: int,
                         masked: bool = True) -> list[int]:
    """Innermost factors, at most four vectors wide, that keep at least ``LANE_FILL`` of
    the SIMD lanes busy over an axis of ``extent`` that no multiple of the width divides:
    divisors just short of whole vectors (14 of 56, where vectors of fewer lanes are
    cheap: ``masked``) and multiples of the width whose last, guarded step is nearly full
    (16 and 32 of 56).  The lanes busy with factor ``f`` are
    ``extent / (ceil(extent / f) * ceil(f / lanes) * lanes)``."""
    out = []
    for f in range(1, min(limit, extent, 4 * lanes) + 1):
        if f % lanes and (extent % f or not masked):
            continue   # a guarded split only for whole vectors
        steps, vectors = -(-extent // f), -(-f // lanes)
        if extent >= LANE_FILL * steps * vectors * lanes:
            out.append(f)
    return out


class Choice:
    """One of a fixed list of JSON values."""

    def __init__(self, values, weights=None):
        self.values = list(values)
        self.weights = None if weights is None else \
            np.asarray(weights, dtype=float) / float(np.sum(weights))

    def sample(self, rng):
        return self.values[int(rng.choice(len(self.values), p=self.weights))]

    def mutate(self, value, rng):
        others = [v for v in self.values if v != value]
        return others[int(rng.integers(len(others)))] if others else value

    def contains(self, value) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def size(self) -> float:
        return float(len(self.values))


class Tile:
    """The inner factors ``(f1, ..., fn)``, outer first, of an axis of ``extent`` split
    into ``n + 1`` loops; the outermost loop runs ``ceil(extent / prod(f))`` times.

    Factors are mostly divisors of what is left of the extent (no guard, no wasted
    iterations); with probability ``odd`` one is a power of two that does not divide, since
    any split is correct.  With ``vector`` the innermost factor prefers multiples of the
    SIMD width (``lanes`` float32 lanes), and with ``lane_fill``, where none divides the
    extent, factors that keep the lanes nearly full (:func:`lane_filling_factors`, whole
    vectors only unless ``masked``; an option of the rule, since it helps some workloads
    and hinders others)."""

    def __init__(self, extent: int, levels: int, vector: bool = False, odd: float = 0.1,
                 max_inner: int | None = None, lane_fill: bool = False, lanes: int = 16,
                 masked: bool = True):
        self.extent = max(1, int(extent))
        self.lanes = lanes
        self.masked = masked
        self.levels = levels
        self.vector = vector
        self.lane_fill = lane_fill
        self.odd = odd
        self.max_inner = max_inner

    def _pick(self, remaining: int, innermost: bool, rng) -> int:
        limit = remaining
        if innermost and self.max_inner is not None:
            limit = min(limit, self.max_inner)
        if rng.random() < self.odd and limit > 2:
            powers = [1 << k for k in range(1, limit.bit_length()) if remaining % (1 << k)]
            if powers:
                return int(powers[int(rng.integers(len(powers)))])
        options = [d for d in divisors(remaining) if d <= limit]
        if innermost and self.vector:
            wide = [d for d in options if d % self.lanes == 0 and d <= 4 * self.lanes]
            if not wide and self.lane_fill:
                wide = lane_filling_factors(remaining, limit, self.lanes, self.masked)
            if wide and rng.random() < 0.7:
                options = wide
        return int(options[int(rng.integers(len(options)))])

    def sample(self, rng):
        remaining, factors = self.extent, []
        for level in range(self.levels):
            f = self._pick(remaining, level == 0, rng)
            factors.append(f)
            remaining = -(-remaining // f)
        return tuple(reversed(factors))

    def outer(self, value) -> int:
        return -(-self.extent // math.prod(value))

    def mutate(self, value, rng):
        """Move a prime factor from one loop to another (the outer loop included), which
        keeps the product of all loop extents where the factors divide."""
        loops = [self.outer(value)] + list(value)
        for _ in range(8):
            src, dst = (int(x) for x in rng.choice(len(loops), size=2, replace=False))
            primes = prime_factors(loops[src])
            if not primes:
                continue
            p = primes[int(rng.integers(len(primes)))]
            new = list(loops)
            new[src] //= p
            new[dst] *= p
            factors = tuple(new[1:])
            if self.contains(factors) and factors != tuple(value):
                return factors
        return self.sample(rng)

    def contains(self, value) -> bool:
        return isinstance(value, tuple) and len(value) == self.levels and all(
            isinstance(f, int) and not isinstance(f, bool) and 1 <= f <= self.extent
            for f in value) and math.prod(value) <= 4 * self.extent

    def size(self) -> float:
        # ordered factorisations into divisors (the odd powers of two are not counted)
        count = {1: 1}
        for _ in range(self.levels):
            nxt: dict = {}
            for rest, ways in count.items():
                for d in divisors(self.extent // rest):
                    nxt[rest * d] = nxt.get(rest * d, 0) + ways
            count = nxt
        return float(sum(count.values()))
