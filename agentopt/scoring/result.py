"""Scores as plain data: one episode's, and a split's summary.

A criterion whose check does not apply to an episode (e.g. `env_reward` when the environment
gave no reward) has score None: it is left out of that episode's weighted mean and of the
criterion's mean and pass rate, and counted in `n_not_applicable`, never scored 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CriterionScore:
    id: str
    score: float | None  # in [0, 1]; None: not applicable to this episode
    passed: bool  # score >= the criterion's pass_at; a criterion that does not apply has not failed (True)
    feedback: str  # one sentence saying why
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def applicable(self) -> bool:
        return self.score is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CriterionScore:
        return cls(**data)


NOT_APPLICABLE = "not applicable"  # how an episode no criterion applied to is named (its `error` starts so)


@dataclass(frozen=True)
class EpisodeScore:
    episode_id: str
    task_id: str
    score: float  # weighted mean of the applicable criteria, 0 when a gate failed
    passed: bool  # score >= the rubric's pass_threshold
    gate_failed: list[str] = field(default_factory=list)  # ids of the gates that failed
    criteria: tuple[CriterionScore, ...] = ()
    error: str | None = None  # why the episode is not scored: an infrastructure error, or "not applicable: ..."
    not_applicable: bool = False  # no weighted criterion applied: not scored, but not an infrastructure error
    base_task_id: str | None = None  # the task this episode is a repeat of (None: task_id itself)
    repeat: int = 0  # which repeat of that task

    @property
    def is_infra_error(self) -> bool:
        return self.error is not None and not self.not_applicable

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpisodeScore:
        data = dict(data)
        data["gate_failed"] = list(data.get("gate_failed", []))
        data["criteria"] = tuple(CriterionScore.from_dict(c) for c in data.get("criteria", []))
        return cls(**data)


@dataclass(frozen=True)
class CriterionSummary:
    id: str
    description: str
    weight: float
    gate: bool
    mean: float | None  # over the episodes it applied to; None when there were none
    pass_rate: float | None
    n_not_applicable: int = 0  # episodes (scored or not applicable) this criterion did not apply to


@dataclass(frozen=True)
class TaskSummary:
    """One task over its repeats."""

    task_id: str
    repeats: int  # episodes played (errors included)
    n: int  # episodes scored
    mean: float | None  # mean score over the scored repeats
    passes: int  # scored repeats that passed
    pass_hat_k: float | None  # chance that k repeats drawn from the scored ones all pass; None when n < k


@dataclass(frozen=True)
class SplitSummary:
    n: int  # episodes scored (infrastructure errors and not applicable episodes excluded)
    n_errors: int  # episodes that hit an infrastructure error
    mean: float | None  # mean over tasks of each task's mean score; None when n == 0
    ci_low: float | None  # 95% percentile-bootstrap interval of the mean, over task means
    ci_high: float | None
    pass_rate: float | None  # share of scored episodes that passed
    criteria: tuple[CriterionSummary, ...] = ()
    n_not_applicable: int = 0  # episodes no weighted criterion applied to (not scored, not errors)
    n_tasks: int | None = None  # tasks with at least one scored episode
    repeats: int = 1  # most episodes played of one task
    k: int | None = None  # the k of pass_hat_k (= repeats); None when each task was played once
    pass_hat_k: float | None = None  # mean over tasks of pass^k (all k repeats pass); None when repeats == 1
    per_task: tuple[TaskSummary, ...] = ()  # per task, when repeats > 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SplitSummary:
        data = dict(data)
        data["criteria"] = tuple(CriterionSummary(**c) for c in data.get("criteria", []))
        data["per_task"] = tuple(TaskSummary(**t) for t in data.get("per_task", []))
        return cls(**data)
