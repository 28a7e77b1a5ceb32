"""The agent loop end to end: a real ModelClient talking to a scripted OpenAI-compatible
server on loopback, and the real `counter` test environment served as a subprocess over
OpenEnv. Native and structured tool modes, final answers, limits, skills, prompts, and
infrastructure errors (which end the episode as "error" and never raise)."""

from __future__ import annotations

import asyncio
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from agentopt.envs.session import EnvTarget, RunningEnv
from agentopt.envs.tasks import TaskRef
from agentopt.episode import run_episode
from agentopt.errors import EnvError, ValidationError
from agentopt.models.client import ModelClient
from agentopt.spec.agent import AgentSpec, LoopSettings, ModelParams, Skill, ToolOverride
from tests.conftest import REPO
from tests.fakes.openai_server import Reply, ScriptedLLM, as_json, call, error, system_text, text

COUNTER = "tests.fakes.envs:build_counter"
ENV_TOOLS = ["add", "done", "crash", "hang"]
TASK0 = TaskRef("val", 0, {"id": "c0", "start": 0, "target": 5})  # total starts at 0, target 5


def _with_repo_on_pythonpath() -> str | None:
    """The env server subprocess must import `tests.fakes.envs`."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(REPO) + (os.pathsep + old if old else "")
    return old


def _restore_pythonpath(old: str | None) -> None:
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


class _Servers:
    """The module's counter servers: `main` for ordinary episodes, `spare` for the tests that
    hang or kill a server (so `main` stays healthy)."""

    def __init__(self, log_dir):
        self.main = RunningEnv(EnvTarget(name=COUNTER), log_dir=log_dir / "main", step_timeout_s=10)
        self.spare = RunningEnv(EnvTarget(name=COUNTER), log_dir=log_dir / "spare", step_timeout_s=10)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Start both servers at once (each start is ~5 s of imports in its own process) while
    this process imports the OpenEnv client, which costs about as much."""
    old = _with_repo_on_pythonpath()
    started = _Servers(tmp_path_factory.mktemp("counter-logs"))
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            starts = [pool.submit(started.main.start), pool.submit(started.spare.start)]
            import openenv.core.mcp_client  # noqa: F401 - warm the import during start-up

            for future in starts:
                future.result()
        yield started
    finally:
        started.main.stop()
        started.spare.stop()
        _restore_pythonpath(old)


@pytest.fixture
def counter_env(servers) -> RunningEnv:
    """The shared counter server (it serves up to 64 concurrent sessions)."""
    return servers.main


@pytest.fixture
def doomed_env(servers) -> RunningEnv:
    """A counter server no ordinary test uses; restarted when an earlier test killed it."""
    if servers.spare.crash_report():
        servers.spare.start()
    return servers.spare


def make_spec(url: str, system_prompt: str = "You keep count.", **kwargs) -> AgentSpec:
    loop = kwargs.pop("loop", LoopSettings())
    return AgentSpec(
        name="t",
        model="openai/scripted",
        params=ModelParams(api_base=url, max_tokens=64, timeout_s=10),
        system_prompt=system_prompt,
        loop=loop,
        **kwargs,
    )


def turn(request: dict) -> int:
    """0 for the first model turn of an episode, 1 for the second, ..."""
    return sum(1 for m in request["messages"] if m["role"] == "assistant")


def script(*replies: Reply):
    """Answer turn i with replies[i] (the last one repeats)."""
    return lambda request: replies[min(turn(request), len(replies) - 1)]


async def play(spec: AgentSpec, env: RunningEnv, task: TaskRef = TASK0, client: ModelClient | None = None):
    client = client or ModelClient(cache_path=None)
    try:
        return await run_episode(spec, env, client, task)
    finally:
        await client.aclose()


# --- native tool calling ---


