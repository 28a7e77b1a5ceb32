"""A criterion that does not apply (no reward given) is left out, never scored 0."""

import pytest

from agentopt.scoring.aggregate import score_trace, summarize
from agentopt.scoring.base import CheckContext, CheckResult
from agentopt.scoring.result import EpisodeScore, SplitSummary
from agentopt.spec.rubric import Criterion, Rubric

from . import make_trace

REWARD = Criterion("reward", "The environment's reward", 3.0, "env_reward", {}, pass_at=0.5)
CATEGORY = Criterion("category", "Names the category", 1.0, "contains", {"value": "billing"})
SAFE = Criterion("safe", "No secrets", 1.0, "not_contains", {"value": "password"}, gate=True)
GATED_REWARD = Criterion("reward", "The environment's reward", 1.0, "env_reward", {}, gate=True)


def rubric(*criteria, pass_threshold=0.7) -> Rubric:
    return Rubric(name="r", criteria=criteria, pass_threshold=pass_threshold)


def test_not_applicable_result():
    result = CheckResult.not_applicable("nothing to score.", why="x")
    assert (result.score, result.applicable, result.details) == (None, False, {"why": "x"})
    assert CheckResult(0.0, "zero").applicable


async def test_no_reward_leaves_the_criterion_out_and_renormalises_the_weights():
    episode = await score_trace(make_trace(reward=None), rubric(REWARD, CATEGORY), CheckContext())
    reward, category = episode.criteria
    assert reward.score is None and not reward.applicable and reward.passed is True
    assert category.score == 1.0
    assert episode.score == 1.0 and episode.passed is True  # not (3 * 0 + 1 * 1) / 4 = 0.25
    assert episode.error is None and not episode.not_applicable


async def test_a_reward_of_zero_is_still_a_zero():
    episode = await score_trace(make_trace(reward=0.0), rubric(REWARD, CATEGORY), CheckContext())
    assert episode.criteria[0].score == 0.0 and episode.criteria[0].passed is False
    assert episode.score == pytest.approx(0.25)


async def test_a_not_applicable_gate_does_not_fail():
    episode = await score_trace(make_trace(reward=None), rubric(GATED_REWARD, CATEGORY), CheckContext())
    assert episode.gate_failed == [] and episode.score == 1.0


async def test_an_episode_no_criterion_applies_to_is_not_scored_and_not_an_error():
    episode = await score_trace(make_trace(reward=None), rubric(REWARD), CheckContext())
    assert episode.not_applicable is True and episode.is_infra_error is False
    assert episode.error.startswith("not applicable: 'reward': The environment gave no reward")
    assert episode.criteria[0].score is None
    back = EpisodeScore.from_dict(episode.to_dict())
    assert back == episode


async def test_a_failed_gate_still_scores_an_episode_whose_weighted_criteria_do_not_apply():
    safe = Criterion("safe", "No secrets", 0.0, "not_contains", {"value": "password"}, gate=True)
    trace = make_trace(reward=None, final_answer="the password is x")
    episode = await score_trace(trace, rubric(REWARD, safe), CheckContext())
    assert episode.error is None and episode.gate_failed == ["safe"] and episode.score == 0.0


async def test_summary_counts_not_applicable_apart_from_scores_and_errors():
    rules = rubric(REWARD, CATEGORY)
    ctx = CheckContext()
    scores = [
        await score_trace(make_trace(episode_id="a", task_id="a", reward=1.0), rules, ctx),
        await score_trace(make_trace(episode_id="b", task_id="b", reward=None), rules, ctx),
        await score_trace(make_trace(episode_id="c", task_id="c", reward=0.0, final_answer="nothing"), rules, ctx),
        await score_trace(make_trace(episode_id="d", task_id="d", stop_reason="error", error="boom"), rules, ctx),
    ]
    summary = summarize(scores, rules)
    assert (summary.n, summary.n_errors, summary.n_not_applicable) == (3, 1, 0)
    assert summary.mean == pytest.approx((1.0 + 1.0 + 0.0) / 3)
    reward, category = summary.criteria
    assert reward.mean == pytest.approx(0.5) and reward.pass_rate == pytest.approx(0.5)  # over a and c only
    assert reward.n_not_applicable == 1
    assert category.n_not_applicable == 0 and category.pass_rate == pytest.approx(2 / 3)


async def test_summary_of_episodes_with_only_a_reward_criterion_and_no_reward():
    rules = rubric(REWARD)
    ctx = CheckContext()
    scores = [
        await score_trace(make_trace(episode_id="a", task_id="a", reward=None), rules, ctx),
        await score_trace(make_trace(episode_id="b", task_id="b", reward=0.5), rules, ctx),
    ]
    summary = summarize(scores, rules)
    assert (summary.n, summary.n_errors, summary.n_not_applicable) == (1, 0, 1)
    assert summary.mean == 0.5  # the no-reward episode is not a 0
    assert summary.criteria[0].n_not_applicable == 1 and summary.criteria[0].mean == 0.5
    assert SplitSummary.from_dict(summary.to_dict()) == summary


def test_a_summary_written_before_not_applicable_existed_still_loads():
    old = {"n": 1, "n_errors": 0, "mean": 1.0, "ci_low": 1.0, "ci_high": 1.0, "pass_rate": 1.0,
           "criteria": [{"id": "c", "description": "", "weight": 1, "gate": False, "mean": 1.0, "pass_rate": 1.0}]}
    summary = SplitSummary.from_dict(old)
    assert summary.n_not_applicable == 0 and summary.criteria[0].n_not_applicable == 0 and summary.repeats == 1
