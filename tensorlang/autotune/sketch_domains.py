"""Decision domains of the CPU sketch space: the values one decision may take.

A domain samples a value, mutates one into a neighbour and says whether a value belongs
to it; :class:`Choice` is one of a few JSON values, :class:`Tile` the factors of a
multi-level split.  The samplers lean towards what runs fast on a SIMD CPU (divisors, whole
vectors) while every value stays reachable, so the search can still find the exceptions.
"""
from __future__ import annotations

import math

import numpy as np

from .sketch_common import divisors

#: SIMD lanes of float32 the vectorized loops aim at (one AVX-512 register)
VECTOR_LANES = 16


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


def lane_filling_factors(extent: int, limit: int) -> list[int]:
    """Innermost factors, at most four vectors wide, that keep at least ``LANE_FILL`` of
    the SIMD lanes busy over an axis of ``extent`` that no multiple of the width divides:
    divisors just short of whole vectors (14 of 56) and multiples of the width whose last,
    guarded step is nearly full (16 and 32 of 56).  The lanes busy with factor ``f`` are
    ``extent / (ceil(extent / f) * ceil(f / lanes) * lanes)``."""
    out = []
    for f in range(1, min(limit, extent, 4 * VECTOR_LANES) + 1):
        if extent % f and f % VECTOR_LANES:
            continue   # a guarded split only for whole vectors
        steps, vectors = -(-extent // f), -(-f // VECTOR_LANES)
        if extent >= LANE_FILL * steps * vectors * VECTOR_LANES:
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
    SIMD width, and with ``lane_fill``, where none divides the extent, factors that keep
    the lanes nearly full (:func:`lane_filling_factors`; an option of the rule, since it
    helps some workloads and hinders others)."""

    def __init__(self, extent: int, levels: int, vector: bool = False, odd: float = 0.1,
                 max_inner: int | None = None, lane_fill: bool = False):
        self.extent = max(1, int(extent))
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
            wide = [d for d in options if d % VECTOR_LANES == 0 and d <= 4 * VECTOR_LANES]
            if not wide and self.lane_fill:
                wide = lane_filling_factors(remaining, limit)
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
