"""Evolutionary search and the task scheduler, on synthetic features and models (no
compilation): the search finds what the model prefers, never proposes a measured config,
stays diverse, and falls back to random sampling before training."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tensorlang.autotune import Config, EvolutionarySearch, GradientTaskScheduler

from tiny_spaces import MatmulTileSpace, all_configs

GOAL = {"tile_i": 8, "tile_j": 16, "tile_k": 4, "order": 1, "vectorize": True,
        "parallel": True}


def _vector(config: Config) -> list:
    return [math.log2(config["tile_i"]), math.log2(config["tile_j"]),
            math.log2(config["tile_k"]), config["order"], float(config["vectorize"]),
            float(config["parallel"])]


class _DistanceModel:
    """Scores by closeness to GOAL's features (an oracle standing in for a trained
    model)."""

    num_samples = 1

    def predict(self, features):
        goal = np.array(_vector(Config.make("tile", GOAL)))
        return -np.abs(np.asarray(features) - goal).sum(axis=1)


def _search(space=None, seed=0, **kw):
    calls = []

    def featurize(configs):
        calls.append(len(configs))
        return [_vector(c) for c in configs]
    search = EvolutionarySearch(space or MatmulTileSpace(8, 8, 8), _DistanceModel(),
                                featurize, seed=seed, population_size=48, **kw)
    return search, calls


def test_search_finds_what_the_model_prefers():
    search, calls = _search()
    batch = search.next_batch(8, set())
    assert len(batch) == 8 and len({c.key() for c in batch}) == 8
    assert batch[0].as_dict() == GOAL
    # each config's features are computed once
    assert sum(calls) == len(search._features)


def test_measured_configs_are_never_proposed():
    space = MatmulTileSpace(8, 8, 8)
    search, _ = _search(space)
    measured = {Config.make("tile", GOAL).key()}
    for _ in range(5):
        batch = search.next_batch(10, measured)
        keys = {c.key() for c in batch}
        assert len(keys) == len(batch) == 10 and not keys & measured
        measured |= keys
    assert len(measured) == 51


def test_exhausted_space_gives_an_empty_batch():
    space = MatmulTileSpace(8, 8, 8)
    space.choices = {"tile_i": (1, 2), "tile_j": (4,), "tile_k": (1,), "order": (0,),
                     "vectorize": (True,), "parallel": (False, True)}
    search, _ = _search(space)
    everything = {c.key() for c in all_configs(space)}
    assert len(everything) == 4
    first = search.next_batch(3, set())
    assert len(first) == 3
    rest = search.next_batch(3, {c.key() for c in first})
    assert len(rest) == 1
    assert search.next_batch(3, everything) == []
    assert search.next_batch(3, everything, trained=False) == []


def test_untrained_search_samples_at_random():
    search, calls = _search()
    batch = search.next_batch(16, set(), trained=False)
    assert len({c.key() for c in batch}) == 16 and calls == []
    assert sum(c.as_dict() == GOAL for c in batch) <= 1


def test_batches_mix_in_random_configs_and_keep_elites_out():
    search, _ = _search(epsilon=0.25)
    elite = Config.make("tile", GOAL)
    batch = search.next_batch(8, {elite.key()}, elites=[elite])
    assert elite.key() not in {c.key() for c in batch}
    scores = search.scores(batch)
    # the last quarter are random samples, mostly worse than the model's picks
    assert scores[:6].mean() > scores[6:].mean()


def test_half_the_model_picks_are_the_best_scored_random_samples():
    """Evolution drifts towards what the model overrates; the batch also takes the
    best-scored configs of a pool of fresh random samples, where the model's ranking
    is most reliable."""
    space = MatmulTileSpace(8, 8, 8)
    sampled = []
    draw = space.sample

    def sample(rng):
        sampled.append(draw(rng))
        return sampled[-1]
    space.sample = sample
    search, _ = _search(space, epsilon=0.0, sample_pool=64, sample_share=0.5)
    batch = search.next_batch(8, set())
    # the pool: the first 64 distinct draws (then one random config ends the batch)
    sampled = list({c.key(): c for c in sampled}.values())[:64]
    scores = search.scores(sampled)
    best_sampled = {sampled[k].key() for k in np.argsort(-scores, kind="stable")[:4]}
    assert {c.key() for c in batch[:4]} == best_sampled
    # the other half is evolved, and evolution found better than the pool's best
    assert batch[4].as_dict() == GOAL and max(search.scores(batch[4:7])) > scores.max()


def test_duplicate_programs_are_skipped_while_others_remain():
    """Configs whose lowered code has the same features are measured once per batch."""
    space = MatmulTileSpace(8, 8, 8)
    search = EvolutionarySearch(space, _DistanceModel(),
                                lambda configs: [_vector(c)[:2] + [0, 0, 0, 0]
                                                 for c in configs],
                                seed=0, population_size=64)
    batch = search.next_batch(6, set())
    signatures = {tuple(_vector(c)[:2]) for c in batch}
    assert len(signatures) == 6


def test_task_scheduler_starts_every_task_then_follows_the_gradient():
    scheduler = GradientTaskScheduler(3, epsilon=0.0)
    order = []
    for _ in range(3):
        k = scheduler.next_task()
        order.append(k)
        scheduler.observe(k, 10, [1e-3, 1e-2, math.inf][k])
    assert order == [0, 1, 2]
    assert scheduler.next_task() == 2          # no valid candidate yet: most urgent
    scheduler.observe(2, 20, 1e-3)
    assert scheduler.next_task() == 1          # the slowest task has most to gain
    scheduler.observe(1, 20, 5e-3)             # ... and it improves quickly
    assert scheduler.next_task() == 1
    scheduler.finish(1)
    assert scheduler.next_task() in (0, 2)
    for k in (0, 2):
        scheduler.finish(k)
    assert scheduler.next_task() is None


def test_task_scheduler_weights_and_exploration():
    scheduler = GradientTaskScheduler(2, weights=[1.0, 100.0], epsilon=0.0)
    scheduler.observe(0, 10, 1e-2)
    scheduler.observe(1, 10, 1e-3)
    assert scheduler.next_task() == 1          # weighted: task 1 counts 100 times
    explorer = GradientTaskScheduler(2, epsilon=1.0, seed=1)
    explorer.observe(0, 10, 1.0)
    explorer.observe(1, 10, 1e-9)
    picks = {explorer.next_task() for _ in range(30)}
    assert picks == {0, 1}


@pytest.mark.parametrize("seed", [0, 1])
def test_search_is_reproducible(seed):
    first, _ = _search(seed=seed)
    second, _ = _search(seed=seed)
    assert [c.key() for c in first.next_batch(5, set())] == \
        [c.key() for c in second.next_batch(5, set())]
