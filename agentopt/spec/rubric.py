"""Rubric: what "done right" means, in rubrics/*.yaml, owned by a PM.

The dataclasses below are the loaded, validated form. Loading (with file:line:col
errors) lives in `agentopt.spec.load`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Criterion:
    id: str
    description: str  # plain language; also shown to the optimizer's mutator
    weight: float
    check: str  # the check type, a name registered in agentopt.scoring.checks
    params: dict[str, Any] = field(default_factory=dict)  # the check's own fields
    gate: bool = False  # a failed gate zeroes the episode's score
    pass_at: float = 1.0  # the criterion passes when its score >= pass_at


@dataclass(frozen=True)
class Rubric:
    name: str
    criteria: tuple[Criterion, ...]
    pass_threshold: float = 0.7  # an episode passes when its score >= this
    description: str = ""
    judge_model: str = "local"  # default model for llm_judge checks
    source: str = ""

    @property
    def total_weight(self) -> float:
        return sum(c.weight for c in self.criteria)
