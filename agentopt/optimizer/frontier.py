"""Pareto parent selection, after GEPA (arXiv 2507.19457).

Rather than always mutating the single best candidate, GEPA keeps every candidate that is the
best on at least one val task and samples parents in proportion to how many tasks each is best
on. A candidate that solves one hard task nobody else solves stays in play even when its mean
is lower, which keeps the search from collapsing onto one local optimum.

Pruning: a candidate whose set of best-tasks is a strict subset of another candidate's set is
dropped; of candidates with equal sets only one is kept (higher mean, then the older one, i.e.
the first in insertion order). Because "subset" is transitive, every dropped candidate is
covered by one that stays.
"""

from __future__ import annotations

import random
from statistics import fmean

_TIE = 1e-9  # scores this close count as tied


def pareto_front(val_scores: dict[str, dict[str, float]]) -> dict[str, int]:
    """{candidate id: number of val tasks it is best on} for the candidates on the front.

    `val_scores` maps candidate id -> {task id -> score}. A candidate without a score for a task
    is not best on it. Ties count for every tied candidate. Order follows `val_scores`.
    """
    best_tasks = _best_tasks(val_scores)
    tasks = {task for scores in val_scores.values() for task in scores}
    # Missing scores count as 0 in the mean used to break equal-set ties.
    means = {c: fmean(scores.get(t, 0.0) for t in tasks) for c, scores in val_scores.items()}
    order = {c: i for i, c in enumerate(val_scores)}

    def beats(b: str, a: str) -> bool:
        """True when b makes a redundant."""
        if best_tasks[a] < best_tasks[b]:
            return True
        if best_tasks[a] != best_tasks[b]:
            return False
        if abs(means[b] - means[a]) > _TIE:
            return means[b] > means[a]
        return order[b] < order[a]

    candidates = [c for c in val_scores if best_tasks[c]]
    return {
        a: len(best_tasks[a])
        for a in candidates
        if not any(beats(b, a) for b in candidates if b != a)
    }


def select_parent(val_scores: dict[str, dict[str, float]], rng: random.Random) -> str:
    """A candidate from the front, drawn with probability proportional to its best-task count."""
    front = pareto_front(val_scores)
    return rng.choices(list(front), weights=list(front.values()))[0]


def _best_tasks(val_scores: dict[str, dict[str, float]]) -> dict[str, frozenset[str]]:
    if not val_scores:
        raise ValueError("no candidates to choose from")
    best: dict[str, float] = {}
    for scores in val_scores.values():
        for task, score in scores.items():
            best[task] = max(score, best.get(task, score))
    if not best:
        raise ValueError("no candidate has a val score")
    return {
        c: frozenset(t for t, s in scores.items() if s >= best[t] - _TIE)
        for c, scores in val_scores.items()
    }
