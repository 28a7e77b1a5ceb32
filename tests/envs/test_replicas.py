"""Environment replicas (agentopt/envs/replicas.py): `--env-replicas N` launches N sandboxed
servers and `--env URL1,URL2` names running ones; sessions spread over them least-loaded,
within each server's session limit, and one server's failure costs only its own episodes.
Real OpenEnv servers on loopback: the counter app launched by the harness
(tests/fakes/envs.py) and OpenEnv's own apps served in this process (tests/fakes/openenv_plain.py)."""

from __future__ import annotations

import asyncio
import os
import re
import threading

import pytest

from agentopt.envs import replicas
from agentopt.envs.replicas import EnvPool
from agentopt.envs.session import EnvTarget, parse_env
from agentopt.episode import TaskRef
from agentopt.errors import UsageError
from agentopt.evaluation import EvalConfig, Evaluator
from agentopt.spec.load import load_rubric
from tests.conftest import REPO, write
from tests.envs.test_no_task_api import adder, eval_cli, newest_summary
from tests.envs.test_no_task_api import rubric as plain_rubric
from tests.fakes.openai_server import Reply, ScriptedLLM, call
from tests.fakes.openenv_plain import PlainEnv
from tests.test_episode import make_spec

COUNTER = "tests.fakes.envs:build_counter"


def counter_player(delay_s: float, crash_after: int | None = None):
    """Adds 5 once, then reports the total; every answer after `delay_s` (episodes stay open
    a while). Once `crash_after` requests have been answered, the next episode about to
    report calls `crash` instead (once): its server exits at once (os._exit), taking its
    other open sessions with it."""
    state = {"requests": 0, "crashed": False, "lock": threading.Lock()}

    def respond(request: dict) -> Reply:
        results = [m for m in request["messages"] if m["role"] == "tool"]
        with state["lock"]:
            state["requests"] += 1
            crash = bool(results) and crash_after is not None and state["requests"] > crash_after and not state["crashed"]
            state["crashed"] = state["crashed"] or crash
        if not results:
            reply = call("add", {"amount": 5})
        elif crash:
            reply = call("crash", {})
        else:
            reply = call("done", {"answer": int(results[-1]["content"].rsplit(" ", 1)[1])})
        reply.delay_s = delay_s
        return reply

    return respond


def counter_rubric(tmp_path):
    return load_rubric(str(write(tmp_path / "counter.yaml", """
        name: counter
        criteria:
          - {id: right, description: The environment's reward., check: {type: env_reward}}
        """)))


