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
