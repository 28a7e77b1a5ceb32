"""Scores as plain data: one episode's, and a split's summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CriterionScore:
    id: str
    score: float  # in [0, 1]
    passed: bool  # score >= the criterion's pass_at
    feedback: str  # one sentence saying why
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CriterionScore":
        return cls(**data)


@dataclass(frozen=True)
class EpisodeScore:
    episode_id: str
    task_id: str
    score: float  # weighted mean of the criteria, 0 when a gate failed
    passed: bool  # score >= the rubric's pass_threshold
    gate_failed: list[str] = field(default_factory=list)  # ids of the gates that failed
    criteria: tuple[CriterionScore, ...] = ()
    error: str | None = None  # infrastructure error: the episode is not scored

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EpisodeScore":
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
    mean: float | None  # None when no episode was scored
    pass_rate: float | None


@dataclass(frozen=True)
class SplitSummary:
    n: int  # episodes scored (infrastructure errors excluded)
    n_errors: int  # episodes that hit an infrastructure error
    mean: float | None  # mean episode score; None when n == 0
    ci_low: float | None  # 95% percentile-bootstrap interval of the mean
    ci_high: float | None
    pass_rate: float | None  # share of scored episodes that passed
    criteria: tuple[CriterionSummary, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SplitSummary":
        data = dict(data)
        data["criteria"] = tuple(CriterionSummary(**c) for c in data.get("criteria", []))
        return cls(**data)
