"""Acceptance: does a child beat the current best on held-out val?

The comparison is paired: only tasks both candidates were scored on count, so a child evaluated
on a subset (or a task that errored for one side) cannot win by a different mix of tasks.
Acceptance is strict: equal is not better. Optionally a paired bootstrap over the per-task
differences must also call the win significant.

With repeats (`--repeat R`) the unit is the task, not the episode: `decide` first averages each
side's repeats of a task (episode ids `task#rN`, see TaskRef.task_id) and pairs those per-task
means, so R noisy plays of one task are one paired difference, not R. `per_task_means` builds the
same {task: mean} from Episodes directly.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from agentopt.scoring.repeats import mean_over_repeats, task_key
from agentopt.scoring.result import EpisodeScore

_EPS = 1e-12  # float slack so that a delta of exactly min_delta passes


@dataclass(frozen=True)
class Decision:
    accepted: bool
    delta: float  # mean(child) - mean(best) on the shared tasks
    reason: str  # one line a person can read
    p_value: float | None = None  # bootstrap p-value, when significance was asked for


def per_task_means(episodes: Iterable[Any]) -> dict[str, float]:
    """{task id: mean score over its scored repeats} from Episodes or EpisodeScores; episodes
    that were not scored (errors, not applicable) are left out. Played once, it is {task id: score}."""
    groups: dict[str, list[float]] = {}
    for episode in episodes:
        score = episode if isinstance(episode, EpisodeScore) else episode.score
        if score.error is None:
            groups.setdefault(task_key(score), []).append(score.score)
    return {task: fmean(values) for task, values in groups.items()}


def decide(
    child: dict[str, float],
    best: dict[str, float],
    min_delta: float = 1e-9,
    significance: float | None = None,
    rng: random.Random | None = None,
    resamples: int = 2000,
) -> Decision:
    """Accept `child` ({task id: score}) over `best` only on a strict, large enough paired gain.

    Scores of a task's repeats (ids `task#rN`) are averaged into one per task before pairing.

    With `significance` (e.g. 0.05) the bootstrap p-value must also be below it. Without an
    `rng` the bootstrap uses a fixed seed, so the same scores always give the same decision.
    """
    child, best = mean_over_repeats(child), mean_over_repeats(best)
    shared = sorted(child.keys() & best.keys())
    if not shared:
        return Decision(False, 0.0, "no val task scored for both child and best")
    child_mean = fmean(child[t] for t in shared)
    best_mean = fmean(best[t] for t in shared)
    delta = child_mean - best_mean
    scores = f"val {child_mean:.3f} vs best {best_mean:.3f}"
    if delta <= 0:
        return Decision(False, delta, f"not better: {scores} ({delta:+.3f})")
    if delta < min_delta - _EPS:
        return Decision(False, delta, f"too small: {scores} ({delta:+.3f} < min_delta {min_delta:.3f})")
    gain = f"{delta:+.3f} >= min_delta {min_delta:.3f}"
    if significance is None:
        return Decision(True, delta, f"{scores} ({gain})")
    diffs = [child[t] - best[t] for t in shared]
    p = bootstrap_p_value(diffs, rng or random.Random(0), resamples)
    if p >= significance:
        return Decision(False, delta, f"{delta:+.3f} not significant (p={p:.2f} >= {significance:g})", p)
    return Decision(True, delta, f"{scores} ({gain}, p={p:.3f} < {significance:g})", p)


def bootstrap_p_value(diffs: list[float], rng: random.Random, resamples: int = 2000) -> float:
    """Share of bootstrap resamples of the paired differences whose mean is <= 0."""
    if not diffs or resamples < 1:
        raise ValueError("need at least one difference and one resample")
    k = len(diffs)
    hits = sum(sum(rng.choices(diffs, k=k)) <= 0 for _ in range(resamples))  # mean <= 0 iff sum <= 0
    return hits / resamples
