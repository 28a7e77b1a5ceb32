"""From criteria to an episode score, and from episodes to a split summary.

Infrastructure errors are never scored as 0: an errored episode is left out of the
means and counted in `n_errors`. A criterion that does not apply to an episode (its check
returned `CheckResult.not_applicable`) is left out of that episode's weighted mean, the other
criteria's weights renormalised; an episode that no weighted criterion applies to is not
scored either, and counted in `n_not_applicable`. Repeats of one task count as one task: the
split's mean and interval are over per-task means.
"""

from __future__ import annotations

import math
import random
from statistics import fmean

from agentopt.errors import ProviderError
from agentopt.scoring.base import CheckContext, CheckError, get_check
from agentopt.scoring.repeats import group_by_task, pass_hat_k
from agentopt.scoring.result import (
    NOT_APPLICABLE,
    CriterionScore,
    CriterionSummary,
    EpisodeScore,
    SplitSummary,
    TaskSummary,
)
from agentopt.spec.rubric import Criterion, Rubric
from agentopt.trace import Trace

BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95


async def score_trace(trace: Trace, rubric: Rubric, ctx: CheckContext) -> EpisodeScore:
    """Run every criterion's check on the trace and combine them."""
    if trace.is_infra_error:
        return _errored(trace, trace.error or "infrastructure error")
    criteria = []
    for criterion in rubric.criteria:
        try:
            result = await get_check(criterion.check).score(trace, criterion.params, ctx)
        except (ProviderError, CheckError) as exc:  # e.g. a template failed, a regex ran out of time
            return _errored(trace, f"criterion {criterion.id!r}: {exc}")
        passed = result.score is None or result.score >= criterion.pass_at
        criteria.append(CriterionScore(criterion.id, result.score, passed, result.feedback, result.details))
    applicable = [(c, s) for c, s in zip(rubric.criteria, criteria) if s.applicable]
    gate_failed = [c.id for c, s in applicable if c.gate and not s.passed]
    weight = sum(c.weight for c, _ in applicable)
    skipped = [s for s in criteria if not s.applicable]
    if skipped and weight <= 0 and not gate_failed:
        why = "; ".join(f"{s.id!r}: {s.feedback}" for s in skipped)
        return EpisodeScore(
            trace.episode_id, trace.task_id, score=0.0, passed=False, criteria=tuple(criteria),
            error=f"{NOT_APPLICABLE}: {why}", not_applicable=True, **_repeat_of(trace),
        )
    score = sum(c.weight * (s.score or 0.0) for c, s in applicable) / weight if weight > 0 else 0.0
    if gate_failed:
        score = 0.0
    return EpisodeScore(
        episode_id=trace.episode_id,
        task_id=trace.task_id,
        score=score,
        passed=not gate_failed and score >= rubric.pass_threshold,
        gate_failed=gate_failed,
        criteria=tuple(criteria),
        **_repeat_of(trace),
    )


def _repeat_of(trace: Trace) -> dict:
    return {"base_task_id": trace.base_task_id, "repeat": trace.repeat}


def _errored(trace: Trace, error: str) -> EpisodeScore:
    return EpisodeScore(trace.episode_id, trace.task_id, score=0.0, passed=False, error=error, **_repeat_of(trace))


def summarize(scores: list[EpisodeScore], rubric: Rubric, seed: int = 0) -> SplitSummary:
    """Mean over tasks (each task's mean over its repeats), its 95% bootstrap interval over those
    task means, pass rates over the scored episodes, and pass^k per task when tasks were repeated."""
    scored = [s for s in scores if s.error is None]
    not_applicable = [s for s in scores if s.not_applicable]
    tasks = [_task_summary(group) for group in group_by_task(scores).values()]
    repeats = max((t.repeats for t in tasks), default=1)
    means = [t.mean for t in tasks if t.mean is not None]
    low, high = bootstrap_ci(means, seed=seed) if means else (None, None)
    k = repeats if repeats > 1 else None
    if k is not None:
        tasks = [_with_pass_hat_k(t, k) for t in tasks]
    hats = [t.pass_hat_k for t in tasks if t.pass_hat_k is not None]
    return SplitSummary(
        n=len(scored),
        n_errors=len(scores) - len(scored) - len(not_applicable),
        mean=fmean(means) if means else None,
        ci_low=low,
        ci_high=high,
        pass_rate=_share(s.passed for s in scored),
        criteria=tuple(_criterion_summary(c, scored + not_applicable) for c in rubric.criteria),
        n_not_applicable=len(not_applicable),
        n_tasks=len(means),
        repeats=repeats,
        k=k,
        pass_hat_k=fmean(hats) if hats else None,
        per_task=tuple(tasks) if k is not None else (),
    )


def _task_summary(group: list[EpisodeScore]) -> TaskSummary:
    scored = [s for s in group if s.error is None]
    first = group[0]
    return TaskSummary(
        task_id=first.base_task_id if first.base_task_id is not None else first.task_id,
        repeats=len(group),
        n=len(scored),
        mean=fmean(s.score for s in scored) if scored else None,
        passes=sum(s.passed for s in scored),
        pass_hat_k=None,
    )


def _with_pass_hat_k(task: TaskSummary, k: int) -> TaskSummary:
    return TaskSummary(task.task_id, task.repeats, task.n, task.mean, task.passes, pass_hat_k(task.n, task.passes, k))


def _criterion_summary(criterion: Criterion, scored: list[EpisodeScore]) -> CriterionSummary:
    mine = [c for s in scored for c in s.criteria if c.id == criterion.id]
    applied = [c for c in mine if c.applicable]
    return CriterionSummary(
        id=criterion.id,
        description=criterion.description,
        weight=criterion.weight,
        gate=criterion.gate,
        mean=fmean(c.score for c in applied if c.score is not None) if applied else None,
        pass_rate=_share(c.passed for c in applied),
        n_not_applicable=len(mine) - len(applied),
    )


def _share(flags) -> float | None:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else None


def bootstrap_ci(
    values: list[float], resamples: int = BOOTSTRAP_RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean; deterministic for a given seed."""
    rng = random.Random(seed)
    means = sorted(fmean(rng.choices(values, k=len(values))) for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = means[int(math.floor(tail * resamples))]
    high = means[min(resamples - 1, int(math.ceil((1 - tail) * resamples)) - 1)]
    return low, high


def compare(current: SplitSummary, baseline: SplitSummary) -> float:
    """How much the current mean beats the baseline's (negative when it is worse)."""
    if current.mean is None or baseline.mean is None:
        raise ValueError("cannot compare: a split has no scored episodes")
    return current.mean - baseline.mean
