"""Spreading one trial budget over several workloads, as Ansor's gradient-based task
scheduler does.

The objective is the weighted sum of the workloads' best times.  After a first batch for
every task, the next batch goes to the task whose objective is expected to drop fastest
per trial: a mix of the recent slope of its best time (backward) and an optimistic
estimate of what the next trials can gain, ``best / trials so far`` (forward).  Tasks that
ran out of candidates or stopped early are skipped; with probability ``epsilon`` a random
task is picked instead, so no task starves.

>>> scheduler = GradientTaskScheduler(num_tasks=2, seed=0)
>>> k = scheduler.next_task()
>>> scheduler.observe(k, trials=32, best_time=1.2e-3)
"""
from __future__ import annotations

import math

import numpy as np


class GradientTaskScheduler:
    """Picks which task gets the next batch of trials."""

    def __init__(self, num_tasks: int, weights=None, alpha: float = 0.2,
                 backward_window: int = 3, epsilon: float = 0.05, seed: int = 0):
        self.num_tasks = num_tasks
        self.weights = np.ones(num_tasks) if weights is None else np.asarray(weights, float)
        self.alpha = alpha
        self.backward_window = backward_window
        self.epsilon = epsilon
        self.rng = np.random.default_rng(seed)
        self.trials = [0] * num_tasks
        #: per task: (trials so far, best seconds) after each of its batches
        self.history: list[list[tuple[int, float]]] = [[] for _ in range(num_tasks)]
        self.finished = [False] * num_tasks

    def observe(self, task: int, trials: int, best_time: float) -> None:
        """Task ``task`` now has ``trials`` trials and best time ``best_time`` (inf: no
        valid candidate yet)."""
        self.trials[task] = trials
        self.history[task].append((trials, best_time))

    def finish(self, task: int) -> None:
        """Give ``task`` no more trials (space exhausted or stopped early)."""
        self.finished[task] = True

    def gradient(self, task: int) -> float:
        """Expected change of the objective per trial spent on ``task`` (negative: the
        objective drops)."""
        history = self.history[task]
        trials, best = history[-1]
        if not math.isfinite(best):
            return -math.inf  # nothing valid yet: most urgent
        earlier_trials, earlier_best = history[max(0, len(history) - 1 - self.backward_window)]
        if math.isfinite(earlier_best) and trials > earlier_trials:
            backward = (best - earlier_best) / (trials - earlier_trials)
        else:
            backward = 0.0
        forward = -best / max(trials, 1)
        return self.weights[task] * (self.alpha * backward + (1 - self.alpha) * forward)

    def next_task(self) -> int | None:
        """The task to measure next, or None when every task is finished."""
        open_tasks = [k for k in range(self.num_tasks) if not self.finished[k]]
        if not open_tasks:
            return None
        unstarted = [k for k in open_tasks if not self.history[k]]
        if unstarted:
            return unstarted[0]
        if self.rng.random() < self.epsilon:
            return int(self.rng.choice(open_tasks))
        return min(open_tasks, key=lambda k: (self.gradient(k), self.trials[k]))
