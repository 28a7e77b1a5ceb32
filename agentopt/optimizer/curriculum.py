"""`agentopt run --curriculum`: minibatches weighted towards the train tasks that still teach.

A train task that every accepted candidate solves, or that none of them solves, says little
about which child is better; a task solved sometimes is where a change shows. With
`--curriculum`, each iteration draws its minibatch without replacement with weight

    w = max(FLOOR, 4 p (1 - p)) ** 2,   p = (solved + 1/2) / (played + 1)

per task, from the train episodes the accepted candidates (the baseline included) played:
`solved` counts episodes that passed the rubric (score >= pass_threshold, no gate failed).
An unplayed task has p = 1/2 and the highest weight (nothing is known about it yet); a task
with mixed outcomes keeps a weight near 1; one solved by every play (or by none) loses
weight with each play: 0.56 after one, 0.31 after two, 0.19 after three, never below
FLOOR ** 2, so no task is ever left out.

Only the episodes written before the last decision count (the first `rollouts` lines of
episodes.jsonl, as that decision recorded them), so the weights of iteration i are the same
in an unbroken run and in one resumed after a kill in the middle of iteration i.

At the end, `curriculum.json` in the run folder holds, per train task, how often the
accepted candidates solved it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from agentopt.records import POOL, Decision
from agentopt.store.decisions import CANDIDATES, read_decisions
from agentopt.store.run import RunFolder, read_jsonl

FLOOR = 0.1
EPISODES = "episodes.jsonl"
REPORT = "curriculum.json"

T = TypeVar("T")


@dataclass(frozen=True)
class TaskRecord:
    """How the accepted candidates did on one train task."""

    task_id: str
    played: int  # scored train episodes of accepted candidates
    solved: int  # of those, the ones that passed

    @property
    def rate(self) -> float | None:
        return self.solved / self.played if self.played else None

    @property
    def weight(self) -> float:
        p = (self.solved + 0.5) / (self.played + 1)
        return max(FLOOR, 4 * p * (1 - p)) ** 2


def accepted(decisions: Sequence[Decision]) -> set[str]:
    return {d.id for d in decisions if d.status in POOL}


def tally(run_path: Path, pool: set[str], upto: int | None = None) -> dict[str, TaskRecord]:
    """Per train task, the accepted candidates' plays and passes in the first `upto` episode
    lines (all of them when None). Infrastructure errors and not-applicable episodes are left out."""
    counts: dict[str, list[int]] = {}
    for line, record in enumerate(read_jsonl(run_path / EPISODES)):
        if upto is not None and line >= upto:
            break
        score = record.get("score", {})
        if record.get("split") != "train" or record.get("candidate") not in pool or score.get("error") is not None:
            continue
        trace = record.get("trace", {})
        task = trace.get("base_task_id") or trace.get("task_id")
        entry = counts.setdefault(task, [0, 0])
        entry[0] += 1
        entry[1] += bool(score.get("passed"))
    return {task: TaskRecord(task, played, solved) for task, (played, solved) in counts.items()}


def draw(rng: random.Random, tasks: Sequence[T], k: int, records: dict[str, TaskRecord], task_id=lambda t: t.base_task_id) -> list[T]:
    """k of `tasks` without replacement, each with its weight (Efraimidis-Spirakis: the k largest
    u ** (1 / w)); the same rng state always gives the same minibatch."""
    unknown = TaskRecord("", 0, 0)
    keyed = [(rng.random() ** (1.0 / records.get(task_id(t), unknown).weight), i) for i, t in enumerate(tasks)]
    chosen = sorted(keyed, reverse=True)[:k]
    return [tasks[i] for _, i in chosen]


def minibatch(rng: random.Random, run_path: Path, decisions: Sequence[Decision], train: Sequence[T], k: int) -> list[T]:
    """The hook in the loop: iteration i's weighted minibatch from what was known at decision i - 1."""
    upto = decisions[-1].rollouts if decisions else 0
    return draw(rng, train, k, tally(run_path, accepted(decisions), upto))


def report(run: RunFolder) -> str:
    """Write curriculum.json (every train task of splits.json: the accepted candidates' plays and
    passes on it, its solve rate and its last weight) and return the one-line summary the CLI prints."""
    decisions = read_decisions(run.path / CANDIDATES)
    pool = accepted(decisions)
    records = tally(run.path, pool)
    splits = run.path / "splits.json"
    train_ids = json.loads(splits.read_text(encoding="utf-8")).get("train", []) if splits.exists() else sorted(records)
    rows = [records.get(t, TaskRecord(t, 0, 0)) for t in train_ids]
    always = sum(r.played > 0 and r.solved == r.played for r in rows)
    never = sum(r.played > 0 and r.solved == 0 for r in rows)
    mixed = sum(0 < r.solved < r.played for r in rows)
    unplayed = sum(r.played == 0 for r in rows)
    order = [d.id for d in decisions if d.id in pool]
    run.write_json(REPORT, {"accepted": order, "tasks": [{**asdict(r), "rate": r.rate, "weight": round(r.weight, 4)} for r in rows]})
    return (
        f"curriculum: of {len(rows)} train tasks the accepted candidates ({', '.join(order)}) solved "
        f"{always} always, {mixed} sometimes, {never} never; {unplayed} not played ({run.path / REPORT})"
    )
