"""A wedged environment server (one that stops answering, /health included, but does not
exit: an async tool that blocks its event loop) is killed and replaced, and the episode's
error says why; a server given by URL cannot be replaced, so the error says it is not
answering. Real servers over real HTTP/WebSocket: the hostile test environment
(tests/fakes/hostile_env.py) launched by the harness, and a scripted model."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

from agentopt.envs import session as session_module
from agentopt.envs.session import EnvTarget, RunningEnv
from agentopt.envs.tasks import TaskRef
from agentopt.episode import run_episode
from agentopt.errors import EnvError
from agentopt.models.client import ModelClient
from agentopt.servers import free_port
from agentopt.spec.agent import AgentSpec, LoopSettings, ModelParams
from tests.conftest import REPO
from tests.fakes.openai_server import ScriptedLLM, call

HOSTILE = "tests.fakes.hostile_env:build_hostile"
RESTARTED = "the environment server stopped answering /health within 1 s; it was restarted"  # the tests' limit


@pytest.fixture(autouse=True)
def repo_on_pythonpath():
    """The launched server imports `tests.fakes.hostile_env`."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(REPO) + (os.pathsep + old if old else "")
    yield
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


@pytest.fixture
def launch(tmp_path):
    started: list[RunningEnv] = []

    def start(sandbox: str = "none", step_timeout_s: float = 2.0, health_timeout_s: float = 1.0) -> RunningEnv:
        env = RunningEnv(EnvTarget(name=HOSTILE, sandbox=sandbox), log_dir=tmp_path / f"logs{len(started)}",
                         step_timeout_s=step_timeout_s)
        env.health_timeout_s = health_timeout_s  # the default is 5 s: shorter keeps the tests quick
        started.append(env)
        return env.start()

    yield start
    for env in started:
        env.stop()


def task(index: int) -> TaskRef:
    return TaskRef("val", index, {"id": f"h{index}", "start": index, "target": index + 5})


def agent(url: str) -> AgentSpec:
    return AgentSpec(name="t", model="openai/scripted", params=ModelParams(api_base=url, max_tokens=64, timeout_s=30),
                     system_prompt="You keep count.", loop=LoopSettings(max_turns=4))


def scripted(first_tool: str):
    """Turn 0: `first_tool` (wedge/spin) on task h0, `add 5` elsewhere; then report the total."""

    def reply(request: dict):
        prompt = next(m["content"] for m in request["messages"] if m["role"] == "user")
        start = int(prompt.split("starts at ")[1].split(".")[0])
        turn = sum(1 for m in request["messages"] if m["role"] == "assistant")
        if turn == 0:
            return call(first_tool, {}) if start == 0 else call("add", {"amount": 5})
        return call("done", {"answer": start + 5})

    return reply


async def play(llm: ScriptedLLM, env: RunningEnv, *tasks: TaskRef):
    client = ModelClient(cache_path=None)
    try:
        return await asyncio.gather(*(run_episode(agent(llm.url), env, client, t) for t in tasks))
    finally:
        await client.aclose()


