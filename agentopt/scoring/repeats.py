"""Repeats: a task played R times (`--repeat R`) is one task, not R.

Episodes are grouped by the task they repeat (`base_task_id`, set when a task is repeated);
an episode without one is its own group, so a split played once is summarized exactly as
before repeats existed. Means, intervals and the optimizer's paired comparison are computed
over per-task means, never over episodes, which would overstate the certainty.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from math import comb
from statistics import fmean
from typing import Any, TypeVar

T = TypeVar("T")

# A repeat's episode id, as TaskRef.task_id writes it: the task's id, then `#rN` for repeat N > 0.
_REPEAT_SUFFIX = re.compile(r"#r([1-9][0-9]*)$")


def split_repeat_id(task_id: str) -> tuple[str, int]:
    """('task', N) for a repeat's episode id 'task#rN'; (task_id, 0) for any other id."""
    match = _REPEAT_SUFFIX.search(task_id)
    return (task_id[: match.start()], int(match.group(1))) if match else (task_id, 0)


def mean_over_repeats(scores: dict[str, float]) -> dict[str, float]:
    """{episode id: score} -> {task id: mean score over its repeats}. Ids without a repeat
    suffix stay as they are, so a split played once is returned unchanged."""
    groups: dict[str, list[float]] = {}
    for task_id, score in scores.items():
        groups.setdefault(split_repeat_id(task_id)[0], []).append(score)
    return {task: values[0] if len(values) == 1 else fmean(values) for task, values in groups.items()}


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