@pytest.fixture
def repo_on_path(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


# --- parsing ---


def test_a_comma_separated_url_list_is_a_pool_of_servers_and_replicas_need_a_launched_environment():
    target = parse_env("http://127.0.0.1:9001, ws://user:pw@127.0.0.1:9002/")
    assert target.urls == ("http://127.0.0.1:9001", "http://user:pw@127.0.0.1:9002") and target.url is None
    assert target.label == "http://127.0.0.1:9001,http://***@127.0.0.1:9002"  # no credentials in messages
    assert parse_env("http://127.0.0.1:9001").urls == ()  # one URL: one server, as before
    assert parse_env(COUNTER, sandbox="none", replicas=3).replicas == 3
    with pytest.raises(UsageError, match="listed twice"):
        parse_env("http://127.0.0.1:9001,http://127.0.0.1:9001")
    with pytest.raises(UsageError, match="invalid URL 'nonsense'"):
        parse_env("http://127.0.0.1:9001,nonsense")
    with pytest.raises(UsageError, match="--env URL1,URL2"):
        parse_env("http://127.0.0.1:9001", replicas=2)
    with pytest.raises(UsageError, match="give 1 or more"):
        parse_env(COUNTER, replicas=0)


# --- launched replicas ---


async def test_launched_replicas_share_the_sessions_and_a_crashed_one_costs_only_its_own_episodes(tmp_path, repo_on_path):
    """Two sandboxed counter servers, four episodes at once. One episode, midway, crashes
    the server it plays on. Only that server's open episodes fail
    (at most 2: least-loaded placement keeps 2 on each), as infrastructure errors naming
    the replica and its exit; every other episode scores 1; the crashed replica is
    relaunched for its next session and both serve to the end."""
    episodes = 16
    specs = [{"id": f"c{i}", "start": i, "target": i + 5} for i in range(3)]
    refs = [TaskRef("val", i % 3, specs[i % 3], repeat=i // 3) for i in range(episodes)]
    with ScriptedLLM(counter_player(0.2, crash_after=12)) as llm:
        config = EvalConfig(concurrency=4, cache_path=None, step_timeout_s=30)
        async with Evaluator(EnvTarget(name=COUNTER, replicas=2), counter_rubric(tmp_path), tmp_path / "logs", config) as ev:
            pool = ev.env
            assert isinstance(pool, EnvPool) and len(pool.replicas) == 2
            assert len({r.url for r in pool.replicas}) == 2  # two servers, two ports
            results = await ev.run(make_spec(llm.url), refs)
            restarts, sessions = [r.restarts for r in pool.replicas], list(pool.sessions)
    errors = [e.trace.error for e in results if e.trace.error]
    assert len(results) == episodes
    crashed = [error for error in errors if "tool 'crash' failed" in error]
    assert len(crashed) == 1, errors
    replica = re.search(r"\(replica (\d)\)", crashed[0]).group(1)
    assert "exit code 7" in crashed[0], crashed[0]  # the server's own exit, reported
    assert 1 <= len(errors) <= 2, errors
    assert all(f"(replica {replica})" in error for error in errors), errors  # only the crashed server's episodes
    assert all(e.score.score == 1.0 for e in results if not e.trace.error)
    assert sorted(restarts) == [0, 1] and restarts[int(replica) - 1] == 1  # relaunched; the other never stopped
    assert sum(sessions) == episodes and min(sessions) >= 4, sessions  # both served a fair share
    assert (tmp_path / "logs" / "env-tests.fakes.envs-build_counter-r1.log").is_file()
    assert (tmp_path / "logs" / "env-tests.fakes.envs-build_counter-r2.log").is_file()


# --- servers given by URL ---


def test_a_url_list_spreads_sessions_over_the_servers_within_each_ones_session_limit(tmp_path):
    """`agentopt eval --env URL1,URL2` against two OpenEnv servers that take one session each:
    both play episodes, neither ever has two sessions open, and concurrency is lowered to
    the sum of their limits once each has said it (at capacity); no episode is an error."""
    with ScriptedLLM(adder) as llm, PlainEnv("seeded", task_api=False) as one, PlainEnv("seeded", task_api=False) as two:
        result = eval_cli(tmp_path, llm, f"{one.url},{two.url}", "--concurrency", "6", "--episodes", "8")
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "2 servers take 2 session(s) at once" in out and "concurrency lowered from 6 to 2" in out, out
    _, summary = newest_summary(tmp_path)
    assert summary["summary"]["n"] == 8 and summary["summary"]["n_errors"] == 0 and summary["summary"]["mean"] == 1.0
    assert summary["env"] == f"{one.url},{two.url}"
    played = sorted(s for s in one.seeds()[2:] + two.seeds() if s >= 1_000_000)  # the seed check's resets aside
    assert played == list(range(1_000_000, 1_000_008))  # each episode reset once, on one server or the other
    assert len([s for s in one.seeds() if s >= 1_000_000]) >= 2 and len([s for s in two.seeds() if s >= 1_000_000]) >= 2
    assert one.most_active == 1 and two.most_active == 1


async def test_a_dead_server_in_a_url_list_costs_only_the_episodes_sent_to_it_and_returns_when_it_answers(tmp_path, monkeypatch):
    """One URL of the list has no server yet (it died, or is not up): the sessions sent to it
    fail, it is left out after that, and the evaluation finishes on the live server. Once
    it answers /health again (after the down time, here 0.2 s) it gets sessions again."""
    monkeypatch.setattr(replicas, "DOWN_S", 0.2)
    with ScriptedLLM(adder) as llm, PlainEnv("seeded", task_api=False, max_sessions=8) as live:
        later = PlainEnv("seeded", task_api=False, max_sessions=8)  # its port is chosen, nothing listens yet
        target = parse_env(f"{later.url},{live.url}")
        async with Evaluator(target, load_rubric(str(plain_rubric(tmp_path))), tmp_path / "logs", EvalConfig(concurrency=2, cache_path=None)) as ev:
            refs = await ev.tasks("val", 24)
            spec = make_spec(llm.url, system_prompt="Answer.")
            results = await ev.run(spec, refs[:12])
            sessions = list(ev.env.sessions)
            with later:
                await asyncio.sleep(0.5)
                again = await ev.run(spec, refs[12:])
    errors = [e.trace.error for e in results if e.trace.error]
    assert len(results) == 12
    assert 1 <= len(errors) <= 2, errors  # at most the two first sessions, sent before it was known dead
    assert all(later.url in error for error in errors), errors
    assert sum(e.score.score == 1.0 for e in results) == 12 - len(errors)
    assert sessions[0] == len(errors) and sessions[1] == 12 - len(errors)
    assert len([s for s in live.seeds() if s >= 1_000_000]) >= 12 - len(errors)
    assert all(e.trace.error is None and e.score.score == 1.0 for e in again)  # back: no error, shared again
    assert len([s for s in later.seeds() if s >= 1_000_000]) >= 3


def test_env_replicas_in_the_project_file_reach_the_command_and_a_url_with_replicas_is_one_usage_line(tmp_path):
    """`env_replicas` in agentopt.yaml is --env-replicas: with a URL (a server someone else runs)
    it is refused in one line, exit 2, before any run folder; 0 replicas is refused by the flag."""
    from tests.conftest import run_cli, scripted_agent

    agent = scripted_agent(tmp_path, "http://127.0.0.1:9/v1", name="plain")
    rules = plain_rubric(tmp_path)
    write(tmp_path / "agentopt.yaml", f"""
        agent: {agent.relative_to(tmp_path)}
        rubric: {rules.relative_to(tmp_path)}
        env: http://127.0.0.1:9001
        env_replicas: 2
        """)
    result = run_cli("eval", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--env-replicas launches servers" in result.stderr and "--env URL1,URL2" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()
    zero = run_cli("eval", "--env-replicas", "0", cwd=tmp_path)
    assert zero.returncode == 2 and "--env-replicas" in zero.stderr and "Traceback" not in zero.stderr
