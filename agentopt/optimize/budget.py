"""What a run may spend (rollouts, dollars, wall time, candidates) and when it must stop.

A `BudgetTracker` counts what has been spent; `exhausted()` names the first limit reached (or a
STOP file a person dropped into the run directory). Resumed runs pass what was already spent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Budget:
    max_rollouts: int | None = None  # episodes run, over every split
    max_cost: float | None = None  # dollars
    max_time_s: float | None = None  # wall-clock seconds
    max_candidates: int | None = None  # proposals evaluated (the baseline excluded)


class BudgetTracker:
    def __init__(
        self,
        budget: Budget,
        stop_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        rollouts: int = 0,
        cost: float = 0.0,
        candidates: int = 0,
        elapsed_s: float = 0.0,
    ) -> None:
        self.budget = budget
        self.stop_file = stop_file
        self._clock = clock
        self._start = clock()
        self._rollouts = rollouts
        self._cost = cost
        self._candidates = candidates
        self._elapsed_before = elapsed_s  # time spent by earlier sessions of a resumed run

    def spend(self, rollouts: int, cost: float) -> None:
        if rollouts < 0 or cost < 0:
            raise ValueError(f"cannot spend a negative amount ({rollouts} rollouts, ${cost})")
        self._rollouts += rollouts
        self._cost += cost

    def add_candidate(self) -> None:
        self._candidates += 1

    @property
    def rollouts(self) -> int:
        return self._rollouts

    @property
    def cost(self) -> float:
        return self._cost

    @property
    def candidates(self) -> int:
        return self._candidates

    @property
    def elapsed_s(self) -> float:
        return self._elapsed_before + (self._clock() - self._start)

    def exhausted(self) -> str | None:
        """Why the run must stop now, or None while every limit still has room."""
        b = self.budget
        if self.stop_file is not None and self.stop_file.exists():
            return f"STOP file found ({self.stop_file})"
        if b.max_rollouts is not None and self._rollouts >= b.max_rollouts:
            return f"rollout budget spent ({self._rollouts}/{b.max_rollouts})"
        if b.max_cost is not None and self._cost >= b.max_cost:
            return f"cost budget spent (${self._cost:.2f}/${b.max_cost:.2f})"
        if b.max_time_s is not None and (elapsed := self.elapsed_s) >= b.max_time_s:
            return f"time budget spent ({elapsed:.0f}s/{b.max_time_s:.0f}s)"
        if b.max_candidates is not None and self._candidates >= b.max_candidates:
            return f"candidate budget spent ({self._candidates}/{b.max_candidates})"
        return None

    def can_afford(self, rollouts: int) -> bool:
        """Whether `rollouts` more episodes fit in the rollout budget (other limits not checked)."""
        limit = self.budget.max_rollouts
        return limit is None or self._rollouts + rollouts <= limit


def too_small(budget: Budget, baseline_rollouts: int, candidate_rollouts: int) -> str | None:
    """A warning when max_rollouts cannot pay for the baseline plus one candidate, else None.

    `candidate_rollouts` is what one candidate costs in full: its train screen plus its val run.
    """
    if budget.max_rollouts is None:
        return None
    need = baseline_rollouts + candidate_rollouts
    if budget.max_rollouts >= need:
        return None
    return (
        f"max_rollouts={budget.max_rollouts} cannot pay for the baseline evaluation "
        f"({baseline_rollouts} rollouts) plus one candidate ({candidate_rollouts} rollouts for "
        f"screen + val); raise it to at least {need}."
    )