async def test_native_multi_turn_episode_ends_done_with_reward(counter_env):
    with ScriptedLLM(script(call("add", {"amount": 5}), call("done", {"answer": 5}))) as llm:
        trace = await play(make_spec(llm.url), counter_env)

    assert trace.error is None
    assert trace.stop_reason == "done"
    assert trace.done is True and trace.reward == 1.0
    assert trace.turns == 2 and trace.model_calls == 2 and trace.cached_calls == 0
    assert trace.task_id == "c0" and trace.split == "val"
    assert [(c.name, c.arguments) for c in trace.tool_calls] == [("add", {"amount": 5}), ("done", {"answer": 5})]
    add, done = trace.tool_calls
    assert add.result == "total is now 5" and add.error is None and add.done is False and add.reward is None
    assert done.result == "thanks" and done.done is True and done.reward == 1.0
    assert json.loads(trace.final_answer) == {"answer": 5}
    assert trace.answer_json() == {"answer": 5}

    roles = [m["role"] for m in trace.messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert trace.messages[1]["content"] == "The total starts at 0. Add 5, then report the total."
    for assistant, tool, result in ((trace.messages[2], trace.messages[3], "total is now 5"), (trace.messages[4], trace.messages[5], "thanks")):
        assert tool["tool_call_id"] == assistant["tool_calls"][0]["id"]
        assert tool["content"] == result

    # What the model saw: the env's tools natively, then the tool result on the next turn.
    first, second = llm.requests
    assert [t["function"]["name"] for t in first["tools"]] == ENV_TOOLS
    assert first["tool_choice"] == "auto" and "response_format" not in first
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": trace.messages[3]["tool_call_id"], "content": "total is now 5"}
    # Token accounting: the scripted server reports 7 completion tokens per reply.
    assert trace.completion_tokens == 14 and trace.prompt_tokens > 0
    assert trace.total_tokens == trace.prompt_tokens + trace.completion_tokens


async def test_wrong_answer_gets_reward_zero(counter_env):
    with ScriptedLLM(script(call("add", {"amount": 5}), call("done", {"answer": 99}))) as llm:
        trace = await play(make_spec(llm.url), counter_env)
    assert trace.stop_reason == "done" and trace.done is True
    assert trace.reward == 0.0
    assert trace.answer_json() == {"answer": 99}


async def test_concurrent_episodes_use_separate_sessions(counter_env):
    """Three episodes at once on one server: each session keeps its own total."""

    def responder(request):
        start = int(re.search(r"starts at (\d+)", request["messages"][1]["content"]).group(1))
        return call("add", {"amount": 5}) if turn(request) == 0 else call("done", {"answer": start + 5})

    with ScriptedLLM(responder) as llm:
        spec = make_spec(llm.url)
        traces = await asyncio.gather(*(play(spec, counter_env, TaskRef("val", i)) for i in range(3)))
    for index, trace in enumerate(traces):
        assert trace.stop_reason == "done" and trace.reward == 1.0, trace.error
        assert trace.tool_calls[0].result == f"total is now {index + 5}"
        assert trace.task_id == f"val-{index}"  # no task spec given: split-index


# --- structured (grammar-constrained JSON) mode ---


async def env_tool_schemas(env: RunningEnv) -> dict[str, dict]:
    async with env.session() as session:
        await session.reset("val", 0)
        return {t.name: t.input_schema for t in await session.tools()}


async def test_structured_mode_constrains_each_tool_to_its_own_schema(counter_env):
    replies = script(
        as_json({"tool": "add", "arguments": {"amount": 5}}),
        text("I think I should add five"),  # not JSON: fed back, the episode goes on
        as_json({"tool": "done", "arguments": {"answer": 5}}),
    )
    with ScriptedLLM(replies) as llm:
        trace = await play(make_spec(llm.url, loop=LoopSettings(tool_mode="structured")), counter_env)

    assert trace.stop_reason == "done" and trace.reward == 1.0, trace.error
    assert trace.turns == 3
    assert [c.name for c in trace.tool_calls] == ["add", "done"]

    first = llm.requests[0]
    assert "tools" not in first and "tool_choice" not in first
    response_format = first["response_format"]
    assert response_format["type"] == "json_schema"
    branches = response_format["json_schema"]["schema"]["anyOf"]
    by_tool = {b["properties"]["tool"]["const"]: b for b in branches}
    assert list(by_tool) == ENV_TOOLS + ["final_answer"]
    env_schemas = await env_tool_schemas(counter_env)
    for name in ENV_TOOLS:
        assert by_tool[name]["properties"]["arguments"] == env_schemas[name]
        assert by_tool[name]["required"] == ["tool", "arguments"]
        assert by_tool[name]["additionalProperties"] is False
    assert by_tool["final_answer"]["properties"]["arguments"]["required"] == ["answer"]

    # The tools are described in the system prompt, since no tools API is used.
    prompt = system_text(first)
    assert "## Tools" in prompt
    assert "- add(amount): Add an amount to the running total." in prompt
    assert "- done(answer): Report the final total. Ends the task." in prompt

    contents = [m["content"] for m in trace.messages]
    assert contents[3] == "Result of add: total is now 5"
    assert trace.messages[5]["role"] == "user" and "not a valid action" in contents[5]
    assert llm.requests[2]["messages"][-1]["content"] == contents[5]  # the model was told
    assert all(m["role"] != "tool" for m in trace.messages)


async def test_structured_mode_without_final_answer_and_with_one(counter_env):
    with ScriptedLLM(script(as_json({"tool": "done", "arguments": {"answer": 5}}))) as llm:
        trace = await play(make_spec(llm.url, loop=LoopSettings(tool_mode="structured", final_answer=False)), counter_env)
    assert trace.stop_reason == "done"
    branches = llm.requests[0]["response_format"]["json_schema"]["schema"]["anyOf"]
    assert [b["properties"]["tool"]["const"] for b in branches] == ENV_TOOLS

    with ScriptedLLM(script(as_json({"tool": "final_answer", "arguments": {"answer": "five"}}))) as llm:
        trace = await play(make_spec(llm.url, loop=LoopSettings(tool_mode="structured")), counter_env)
    assert trace.stop_reason == "final_answer" and trace.final_answer == "five"
    assert trace.tool_calls == [] and trace.done is False and trace.reward is None


# --- final answers and turn limits ---


async def test_text_reply_is_the_final_answer(counter_env):
    with ScriptedLLM(script(text("The total is 5."))) as llm:
        trace = await play(make_spec(llm.url), counter_env)
    assert trace.stop_reason == "final_answer"
    assert trace.final_answer == "The total is 5."
    assert trace.turns == 1 and len(llm.requests) == 1
    assert trace.done is False and trace.reward is None and trace.error is None
    assert trace.messages[-1] == {"role": "assistant", "content": "The total is 5."}


async def test_without_final_answer_the_harness_asks_for_a_tool(counter_env):
    replies = script(text("The total is 5."), call("add", {"amount": 5}), call("done", {"answer": 5}))
    with ScriptedLLM(replies) as llm:
        trace = await play(make_spec(llm.url, loop=LoopSettings(final_answer=False)), counter_env)
    assert trace.stop_reason == "done" and trace.reward == 1.0
    assert trace.turns == 3
    assert llm.requests[0]["tool_choice"] == "required"
    nudge = llm.requests[1]["messages"][-1]
    assert nudge["role"] == "user" and "Use one of your tools" in nudge["content"]
    assert json.loads(trace.final_answer) == {"answer": 5}  # the text reply was not taken as the answer


async def test_max_turns_ends_the_episode(counter_env):
    with ScriptedLLM(script(call("add", {"amount": 1}))) as llm:
        trace = await play(make_spec(llm.url, loop=LoopSettings(max_turns=3)), counter_env)
    assert trace.stop_reason == "max_turns"
    assert trace.turns == 3 and len(llm.requests) == 3
    assert [c.result for c in trace.tool_calls] == ["total is now 1", "total is now 2", "total is now 3"]
    assert trace.done is False and trace.final_answer is None and trace.error is None


async def test_token_budget_ends_the_episode(counter_env):
    with ScriptedLLM(script(call("add", {"amount": 1}))) as llm:
        trace = await play(make_spec(llm.url, loop=LoopSettings(max_turns=8, max_tokens=20)), counter_env)
    assert trace.stop_reason == "max_tokens"
    assert trace.total_tokens >= 20
    assert trace.turns == len(llm.requests) < 8
    assert trace.error is None


# --- malformed tool calls ---


@pytest.mark.parametrize("raw", ['{"amount": ', "[5]"])
async def test_invalid_tool_arguments_are_fed_back_and_the_episode_continues(counter_env, raw):
    replies = script(call("add", raw), call("add", {"amount": 5}), call("done", {"answer": 5}))
    with ScriptedLLM(replies) as llm:
        trace = await play(make_spec(llm.url), counter_env)

    assert trace.stop_reason == "done" and trace.reward == 1.0 and trace.turns == 3
    bad = trace.tool_calls[0]
    assert bad.name == "add" and bad.arguments == {} and bad.result is None
    assert bad.error.startswith("ERROR: invalid JSON arguments for add")
    feedback = trace.messages[3]
    assert feedback["role"] == "tool" and feedback["content"].startswith("ERROR: invalid JSON arguments")
    assert feedback["tool_call_id"] == trace.messages[2]["tool_calls"][0]["id"]
    assert trace.messages[2]["tool_calls"][0]["function"]["arguments"] == raw  # kept as the model wrote it
    assert llm.requests[1]["messages"][-1] == feedback
    # the bad call never reached the environment: the total was still 0
    assert trace.tool_calls[1].result == "total is now 5"


# --- what the agent sees: tool descriptions, skills, the system prompt ---


async def test_tool_description_override(counter_env):
    with ScriptedLLM(script(text("5"))) as llm:
        await play(make_spec(llm.url, tools=(ToolOverride("add", "Add it."),)), counter_env)
    descriptions = {t["function"]["name"]: t["function"]["description"] for t in llm.requests[0]["tools"]}
    assert descriptions == {
        "add": "Add it.",
        "done": "Report the final total. Ends the task.",
        "crash": "Kill the environment server.",
        "hang": "Never return.",
    }


SKILL = Skill(name="counting", description="How to count.", body="Always add exactly five, then call done.", path="skills/counting.md")


async def test_inline_skill_is_in_the_system_prompt(counter_env):
    with ScriptedLLM(script(text("5"))) as llm:
        await play(make_spec(llm.url, skills=(SKILL,)), counter_env)
    prompt = system_text(llm.requests[0])
    assert prompt.startswith("You keep count.")
    assert "### counting" in prompt and "Always add exactly five, then call done." in prompt
    assert "load_skill" not in [t["function"]["name"] for t in llm.requests[0]["tools"]]


async def test_on_demand_skill_is_loaded_by_a_local_tool(counter_env):
    replies = script(call("load_skill", {"name": "counting"}), call("load_skill", {"name": "nope"}), call("done", {"answer": 5}))
    with ScriptedLLM(replies) as llm:
        trace = await play(make_spec(llm.url, skills=(SKILL,), loop=LoopSettings(skills="on_demand")), counter_env)

    assert trace.stop_reason == "done" and trace.reward == 1.0
    first = llm.requests[0]
    tools = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert list(tools) == ENV_TOOLS + ["load_skill"]
    assert tools["load_skill"]["parameters"]["properties"]["name"]["enum"] == ["counting"]
    prompt = system_text(first)
    assert "counting: How to count." in prompt and "Always add exactly five" not in prompt

    loaded, missing, done = trace.tool_calls
    assert loaded.name == "load_skill" and loaded.result == SKILL.body and loaded.error is None
    assert trace.messages[3] == {"role": "tool", "tool_call_id": trace.messages[2]["tool_calls"][0]["id"], "content": SKILL.body}
    assert missing.error is not None and "no skill named 'nope'" in missing.error
    # Handled locally: the environment (which has no load_skill tool and would answer with
    # an error) was never asked, and it still finished the task normally.
    assert loaded.reward is None and loaded.done is False
    assert done.name == "done" and done.reward == 1.0


async def test_system_prompt_is_rendered_with_the_reset_context(counter_env):
    spec_template = "The count starts at {{ start }}; add {{ 2 + 3 }}."
    with ScriptedLLM(script(text("7"))) as llm:
        first = await play(make_spec(llm.url, system_prompt=spec_template), counter_env, TaskRef("val", 1))
        second = await play(make_spec(llm.url, system_prompt=spec_template), counter_env, TaskRef("val", 2))
    assert [system_text(r) for r in llm.requests] == ["The count starts at 1; add 5.", "The count starts at 2; add 5."]
    assert first.messages[0] == {"role": "system", "content": "The count starts at 1; add 5."}
    assert second.messages[0]["content"] == "The count starts at 2; add 5."


async def test_unknown_template_variable_is_a_spec_error_before_any_model_call(counter_env):
    with ScriptedLLM(script(text("7"))) as llm, pytest.raises(ValidationError) as raised:
        await play(make_spec(llm.url, system_prompt="Hello {{ customer_name }}"), counter_env)
    message = str(raised.value)
    assert "system_prompt" in message and "customer_name" in message and "start" in message  # names what the env provides
    assert llm.requests == []


# --- infrastructure errors: recorded, never raised, never scored ---


async def test_provider_failure_ends_the_episode_as_an_error(counter_env):
    with ScriptedLLM(script(error(500))) as llm:
        client = ModelClient(cache_path=None, max_attempts=2, backoff_base_s=0.01)
        trace = await play(make_spec(llm.url), counter_env, client=client)
    assert trace.stop_reason == "error" and trace.is_infra_error
    assert "HTTP 500" in trace.error and "2 attempt" in trace.error
    assert len(llm.requests) == 2
    assert trace.turns == 0 and trace.reward is None and trace.tool_calls == []


async def test_hanging_tool_times_out_and_no_further_step_is_sent(doomed_env, tmp_path):
    # The server through its URL, with a short step timeout. (The hung call blocks one of
    # the server's worker threads for good: the next test kills this server anyway.)
    impatient = RunningEnv(EnvTarget(name="remote", url=doomed_env.url), log_dir=tmp_path, step_timeout_s=1).start()
    with ScriptedLLM(script(call("hang", {}), call("done", {"answer": 5}))) as llm:
        trace = await play(make_spec(llm.url), impatient)
    assert trace.stop_reason == "error"
    assert "timed out" in trace.error and "hang" in trace.error
    # The episode ended at the timeout: no second model turn, so no second step either.
    assert len(llm.requests) == 1 and trace.turns == 1
    assert trace.tool_calls == [] and trace.done is False


async def test_a_timed_out_session_refuses_further_steps(doomed_env, tmp_path):
    """OpenEnv's client would silently reconnect to a fresh session; ours must not."""
    impatient = RunningEnv(EnvTarget(name="remote", url=doomed_env.url), log_dir=tmp_path, step_timeout_s=1).start()
    async with impatient.session() as session:
        await session.reset("val", 0)
        with pytest.raises(EnvError, match="timed out"):
            await session.call_tool("hang", {})
        with pytest.raises(EnvError, match="session is closed"):
            await session.call_tool("add", {"amount": 1})
        with pytest.raises(EnvError, match="session is closed"):
            await session.tools()


async def test_environment_crash_ends_the_episode_as_an_error(doomed_env):
    with ScriptedLLM(script(call("crash", {}), call("done", {"answer": 5}))) as llm:
        trace = await play(make_spec(llm.url), doomed_env)
    assert trace.stop_reason == "error"
    assert "environment" in trace.error and "tool 'crash' failed" in trace.error
    assert "the server exited: exit code 7" in trace.error  # the cause, from the process we launched
    assert len(llm.requests) == 1  # no further turn after the environment died
    assert trace.tool_calls == [] and trace.reward is None and trace.done is False
