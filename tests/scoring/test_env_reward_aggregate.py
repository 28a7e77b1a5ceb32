"""Per-step rewards in the trace, and env_reward's `aggregate` over them."""

import json

from agentopt.trace import ToolCall, Trace

from . import make_trace


def test_rewards_round_trip_through_a_json_line():
    trace = make_trace(rewards=(-0.1, None, 1.0), reward=1.0)
    line = json.dumps(trace.to_dict())
    assert json.loads(line)["rewards"] == [-0.1, None, 1.0]
    back = Trace.from_dict(json.loads(line))
    assert back.rewards == (-0.1, None, 1.0)
    assert back == trace


def test_an_older_record_without_rewards_reads_them_from_its_tool_calls():
    calls = [ToolCall("move", {}, reward=-0.1), ToolCall("move", {}, reward=None), ToolCall("move", {}, reward=0.9)]
    record = make_trace(tool_calls=calls, reward=0.9).to_dict()
    del record["rewards"]
    back = Trace.from_dict(record)
    assert back.rewards == (-0.1, None, 0.9)
    assert back.step_rewards() == [-0.1, 0.9]


def test_step_rewards_fall_back_to_the_last_reward_alone():
    assert make_trace(rewards=(), reward=0.5).step_rewards() == [0.5]
    assert make_trace(rewards=(None, None), reward=None).step_rewards() == []


# --- env_reward's aggregate ------------------------------------------------------------

import pytest  # noqa: E402

from agentopt.errors import ValidationError  # noqa: E402
from agentopt.scoring.base import CheckContext, get_check  # noqa: E402
from agentopt.spec.load import load_rubric  # noqa: E402

PENALISED = (-0.1, -0.1, None, -0.1, 1.0)  # a step penalty, a step without reward, then the goal


async def env_reward(params: dict, **trace_fields):
    return await get_check("env_reward").score(make_trace(**trace_fields), params, CheckContext())


@pytest.mark.parametrize(
    ("aggregate", "reward"),
    [(None, 1.0), ("last", 1.0), ("sum", 0.7), ("max", 1.0), ("mean", 0.7 / 4)],
)
async def test_aggregate_over_the_step_rewards(aggregate, reward):
    params = {"min": -1, "max": 1} | ({} if aggregate is None else {"aggregate": aggregate})
    result = await env_reward(params, rewards=PENALISED, reward=1.0)
    assert result.details["reward"] == pytest.approx(reward)
    assert result.score == pytest.approx((reward + 1) / 2)


async def test_sum_feedback_names_the_aggregate_and_the_steps():
    result = await env_reward({"aggregate": "sum"}, rewards=PENALISED, reward=1.0)
    assert result.feedback == "The sum of the environment's 4 step rewards was 0.7 on a scale of 0 to 1."
    assert result.details == {"reward": pytest.approx(0.7), "aggregate": "sum", "steps": 4}


async def test_sum_of_penalties_is_clamped_to_the_scale():
    result = await env_reward({"aggregate": "sum"}, rewards=(-0.5, -0.5, -0.5), reward=-0.5)
    assert result.score == 0.0 and result.details["reward"] == pytest.approx(-1.5)


async def test_a_trace_with_only_its_last_reward_scores_it_under_any_aggregate():
    for aggregate in ("last", "sum", "max", "mean"):
        result = await env_reward({"aggregate": aggregate}, rewards=(), reward=0.25)
        assert result.score == pytest.approx(0.25)


async def test_no_reward_at_all_is_not_applicable_under_every_aggregate():
    for aggregate in ("last", "sum", "max", "mean"):
        result = await env_reward({"aggregate": aggregate}, rewards=(None, None), reward=None)
        assert result.score is None and not result.applicable
        assert "no reward" in result.feedback


def test_an_unknown_aggregate_is_a_rubric_error(tmp_path):
    rubric = tmp_path / "r.yaml"
    rubric.write_text(
        "name: r\ncriteria:\n  - id: reward\n    description: d\n    check: {type: env_reward, aggregate: total}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError) as caught:
        load_rubric(str(rubric))
    message = str(caught.value)
    assert "criteria[0].check.aggregate" in message and "sum" in message


def test_the_aggregate_is_documented_in_the_check_schema():
    schema = get_check("env_reward").params_schema["properties"]["aggregate"]
    assert schema["enum"] == ["last", "sum", "max", "mean"] and schema["default"] == "last"
