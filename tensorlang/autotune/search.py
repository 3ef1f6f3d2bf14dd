"""Choosing what to measure next: evolutionary search on the cost model.

Each round draws a pool of fresh random samples of the space and scores them.  A
population of the best configs measured so far and the best-scored samples then evolves
for a few generations: parents are drawn by rank of their predicted score, children come
from the space's ``mutate`` and ``crossover`` (plus mutations of the few best, a local
search), and the best predicted configs survive.  The batch to measure is picked
epsilon-greedily from both: a share ``sample_share`` of the model's picks are the
best-scored random samples, the rest the best-scored evolved configs, and a fraction
``epsilon`` are plain random samples, so the model keeps seeing unexplored regions.
Evolution alone drifts towards what the model overrates and proposes near-clones of one
schedule; the model's ranking of unbiased samples is where it is most reliable (see
``benchmarks/bench_cost_model.py``).  No config whose lowered code has exactly the
features of one already picked or measured is chosen while others remain, and no sketch
gets more than its share of the evolved picks while others compete.  Before the model
has been trained the whole batch is random.  The space's seeds (``SearchSpace.seeds``:
an expert's starting points, such as register-blocked micro-kernels) come first, in the
first batch, and evolve with the other measured configs from then on.

>>> search = EvolutionarySearch(space, model, featurize, seed=0)
>>> configs = search.next_batch(32, measured_keys, elites)
"""
from __future__ import annotations

import math

import numpy as np

from .config import Config


