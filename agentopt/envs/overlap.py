"""Held-out tasks that repeat a train task: a leak that inflates val and test scores.

Demonstrations and rewrites are built from train episodes. When a val or test task says
the same thing as a train task (the same text, or the same text with other numbers: an
order id, an amount), a demonstration can carry its answer across, and the held-out score
stops measuring what the agent learned. The check compares task specs as given by the
environment (its Task API or a --tasks file), without their id, split and expected answer,
as lower-case text with runs of digits masked and blanks collapsed. Seeded episodes have no
spec and are not compared.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentopt.envs.tasks import TaskRef

_NOT_CONTENT = {"id", "task_id", "split", "expected", "answer", "label", "solution", "reference"}
_DIGITS = re.compile(r"\d+")
_BLANKS = re.compile(r"\s+")


def task_fingerprint(spec: dict[str, Any]) -> str | None:
    """The task's content, normalised; None when the spec holds nothing to compare."""
    content = {k: v for k, v in spec.items() if k not in _NOT_CONTENT}
    if not content:
        return None
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str).lower()
    return _BLANKS.sub(" ", _DIGITS.sub("0", text))


def held_out_overlap(splits: dict[str, list[TaskRef]]) -> dict[str, dict[str, str]]:
    """For val and test: {held-out task id: the train task id it repeats}."""
    train: dict[str, str] = {}
    for task in splits.get("train", []):
        key = task_fingerprint(task.spec)
        if key is not None:
            train.setdefault(key, task.base_task_id)
    overlap: dict[str, dict[str, str]] = {}
    for split in ("val", "test"):
        pairs = {}
        for task in splits.get(split, []):
            key = task_fingerprint(task.spec)
            if key is not None and key in train:
                pairs[task.base_task_id] = train[key]
        if pairs:
            overlap[split] = pairs
    return overlap


def overlap_warning(overlap: dict[str, dict[str, str]], sizes: dict[str, int]) -> str | None:
    """One line for the terminal, or None when no held-out task repeats a train task."""
    if not overlap:
        return None
    parts = []
    for split, pairs in overlap.items():
        examples = ", ".join(f"{split} {h} = train {t}" for h, t in list(pairs.items())[:3])
        parts.append(f"{len(pairs)} of {sizes.get(split, len(pairs))} {split} task(s) ({examples}{', ...' if len(pairs) > 3 else ''})")
    return (
        f"{' and '.join(parts)} repeat a train task (same text up to numbers): held-out scores can be "
        "inflated by demonstrations; keep near-duplicates in one split (the pairs are in overlap.json)"
    )
