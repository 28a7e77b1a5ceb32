"""The screen: a child against its parent on the same train tasks, before it may spend a val run.

A child better than its parent on the minibatch (by the episode scores, or, where those tie on
every task, by the rubric's partial scores) goes on to val. A screen tied at all 0 or all 1 says
nothing about the child: the loop widens it with more train tasks while the budget spares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentopt.episode_record import Episode
from agentopt.optimizer.state import scores_by_task
from agentopt.spec.rubric import Rubric


def _mean(episodes: list[Episode]) -> float | None:
    scores = [e.score.score for e in episodes if e.score.error is None]
    return sum(scores) / len(scores) if scores else None


def _paired_gain(child: dict[str, float], parent: dict[str, float]) -> float | None:
    shared = child.keys() & parent.keys()
    if not shared:
        return None
    return sum(child[t] - parent[t] for t in shared) / len(shared)


def _partial(episodes: list[Episode], rubric: Rubric) -> dict[str, float]:
    """{task: the weighted mean of its applicable criteria before any gate}: a rubric's partial
    credit, which tells apart two episodes a failed gate (or a pass/fail reward) scores alike."""
    weights = {c.id: c.weight for c in rubric.criteria}
    out: dict[str, float] = {}
    for e in episodes:
        if e.score.error is not None:
            continue
        pairs = [(weights.get(c.id, 0.0), c.score) for c in e.score.criteria if c.score is not None]  # the applicable ones
        total = sum(w for w, _ in pairs)
        out[e.trace.task_id] = sum(w * s for w, s in pairs) / total if total > 0 else e.score.score
    return out


_TIE = 1e-9


@dataclass
class Screen:
    """A child against its parent on the same train tasks: the gain and how it was decided
    ("score": the episode scores differ on some task; "partial": they tie everywhere but the
    rubric's partial scores do not; "tied": nothing tells them apart; "unscored")."""

    parent: list[Episode]
    child: list[Episode]
    rubric: Rubric
    widened: int = 0  # train tasks added to the minibatch because it was tied

    @property
    def _scores(self) -> tuple[dict[str, float], dict[str, float]]:
        return scores_by_task(self.child), scores_by_task(self.parent)

    @property
    def how(self) -> str:
        child, parent = self._scores
        shared = child.keys() & parent.keys()
        if not shared:
            return "unscored"
        if any(abs(child[t] - parent[t]) > _TIE for t in shared):
            return "score"
        pc, pp = _partial(self.child, self.rubric), _partial(self.parent, self.rubric)
        if any(abs(pc[t] - pp[t]) > _TIE for t in shared if t in pc and t in pp):
            return "partial"
        return "tied"

    @property
    def gain(self) -> float | None:
        how = self.how
        if how == "unscored":
            return None
        if how == "partial":
            return _paired_gain(_partial(self.child, self.rubric), _partial(self.parent, self.rubric))
        return _paired_gain(*self._scores)

    @property
    def uninformative(self) -> bool:
        """Tied, and at 0 on every task or at 1 on every task: the minibatch says nothing about the
        child (with a small model, often all 0). A tie at mixed scores is the child doing exactly
        what its parent does on tasks of every kind: screened out as it is."""
        if self.how != "tied":
            return False
        values = set(scores_by_task(self.parent).values())
        return values <= {0.0} or values <= {1.0}

    def wider(self, parent: list[Episode], child: list[Episode]) -> Screen:
        return Screen([*self.parent, *parent], [*self.child, *child], self.rubric, self.widened + len(child))

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"mean": _mean(self.child), "parent_mean": _mean(self.parent), "n": len(self.child)}
        if self.widened:
            info["widened"] = self.widened
        if self.how == "partial":
            info["decided_by"] = "partial"
            info["partial_gain"] = round(self.gain or 0.0, 6)
        return info

    def describe(self) -> str:
        child, parent = _mean(self.child), _mean(self.parent)
        text = f"train {_fmt(child)} vs parent {_fmt(parent)}"
        if self.widened:
            text += f" on {len(self.child)} tasks (tied, widened by {self.widened})"
        if self.how == "partial":
            text += f"; tied on every task, partial scores {self.gain:+.3f}"
        elif self.how == "tied":
            text += "; tied on every task"
        return text


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