def _sandboxes() -> list:
    local = pytest.param("local", marks=pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux namespaces"))
    return ["none", local]


@pytest.mark.parametrize("sandbox", _sandboxes())
async def test_a_wedged_server_is_replaced_and_the_next_episode_plays(launch, sandbox):
    env = launch(sandbox, health_timeout_s=5.0)  # the default
    first_pid = env._process._proc.pid
    with ScriptedLLM(scripted("wedge")) as llm:
        await play(llm, env, task(1))  # warm up (imports) so the timing below is the wedge's
        started = time.monotonic()
        (wedged,) = await play(llm, env, task(0))
        replaced_in = time.monotonic() - started
        assert wedged.stop_reason == "error"
        assert "tool 'wedge' timed out" in wedged.error, wedged.error
        assert "the environment server stopped answering /health within 5 s; it was restarted" in wedged.error
        assert env.restarts == 1 and env._process.running and env._process._proc.pid != first_pid
        assert await env.answers_health()
        print(f"[{sandbox}] wedge -> replaced: {replaced_in:.1f} s (step timeout 2 s, health timeout 5 s)")

        later = await play(llm, env, task(1), task(2))
    for trace in later:
        assert trace.error is None and trace.stop_reason == "done" and trace.reward == 1.0
    assert env.restarts == 1


async def test_a_busy_looping_server_is_replaced_too(launch):
    env = launch()
    with ScriptedLLM(scripted("spin")) as llm:
        (spun,) = await play(llm, env, task(0))
        assert "tool 'spin' timed out" in spun.error and RESTARTED in spun.error, spun.error
        (after,) = await play(llm, env, task(3))
    assert after.error is None and after.reward == 1.0
    assert env.restarts == 1


async def test_concurrent_episodes_on_a_wedged_server_replace_it_once(launch):
    """Four episodes wedge the server at once (each call hangs behind the first): each says
    why it failed, and the server is replaced once, not four times."""
    env = launch()
    with ScriptedLLM(scripted("wedge")) as llm:
        traces = await play(llm, env, *[task(0)] * 4)
        for trace in traces:
            assert trace.stop_reason == "error" and RESTARTED in trace.error, trace.error
        assert env.restarts == 1
        (after,) = await play(llm, env, task(1))
    assert after.error is None and after.reward == 1.0


async def test_an_episode_that_starts_on_a_wedged_server_is_played_on_its_replacement(launch):
    """The server wedges while no step of ours waits on it (here: we wedge it by hand, then
    the next episode's connect hangs): the connect failure leads to the same replacement, and
    since nothing of that episode was played yet, it connects to the new server and plays."""
    env = launch()
    env_process = env._process._proc
    os.kill(env_process.pid, 19)  # SIGSTOP: the process lives on and answers nothing
    try:
        with ScriptedLLM(scripted("wedge")) as llm:
            (trace,) = await play(llm, env, task(1))
            assert trace.error is None and trace.reward == 1.0, trace.error
            assert env.restarts == 1 and env_process.poll() is not None  # the wedged one was killed
            (after,) = await play(llm, env, task(2))
        assert after.error is None and after.reward == 1.0 and env.restarts == 1
    finally:
        if env_process.poll() is None:
            os.kill(env_process.pid, 9)


async def test_a_server_given_by_url_that_refuses_the_connect_is_not_tried_again(tmp_path):
    """Nothing agentopt launched was replaced, so there is nothing new to connect to: the
    episode ends in the connect error at once."""
    port = free_port()  # nothing listens there
    env = RunningEnv(EnvTarget(name="remote", url=f"http://127.0.0.1:{port}"), log_dir=tmp_path, step_timeout_s=2)
    env.health_timeout_s = 0.5
    with pytest.raises(EnvError, match="connect failed") as failure:
        async with env.session():
            pass
    assert "a server given by URL is not restarted" in str(failure.value) and env.restarts == 0


async def test_a_server_given_by_url_is_reported_not_answering_and_left_alone(launch, tmp_path):
    owner = launch()
    remote = RunningEnv(EnvTarget(name="remote", url=owner.url), log_dir=tmp_path, step_timeout_s=2).start()
    remote.health_timeout_s = 1.0
    with ScriptedLLM(scripted("wedge")) as llm:
        (trace,) = await play(llm, remote, task(0))
    assert trace.stop_reason == "error" and "tool 'wedge' timed out" in trace.error
    assert "the environment server is not answering /health within 1 s" in trace.error
    assert "it was restarted" not in trace.error
    assert remote.restarts == 0 and owner.restarts == 0 and owner._process.running


async def test_restarts_are_bounded(launch, monkeypatch):
    monkeypatch.setattr(session_module, "MAX_RESTARTS", 1)
    env = launch()
    with ScriptedLLM(scripted("wedge")) as llm:
        (first,) = await play(llm, env, task(0))
        assert RESTARTED in first.error and env.restarts == 1
        (second,) = await play(llm, env, task(0))
        assert "it was stopped: its 1 restarts are used up" in second.error, second.error
        (third,) = await play(llm, env, task(1))
    assert third.stop_reason == "error" and "not restarting it" in third.error
    assert not env._process.running


async def test_a_healthy_server_behind_a_slow_tool_is_not_replaced(launch):
    """A step that times out while the server still answers /health is only a timeout."""
    env = launch()
    first_pid = env._process._proc.pid
    async with env.session() as session:
        await session.reset("val", 1)
        with pytest.raises(EnvError) as raised:
            await session.call_tool("slow", {"seconds": 4})
    assert "tool 'slow' timed out" in str(raised.value) and "/health" not in str(raised.value)
    assert env.restarts == 0 and env._process._proc.pid == first_pid
