import pytest

from agentopt.models.types import ChatResponse
from agentopt.scoring.aggregate import bootstrap_ci, compare, score_trace, summarize
from agentopt.scoring.base import CheckContext
from agentopt.scoring.result import CriterionScore, EpisodeScore, SplitSummary
from agentopt.spec.rubric import Criterion, Rubric

from . import make_trace

CATEGORY = Criterion("category", "Names the category", 3.0, "contains", {"value": ["billing", "refund"]}, pass_at=0.5)
SHORT = Criterion("short", "Few turns", 1.0, "max_turns", {"limit": 2})
SAFE = Criterion("safe", "No secrets", 1.0, "not_contains", {"value": "password"}, gate=True)


def rubric(*criteria, pass_threshold=0.7) -> Rubric:
    return Rubric(name="support", criteria=criteria, pass_threshold=pass_threshold)


async def test_weighted_mean_and_pass_at():
    episode = await score_trace(make_trace(), rubric(CATEGORY, SHORT), CheckContext())
    category, short = episode.criteria
    assert category == CriterionScore("category", 0.5, True, "answer is missing 'refund'.", {"found": ["billing"], "missing": ["refund"]})
    assert (short.score, short.passed) == (0.0, False)
    assert episode.score == pytest.approx((3 * 0.5 + 1 * 0.0) / 4)
    assert episode.passed is False and episode.gate_failed == [] and episode.error is None
    assert (episode.episode_id, episode.task_id) == ("ep1", "t1")


async def test_pass_threshold():
    lenient = await score_trace(make_trace(), rubric(CATEGORY, SHORT, pass_threshold=0.375), CheckContext())
    assert lenient.passed is True


async def test_failed_gate_zeroes_the_score():
    trace = make_trace(final_answer="billing refund, your password is hunter2")
    episode = await score_trace(trace, rubric(CATEGORY, SAFE), CheckContext())
    assert episode.criteria[0].score == 1.0
    assert episode.gate_failed == ["safe"]
    assert (episode.score, episode.passed) == (0.0, False)
    passing = await score_trace(make_trace(final_answer="billing refund"), rubric(CATEGORY, SAFE), CheckContext())
    assert (passing.score, passing.passed, passing.gate_failed) == (1.0, True, [])


async def test_infra_error_trace_is_not_scored():
    trace = make_trace(stop_reason="error", error="provider timed out")
    episode = await score_trace(trace, rubric(CATEGORY), CheckContext())
    assert episode == EpisodeScore("ep1", "t1", 0.0, False, [], (), "provider timed out")


class GarbageJudge:
    async def chat(self, request):
        return ChatResponse(content="no idea")


async def test_judge_provider_error_makes_an_infra_error():
    judged = Criterion("judged", "Judge likes it", 1.0, "llm_judge", {"prompt": "{{ answer }}"}, pass_at=0.5)
    episode = await score_trace(make_trace(), rubric(CATEGORY, judged), CheckContext(judge=GarbageJudge()))
    assert episode.error == "criterion 'judged': judge returned no JSON object: 'no idea'"
    assert (episode.score, episode.passed, episode.criteria) == (0.0, False, ())


async def test_template_error_makes_an_infra_error():
    broken = Criterion("broken", "Uses a missing field", 1.0, "equals", {"value": "{{ expected.nope }}"})
    episode = await score_trace(make_trace(), rubric(broken), CheckContext())
    assert episode.error.startswith("criterion 'broken': template '{{ expected.nope }}' failed:")


def test_episode_score_round_trips():
    episode = EpisodeScore("e", "t", 0.5, False, ["safe"], (CriterionScore("safe", 0.0, False, "why.", {"k": 1}),))
    assert EpisodeScore.from_dict(episode.to_dict()) == episode


def episode(score: float, passed: bool = False, error: str | None = None, criteria=()) -> EpisodeScore:
    return EpisodeScore("e", "t", score, passed, [], tuple(criteria), error)


def test_summarize_excludes_and_counts_errors():
    scores = [
        episode(1.0, True, criteria=[CriterionScore("category", 1.0, True, "")]),
        episode(0.5, criteria=[CriterionScore("category", 0.5, True, "")]),
        episode(0.0, criteria=[CriterionScore("category", 0.0, False, "")]),
        episode(0.0, error="env crashed"),
    ]
    summary = summarize(scores, rubric(CATEGORY, SHORT))
    assert (summary.n, summary.n_errors) == (3, 1)
    assert summary.mean == pytest.approx(0.5)
    assert summary.pass_rate == pytest.approx(1 / 3)
    category, short = summary.criteria
    assert (category.id, category.description, category.weight, category.gate) == ("category", "Names the category", 3.0, False)
    assert category.mean == pytest.approx(0.5) and category.pass_rate == pytest.approx(2 / 3)
    assert (short.mean, short.pass_rate) == (None, None)
    assert SplitSummary.from_dict(summary.to_dict()) == summary


def test_bootstrap_interval_contains_the_mean_and_is_deterministic():
    scores = [episode(s) for s in (0.1, 0.9, 0.4, 0.75, 0.3, 1.0, 0.0, 0.6, 0.55, 0.2)]
    first = summarize(scores, rubric(CATEGORY))
    assert first.ci_low < first.mean < first.ci_high
    assert first.ci_low >= 0.0 and first.ci_high <= 1.0
    assert summarize(scores, rubric(CATEGORY)) == first
    assert summarize(scores, rubric(CATEGORY), seed=1) != first


def test_all_equal_scores_give_a_zero_width_interval():
    summary = summarize([episode(0.7) for _ in range(5)], rubric(CATEGORY))
    assert summary.ci_low == summary.ci_high == summary.mean


def test_bootstrap_ci_percentiles():
    low, high = bootstrap_ci([0.0, 1.0] * 50, seed=3)
    assert 0.35 < low < 0.5 < high < 0.65


def test_no_scored_episodes():
    summary = summarize([episode(0.0, error="down")], rubric(CATEGORY))
    assert (summary.n, summary.n_errors, summary.mean, summary.ci_low, summary.ci_high, summary.pass_rate) == (0, 1, None, None, None, None)
    assert summary.criteria[0].mean is None
    assert summarize([], rubric(CATEGORY)).n == 0


def test_compare():
    current = summarize([episode(0.8), episode(0.6)], rubric(CATEGORY))
    baseline = summarize([episode(0.5)], rubric(CATEGORY))
    assert compare(current, baseline) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="no scored episodes"):
        compare(current, summarize([], rubric(CATEGORY)))
