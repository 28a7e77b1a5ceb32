"""Repeats: a task played R times (`--repeat R`) is one task, not R.

Episodes are grouped by the task they repeat (`base_task_id`, set when a task is repeated);
an episode without one is its own group, so a split played once is summarized exactly as
before repeats existed. Means, intervals and the optimizer's paired comparison are computed
over per-task means, never over episodes, which would overstate the certainty.
"""

from __future__ import annotations

from math import comb
from typing import Any, Callable, Iterable, TypeVar

T = TypeVar("T")


def task_key(item: Any) -> str:
    """The task an episode (an EpisodeScore, a Trace, or a record dict) counts for."""
    if isinstance(item, dict):
        item = item.get("score", item)
        base, task = item.get("base_task_id"), item.get("task_id")
    else:
        base, task = getattr(item, "base_task_id", None), getattr(item, "task_id", None)
    return str(base if base is not None else task)


def group_by_task(items: Iterable[T], key: Callable[[T], str | None] | None = None) -> dict[str, list[T]]:
    """Items by the task they repeat, tasks in order of first appearance.

    `key(item)` gives the task an item repeats, or None when it repeats none: such an item is a
    group of its own (keyed by its position), even when another item has the same task id."""
    groups: dict[str, list[T]] = {}
    for i, item in enumerate(items):
        base = (key or _base)(item)
        groups.setdefault(f"\0{i}" if base is None else base, []).append(item)
    return groups


def _base(item: Any) -> str | None:
    base = item.get("base_task_id") if isinstance(item, dict) else getattr(item, "base_task_id", None)
    return None if base is None else str(base)


def pass_hat_k(n: int, c: int, k: int) -> float | None:
    """Chance that k of the n samples, drawn without replacement, all passed (c of n passed):
    C(c, k) / C(n, k), the unbiased pass^k estimator (tau-bench). None when n < k."""
    if k < 1 or n < k:
        return None
    return comb(c, k) / comb(n, k)
