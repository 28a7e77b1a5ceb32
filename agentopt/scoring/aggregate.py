"""From criteria to an episode score, and from episodes to a split summary.

Infrastructure errors are never scored as 0: an errored episode is left out of the
means and counted in `n_errors`.
"""

from __future__ import annotations

import math
import random
from statistics import fmean

from agentopt.errors import ProviderError
from agentopt.scoring.base import CheckContext, CheckError, get_check
from agentopt.scoring.result import CriterionScore, CriterionSummary, EpisodeScore, SplitSummary
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
        passed = result.score >= criterion.pass_at
        criteria.append(CriterionScore(criterion.id, result.score, passed, result.feedback, result.details))
    total = rubric.total_weight
    score = sum(c.weight * s.score for c, s in zip(rubric.criteria, criteria)) / total if total > 0 else 0.0
    gate_failed = [c.id for c, s in zip(rubric.criteria, criteria) if c.gate and not s.passed]
    if gate_failed:
        score = 0.0
    return EpisodeScore(
        episode_id=trace.episode_id,
        task_id=trace.task_id,
        score=score,
        passed=not gate_failed and score >= rubric.pass_threshold,
        gate_failed=gate_failed,
        criteria=tuple(criteria),
    )


def _errored(trace: Trace, error: str) -> EpisodeScore:
    return EpisodeScore(trace.episode_id, trace.task_id, score=0.0, passed=False, error=error)


def summarize(scores: list[EpisodeScore], rubric: Rubric, seed: int = 0) -> SplitSummary:
    """Mean, 95% bootstrap interval and pass rates over the episodes that were scored."""
    scored = [s for s in scores if s.error is None]
    values = [s.score for s in scored]
    low, high = bootstrap_ci(values, seed=seed) if values else (None, None)
    return SplitSummary(
        n=len(scored),
        n_errors=len(scores) - len(scored),
        mean=fmean(values) if values else None,
        ci_low=low,
        ci_high=high,
        pass_rate=_share(s.passed for s in scored),
        criteria=tuple(_criterion_summary(c, scored) for c in rubric.criteria),
    )


def _criterion_summary(criterion: Criterion, scored: list[EpisodeScore]) -> CriterionSummary:
    mine = [c for s in scored for c in s.criteria if c.id == criterion.id]
    return CriterionSummary(
        id=criterion.id,
        description=criterion.description,
        weight=criterion.weight,
        gate=criterion.gate,
        mean=fmean(c.score for c in mine) if mine else None,
        pass_rate=_share(c.passed for c in mine),
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