class EvolutionarySearch:
    """Proposes batches of unmeasured configs of ``space`` ranked by ``model``.

    ``featurize(configs)`` returns a feature vector (or None) per config; results are
    cached by config key, so each config is lowered once per run."""

    def __init__(self, space, model, featurize, seed: int = 0, population_size: int = 128,
                 num_generations: int = 3, mutation_probability: float = 0.85,
                 epsilon: float = 0.1, elite_count: int = 16, max_sketch_share: float = 0.7,
                 sample_pool: int = 512, sample_share: float = 0.5):
        self.space = space
        self.model = model
        self.featurize = featurize
        self.rng = np.random.default_rng(seed)
        self.population_size = population_size
        self.num_generations = num_generations
        self.mutation_probability = mutation_probability
        self.epsilon = epsilon
        self.elite_count = elite_count
        self.max_sketch_share = max_sketch_share
        self.sample_pool = sample_pool
        self.sample_share = sample_share
        self._features: dict[str, np.ndarray | None] = {}
        self._measured_signatures: set[bytes] = set()
        self._seeds: list | None = None

    # -- features and scores ---------------------------------------------------------------
    def features_of(self, configs: list) -> list:
        """Cached feature vectors of configs (None where lowering failed)."""
        missing, seen = [], set()
        for config in configs:
            key = config.key()
            if key not in self._features and key not in seen:
                seen.add(key)
                missing.append(config)
        if missing:
            for config, vector in zip(missing, self.featurize(missing)):
                self._features[config.key()] = \
                    None if vector is None else np.asarray(vector, dtype=np.float32)
        return [self._features[c.key()] for c in configs]

    def remember_features(self, config: Config, vector, measured: bool = False) -> None:
        """Record features computed elsewhere (by the builder) for ``config``;
        ``measured``: the config was measured, so configs whose code has exactly these
        features are proposed only when nothing else is left."""
        if vector is not None:
            vector = np.asarray(vector, dtype=np.float32)
            self._features[config.key()] = vector
            if measured:
                self._measured_signatures.add(vector.tobytes())

    def scores(self, configs: list) -> np.ndarray:
        """Predicted scores (higher: faster); -inf for configs that cannot be lowered."""
        vectors = self.features_of(configs)
        out = np.full(len(configs), -np.inf)
        rows = [k for k, v in enumerate(vectors) if v is not None]
        if rows:
            out[rows] = self.model.predict(np.stack([vectors[k] for k in rows]))
        return out

    # -- sampling ------------------------------------------------------------------------
    def _random_configs(self, count: int, exclude: set, attempts_factor: int = 4) -> list:
        out, keys = [], set()
        for _ in range(count * attempts_factor):
            if len(out) >= count:
                break
            config = self.space.sample(self.rng)
            key = config.key()
            if key in exclude or key in keys:
                continue
            keys.add(key)
            out.append(config)
        return out

    def _children(self, parents: list, scores: np.ndarray, count: int) -> list:
        """Children of rank-selected parents: mutations or crossovers."""
        order = np.argsort(-scores, kind="stable")
        ranks = np.empty(len(parents))
        ranks[order] = np.arange(len(parents))
        weights = 1.0 / (ranks + 2.0)   # favour good parents, keep some variety
        weights[~np.isfinite(scores)] = 0.0
        if weights.sum() <= 0:
            return []
        weights /= weights.sum()
        children = []
        for _ in range(count):
            first = parents[self.rng.choice(len(parents), p=weights)]
            try:
                if self.rng.random() < self.mutation_probability:
                    child = self.space.mutate(first, self.rng)
                else:
                    second = parents[self.rng.choice(len(parents), p=weights)]
                    child = self.space.crossover(first, second, self.rng)
            except Exception:  # noqa: BLE001 - a space that cannot vary this config
                continue
            children.append(child)
        return children

    def _neighbours(self, population: list, scores: np.ndarray, top: int = 4,
                    each: int = 4) -> list:
        """Local search: mutations of the few best configs."""
        out = []
        for k in np.argsort(-scores, kind="stable")[:top]:
            if not np.isfinite(scores[k]):
                break
            for _ in range(each):
                try:
                    out.append(self.space.mutate(population[k], self.rng))
                except Exception:  # noqa: BLE001 - a space that cannot vary this config
                    break
        return out

    def evolve(self, elites: list, exclude: set, samples: list = ()) -> tuple[list, np.ndarray]:
        """Every config the evolution scored, and their scores.  The first population is
        ``elites`` and ``samples`` (best first), topped up with random samples."""
        population = list(elites[:self.elite_count])
        population += list(samples)[:self.population_size - len(population)]
        population += self._random_configs(self.population_size - len(population), set())
        seen: dict[str, Config] = {c.key(): c for c in population}
        population = list(seen.values())
        scores = self.scores(population)
        for _ in range(self.num_generations):
            children = self._children(population, scores, self.population_size)
            children += self._neighbours(population, scores)
            children = [c for c in children if c.key() not in seen]
            children = list({c.key(): c for c in children}.values())
            for child in children:
                seen[child.key()] = child
            child_scores = self.scores(children) if children else np.zeros(0)
            pool = population + children
            pool_scores = np.concatenate([scores, child_scores])
            keep = np.argsort(-pool_scores, kind="stable")[:self.population_size]
            population = [pool[k] for k in keep]
            scores = pool_scores[keep]
        everything = list(seen.values())
        return everything, self.scores(everything)

    # -- the batch ---------------------------------------------------------------------
    #: most of a batch the space's seeds may take
    SEED_SHARE = 0.5

    def next_batch(self, batch_size: int, exclude: set, elites: list = (),
                   trained: bool = True) -> list:
        """Up to ``batch_size`` configs whose keys are not in ``exclude`` (the measured
        ones): first the space's seeds not yet measured (at most ``SEED_SHARE`` of the
        batch), then the best-scored random samples and evolved configs, then a fraction
        ``epsilon`` of plain random samples."""
        if self._seeds is None:
            self._seeds = list(self.space.seeds())
        room = max(1, int(batch_size * self.SEED_SHARE)) if batch_size > 1 else batch_size
        seeded = [c for c in self._seeds if c.key() not in exclude][:room]
        if seeded:
            rest = self._next_batch(batch_size - len(seeded),
                                    set(exclude) | {c.key() for c in seeded}, elites, trained)
            return seeded + rest
        return self._next_batch(batch_size, exclude, elites, trained)

    def _next_batch(self, batch_size: int, exclude: set, elites, trained: bool) -> list:
        if batch_size <= 0:
            return []
        if not trained:
            return self._random_configs(batch_size, exclude, attempts_factor=20)
        num_random = max(1, int(round(batch_size * self.epsilon))) if batch_size > 1 else 0
        num_model = batch_size - num_random
        pool = self._random_configs(self.sample_pool, exclude)
        pool_scores = self.scores(pool)
        pool_order = [k for k in np.argsort(-pool_scores, kind="stable")
                      if np.isfinite(pool_scores[k])]
        candidates, scores = self.evolve(list(elites), exclude,
                                         [pool[k] for k in pool_order])
        chosen: list = []
        keys: set = set()
        signatures = set(self._measured_signatures)

        def take(config, strict_signature: bool) -> bool:
            key = config.key()
            if key in exclude or key in keys:
                return False
            vector = self._features.get(key)
            signature = None if vector is None else vector.tobytes()
            if strict_signature and signature in signatures:
                return False
            chosen.append(config)
            keys.add(key)
            signatures.add(signature)
            return True

        num_sampled = int(round(self.sample_share * num_model))
        for k in pool_order:
            if len(chosen) >= num_sampled:
                break
            take(pool[k], True)

        order = [k for k in np.argsort(-scores, kind="stable") if np.isfinite(scores[k])]
        sketches = {candidates[k].sketch for k in order}
        evolved = num_model - len(chosen)
        share = num_model if len(sketches) <= 1 else \
            max(1, math.ceil(self.max_sketch_share * evolved))
        sketch_counts: dict[str, int] = {}
        for strict in (True, False):
            for k in order:
                if len(chosen) >= num_model:
                    break
                config = candidates[k]
                if strict and sketch_counts.get(config.sketch, 0) >= share:
                    continue
                if take(config, strict):
                    sketch_counts[config.sketch] = sketch_counts.get(config.sketch, 0) + 1
        chosen += self._random_configs(batch_size - len(chosen), exclude | keys,
                                       attempts_factor=20)
        return chosen[:batch_size]
