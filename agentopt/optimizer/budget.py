"""What a run may spend (rollouts, dollars, wall time, candidates) and when it must stop.

A `BudgetTracker` counts what has been spent; `exhausted()` names the first limit reached (or a
STOP file a person dropped into the run directory). Resumed runs pass what was already spent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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


MIN_CANDIDATES = 3  # a plan that buys fewer is refused before any episode is played
WIDEN = 1  # a screen tied on every task widens by up to WIDEN more minibatches (each one doubles what a tie costs)


@dataclass(frozen=True)
class Plan:
    """What `--max-rollouts` buys, computed from the split sizes before any episode is played.

    The final test evaluation (the baseline and the winner, once each) is taken from
    `--max-rollouts`: the budget is a hard cap on everything the run plays, and the plan says
    how much of it the test evaluation takes. The baseline is played on val up front and on
    train lazily: only on the tasks a screen (as a parent) or an operator needs, each task once,
    so its train episodes are counted in the screens. A candidate costs at most `2 x minibatch`
    to screen (its parent and itself on the minibatch; the parent's scores are reused when
    already played) plus `val` when the screen passes; a screen tied on every task widens by up
    to `widen` more tasks, when the budget spares them. `candidates` is what the budget buys
    when every candidate passes its screen (the fewest); `candidates_screened` when every one
    is screened out against a parent already scored (the most).
    """

    max_rollouts: int | None
    train: int  # train tasks
    val: int  # val tasks (after --val-episodes)
    test: int  # test tasks (after --test-episodes); 0 without a test evaluation
    minibatch: int  # train tasks per screen (--minibatch, at most the train split)

    @property
    def baseline(self) -> int:
        return self.val

    @property
    def screen(self) -> int:
        return 2 * self.minibatch

    @property
    def widen(self) -> int:
        """Train tasks a tied screen may add (parent and child each play them)."""
        return max(0, min(self.train, (1 + WIDEN) * self.minibatch) - self.minibatch)

    @property
    def per_candidate(self) -> int:
        return self.screen + self.val

    @property
    def final_test(self) -> int:
        return 2 * self.test

    @property
    def search(self) -> int | None:
        """Rollouts left for candidates once the baseline and the final test are paid for."""
        if self.max_rollouts is None:
            return None
        return self.max_rollouts - self.baseline - self.final_test

    @property
    def candidates(self) -> int | None:
        if self.search is None or not self.train:
            return None
        return max(0, self.search) // self.per_candidate

    @property
    def candidates_screened(self) -> int | None:
        if self.search is None or not self.train:
            return None
        return max(0, self.search) // max(1, self.minibatch)

    @classmethod
    def make(cls, max_rollouts: int | None, train: int, val: int, test: int, minibatch: int) -> Plan:
        return cls(max_rollouts, train, val, test, min(minibatch, train))

    def lines(self) -> list[str]:
        """The plan as the terminal and the report show it."""
        cap = "no rollout limit" if self.max_rollouts is None else f"--max-rollouts {self.max_rollouts}"
        out = [
            f"Budget plan ({cap}): baseline {self.baseline} (val {self.val}; on train only where a screen needs it); "
            f"per candidate up to {self.per_candidate} (screen {self.screen} = 2 x minibatch {self.minibatch}, "
            f"val {self.val} when the screen passes; a tie widens the screen by up to {self.widen} tasks); "
            f"final test {self.final_test} (baseline and winner on {self.test} test tasks)"
        ]
        if self.candidates is not None:
            out.append(
                f"That buys {self.candidates} to {self.candidates_screened} candidates "
                f"({self.candidates} if every one reaches val, {self.candidates_screened} if every one is screened out)"
            )
        return out

    def refusal(self) -> str | None:
        """One line naming the option to change when the plan buys fewer than MIN_CANDIDATES."""
        if self.candidates is None or self.candidates >= MIN_CANDIDATES:
            return None
        need = self.baseline + self.final_test + MIN_CANDIDATES * self.per_candidate
        heavy = max(
            (self.final_test, f"lower --test-episodes (the final test plays {self.test} test tasks twice: {self.final_test} rollouts)"),
            (MIN_CANDIDATES * self.val, f"lower --val-episodes (each candidate that passes its screen plays all {self.val} val tasks)"),
            (MIN_CANDIDATES * self.screen, f"lower --minibatch (each screen plays up to 2 x {self.minibatch} train tasks)"),
        )[1]
        return (
            f"--max-rollouts {self.max_rollouts} buys {self.candidates} candidate(s) "
            f"(baseline {self.baseline} + final test {self.final_test} + {self.per_candidate} per candidate), "
            f"fewer than {MIN_CANDIDATES}: {heavy}, or raise --max-rollouts to {need}"
        )

    @classmethod
    def from_dict(cls, data: dict[str, int | None]) -> Plan:
        def count(key: str) -> int:
            return int(data.get(key) or 0)

        return cls(data.get("max_rollouts"), count("train"), count("val"), count("test"), count("minibatch"))

    def to_dict(self) -> dict[str, int | None]:
        return {
            "max_rollouts": self.max_rollouts, "train": self.train, "val": self.val, "test": self.test,
            "minibatch": self.minibatch, "baseline": self.baseline, "baseline_val": self.val,
            "per_candidate": self.per_candidate, "screen": self.screen, "widen": self.widen,
            "final_test": self.final_test, "search": self.search, "candidates": self.candidates,
            "candidates_screened": self.candidates_screened, "min_candidates": MIN_CANDIDATES,
        }


def plan_note(summary: dict[str, Any]) -> str:
    """A run's budget plan (its summary's `plan`) as the terminal showed it at the start, for the
    reports; '' for runs from before plans were kept."""
    plan = summary.get("plan")
    return "; ".join(Plan.from_dict(plan).lines()) if plan else ""
