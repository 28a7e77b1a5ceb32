"""Tool results are capped (`loop.max_observation_chars`): a tool that returns 20 MB does
not send 20 MB to the model or into the trace. End to end: the hostile test environment
served as a real process over OpenEnv, and a scripted OpenAI-compatible model."""

from __future__ import annotations

import json
import os

import pytest

from agentopt.envs.session import EnvTarget, RunningEnv
from agentopt.envs.tasks import TaskRef
from agentopt.episode import cap_observation, run_episode
from agentopt.models.client import ModelClient
from agentopt.spec.agent import AgentSpec, LoopSettings, ModelParams
from agentopt.spec.load import agent_to_yaml, load_agent, validate_file
from tests.conftest import REPO, write
from tests.fakes.hostile_env import HEAD, TAIL
from tests.fakes.openai_server import ScriptedLLM, as_json, call

HOSTILE = "tests.fakes.hostile_env:build_hostile"
TASK = TaskRef("val", 0, {"id": "h0", "start": 0, "target": 5})
BIG = 20 * 1024 * 1024  # 20 MiB of characters


@pytest.fixture(scope="module")
def hostile_env(tmp_path_factory):
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(REPO) + (os.pathsep + old if old else "")
    env = RunningEnv(EnvTarget(name=HOSTILE, sandbox="none"), log_dir=tmp_path_factory.mktemp("logs"), step_timeout_s=60)
    try:
        yield env.start()
    finally:
        env.stop()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def spec(url: str, **loop) -> AgentSpec:
    return AgentSpec(name="t", model="openai/scripted", params=ModelParams(api_base=url, max_tokens=64, timeout_s=30),
                     system_prompt="You keep count.", loop=LoopSettings(**loop))


def turn(request: dict) -> int:
    return sum(1 for m in request["messages"] if m["role"] == "assistant")


async def play(agent: AgentSpec, env: RunningEnv):
    client = ModelClient(cache_path=None)
    try:
        return await run_episode(agent, env, client, TASK)
    finally:
        await client.aclose()


def test_cap_observation():
    assert cap_observation("short", 10) == "short"
    assert cap_observation("x" * 10, 10) == "x" * 10
    assert cap_observation("abcdefghijkl", 5) == "abcde\n[agentopt: output cut at 5 of 12 characters]"
    assert cap_observation("y" * 100, None) == "y" * 100


async def test_a_20_mb_tool_result_reaches_the_model_and_the_trace_cut_at_the_default(hostile_env):
    replies = [call("flood", {"chars": BIG}), call("done", {"answer": 5})]
    with ScriptedLLM(lambda request: replies[min(turn(request), 1)]) as llm:
        trace = await play(spec(llm.url), hostile_env)

    assert trace.error is None and trace.stop_reason == "done"
    note = f"\n[agentopt: output cut at 20000 of {BIG} characters]"
    flood = trace.tool_calls[0]
    assert flood.result.startswith(HEAD) and TAIL not in flood.result
    assert flood.result.endswith(note) and len(flood.result) == 20000 + len(note)
    # what the model saw on its next turn: the same capped text
    seen = llm.requests[1]["messages"][-1]
    assert seen["role"] == "tool" and seen["content"] == flood.result
    assert len(json.dumps(llm.requests[1])) < 100_000
    # the trace as written to traces.jsonl stays small
    assert len(json.dumps(trace.to_dict())) < 100_000


async def test_the_cap_is_an_option_and_null_lifts_it(hostile_env):
    replies = [call("flood", {"chars": 5000}), call("flood", {"chars": 50}), call("done", {"answer": 5})]
    with ScriptedLLM(lambda request: replies[min(turn(request), 2)]) as llm:
        trace = await play(spec(llm.url, max_observation_chars=1000), hostile_env)
    cut, whole = trace.tool_calls[0].result, trace.tool_calls[1].result
    assert cut.endswith("\n[agentopt: output cut at 1000 of 5000 characters]") and cut.startswith(HEAD)
    assert whole.startswith(HEAD) and whole.endswith(TAIL) and len(whole) == 50

    with ScriptedLLM(lambda request: replies[min(turn(request), 2)]) as llm:
        trace = await play(spec(llm.url, max_observation_chars=None), hostile_env)
    assert len(trace.tool_calls[0].result) == 5000 and trace.tool_calls[0].result.endswith(TAIL)


async def test_structured_mode_is_capped_too(hostile_env):
    replies = [as_json({"tool": "flood", "arguments": {"chars": 3000}}), as_json({"tool": "done", "arguments": {"answer": 5}})]
    with ScriptedLLM(lambda request: replies[min(turn(request), 1)]) as llm:
        trace = await play(spec(llm.url, tool_mode="structured", max_observation_chars=100), hostile_env)
    assert trace.error is None
    seen = llm.requests[1]["messages"][-1]["content"]
    assert seen.startswith("Result of flood: " + HEAD)
    assert seen.endswith("\n[agentopt: output cut at 100 of 3000 characters]")


def test_the_option_loads_validates_and_round_trips(tmp_path):
    path = write(tmp_path / "agents/a.yaml", "name: a\nloop:\n  max_observation_chars: 500\n")
    assert load_agent(str(path)).loop.max_observation_chars == 500
    assert load_agent(str(write(tmp_path / "agents/b.yaml", "name: b\n"))).loop.max_observation_chars == 20000
    lifted = load_agent(str(write(tmp_path / "agents/c.yaml", "name: c\nloop:\n  max_observation_chars: null\n")))
    assert lifted.loop.max_observation_chars is None
    again = write(tmp_path / "agents/d.yaml", agent_to_yaml(lifted).replace("name: c", "name: d"))
    assert load_agent(str(again)).loop.max_observation_chars is None
    bad = write(tmp_path / "agents/e.yaml", "name: e\nloop:\n  max_observation_chars: 0\n")
    problems = [str(p) for p in validate_file(str(bad))]
    assert any("loop.max_observation_chars" in p and ">= 1" in p for p in problems), problems
