"""A server built with the OLD `openenv-core` 0.3 (what most published environments pin),
run by its own virtualenv's python, driven end to end by the real `agentopt` CLI.

The server (tests/fakes/old_core_env.py) is written against 0.3's own API: a typed action
`ArithmeticAction{answer}`, the question in the reset observation's `question` field, the
episode drawn from the reset's seed, no Task API, no MCP tools. The scripted model reads
the question from the agent's first user message and answers through the one tool it is
offered: right unless the sum is a multiple of 3, so each episode's expected score is known
from its question, and the server's own log says what it judged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, run_cli, scripted_agent, write
from tests.envs.old_core import OldCoreServer, start_old_core_server
from tests.fakes.openai_server import Reply, ScriptedLLM, call, text

SERVER = REPO / "tests" / "fakes" / "old_core_env.py"
QUESTION = re.compile(r"What is (\d+) \+ (\d+)\?")

RUBRIC = """
name: arithmetic
pass_threshold: 0.5
criteria:
  - id: correct
    description: The environment says the sum is right.
    weight: 1
    check: {type: env_reward}
"""


def right_answer_expected(question: str, wrong_every: int = 3) -> bool:
    """Whether the scripted model answers this question right (not when the sum is a multiple of `wrong_every`)."""
    a, b = map(int, QUESTION.search(question).groups())
    return (a + b) % wrong_every != 0


def first_user_text(request: dict[str, Any]) -> str:
    users = [m for m in request.get("messages", []) if m.get("role") == "user"]
    return str(users[0].get("content") or "") if users else ""


def adder(request: dict[str, Any], wrong_every: int = 3) -> Reply:
    """Answers the question in the first user message through the one tool offered, wrong
    when the sum is a multiple of `wrong_every`."""
    tools = request.get("tools") or []
    found = QUESTION.search(first_user_text(request))
    already_answered = any(m.get("role") == "tool" for m in request.get("messages", []))
    if not tools or found is None or already_answered:
        return text("done")  # no tool, no task or answered: a plain text turn (scores nothing)
    a, b = map(int, found.groups())
    total = a + b
    return call(tools[0]["function"]["name"], {"answer": total if total % wrong_every else total + 1})


@pytest.fixture
def old_server(old_core_venv: Path, tmp_path: Path):
    """The 0.3 server on a free loopback port, logging each reset and step to resets.jsonl."""
    servers: list[OldCoreServer] = []

    def start(*args: str) -> OldCoreServer:
        server = start_old_core_server(old_core_venv, SERVER, tmp_path / f"server{len(servers)}.log",
                                       "--log", str(tmp_path / "resets.jsonl"), *args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def server_events(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "resets.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def only_run(tmp_path: Path) -> Path:
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def traces_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_clean(result) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == 0, output


def test_the_server_really_is_openenv_core_0_3_without_a_task_api(old_core_venv, old_server):
    """What makes this server the 0.3 kind: its venv has openenv-core 0.3.x and no `openenv`
    0.10 distribution, and it has /ws, /schema and /reset but no Task API."""
    import subprocess

    import httpx

    versions = subprocess.run(
        [str(old_core_venv / "bin" / "python"), "-c",
         "import importlib.metadata as m\nfor d in ('openenv-core', 'openenv'):\n"
         "    try: print(d, m.version(d))\n    except m.PackageNotFoundError: print(d, 'absent')"],
        capture_output=True, text=True, check=True,
    ).stdout.split("\n")
    assert versions[0].startswith("openenv-core 0.3."), versions
    assert versions[1] == "openenv absent", versions
    server = old_server()
    paths = set(httpx.get(f"{server.url}/openapi.json").json()["paths"])
    assert {"/reset", "/step", "/schema", "/health"} <= paths
    assert not any("tasks" in p or "list_environments" in p for p in paths), paths
    assert httpx.get(f"{server.url}/list_environments").status_code == 404
    assert httpx.get(f"{server.url}/schema").json()["action"]["title"] == "ArithmeticAction"


def test_eval_scores_every_episode_of_an_openenv_core_0_3_server(tmp_path, old_server):
    server = old_server()
    rubric = write(tmp_path / "rubrics" / "arithmetic.yaml", RUBRIC)
    with ScriptedLLM(adder) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="adder")
        result = run_cli("eval", str(agent), "--rubric", str(rubric), "--env", server.url, "--runs-dir", "runs",
                         "--episodes", "6", cwd=tmp_path, timeout=300)
    assert_clean(result)
    run = only_run(tmp_path)
    records = traces_of(run / "traces.jsonl")
    assert len(records) == 6
    # The agent's first user message holds the task from the reset observation.
    questions = []
    for record in records:
        users = [m for m in record["trace"]["messages"] if m["role"] == "user"]
        found = QUESTION.search(str(users[0]["content"]))
        assert found, f"the first user message has no task: {users[0]['content']!r}"
        questions.append(found.group(0))
    assert len(set(questions)) == 6, questions  # six different episodes, not one replayed
    # The agent was offered the typed action as one tool whose parameters are the action's schema.
    tools = llm.requests[0].get("tools") or []
    assert len(tools) == 1, tools
    assert tools[0]["function"]["parameters"]["properties"]["answer"]["type"] == "integer"
    # Every episode is scored, each with the score the server's own judgement gives.
    events = server_events(tmp_path)
    judged = {e["seed"]: e["right"] for e in events if e["event"] == "step"}
    question_of_seed = {e["seed"]: e["question"] for e in events if e["event"] == "reset"}
    server_says = {question_of_seed[seed]: right for seed, right in judged.items()}
    for record, question in zip(records, questions):
        score = record["score"]
        assert score["error"] is None, score
        expected = 1.0 if right_answer_expected(question) else 0.0
        assert score["score"] == expected, (question, score)
        assert server_says[question] is (expected == 1.0)
    # Without a Task API: seeded episodes, and the run records that the server honours seeds.
    tasks = json.loads((run / "summary.json").read_text())["tasks"]
    assert tasks["source"] == "seeds" and tasks["seeds_honoured"] is True, tasks
    assert len({e["seed"] for e in events if e["event"] == "reset"} - {None}) >= 6
    summary = json.loads((run / "summary.json").read_text())["summary"]
    assert summary["n"] == 6 and summary["n_errors"] == 0
    expected_mean = sum(right_answer_expected(q) for q in questions) / 6
    assert abs(summary["mean"] - expected_mean) < 1e-9
    assert 0 < expected_mean < 1  # the seeds give both kinds, so a constant score would fail


def test_a_short_run_on_an_openenv_core_0_3_server_completes_on_disjoint_splits(tmp_path, old_server):
    server = old_server()
    rubric = write(tmp_path / "rubrics" / "arithmetic.yaml", RUBRIC)
    # Half the answers wrong (even sums): val is not perfect, so the run proposes candidates
    # and plays train episodes to screen them.
    with ScriptedLLM(lambda request: adder(request, wrong_every=2)) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="adder")
        result = run_cli("run", str(agent), "--rubric", str(rubric), "--env", server.url, "--runs-dir", "runs",
                         "--max-rollouts", "41", "--minibatch", "2", "--val-episodes", "4", "--test-episodes", "3",
                         "--operators", "fewshot", cwd=tmp_path, timeout=600)
    assert_clean(result)
    run = only_run(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["baseline"]["val"]["n"] == 4 and summary["baseline"]["val"]["n_errors"] == 0, summary["baseline"]
    assert summary["usage"]["rollouts"] <= 41
    # Every episode played was scored, with the score its question calls for.
    by_split: dict[str, set[str]] = {}
    for record in traces_of(run / "episodes.jsonl"):
        users = [m for m in record["trace"]["messages"] if m["role"] == "user"]
        found = QUESTION.search(str(users[0]["content"]))
        assert found, f"the first user message has no task: {users[0]['content']!r}"
        assert record["score"]["error"] is None, record["score"]
        assert record["score"]["score"] == (1.0 if right_answer_expected(found.group(0), wrong_every=2) else 0.0)
        by_split.setdefault(record["split"], set()).add(found.group(0))
    assert summary["baseline"]["val"]["mean"] < 1, "val was perfect: the run stopped before playing train"
    assert by_split.get("val") and by_split.get("train") and by_split.get("test"), {k: len(v) for k, v in by_split.items()}
    # Without a Task API the splits are still disjoint: no val or test episode replays a train one.
    for held_out in ("val", "test"):
        assert not by_split[held_out] & by_split["train"], held_out
    seeds = {e["question"]: e["seed"] for e in server_events(tmp_path) if e["event"] == "reset"}
    seeds_of = {split: {seeds[q] for q in questions} for split, questions in by_split.items()}
    assert None not in set().union(*seeds_of.values())  # every episode was reset with a seed
    for held_out in ("val", "test"):
        assert not seeds_of.get(held_out, set()) & seeds_of.get("train", set()), seeds_of


def test_a_one_session_server_as_the_0_3_template_makes_it(tmp_path, old_server):
    """`openenv init` in 0.3 writes `max_concurrent_envs=1`: eval at the default concurrency
    still plays every episode (the harness lowers its concurrency), exit 0."""
    server = old_server("--max-sessions", "1")
    rubric = write(tmp_path / "rubrics" / "arithmetic.yaml", RUBRIC)
    with ScriptedLLM(adder) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="adder")
        result = run_cli("eval", str(agent), "--rubric", str(rubric), "--env", server.url, "--runs-dir", "runs",
                         "--episodes", "4", "--concurrency", "4", cwd=tmp_path, timeout=300)
    assert_clean(result)
    summary = json.loads((only_run(tmp_path) / "summary.json").read_text())["summary"]
    assert summary["n"] == 4 and summary["n_errors"] == 0, summary
    # ... and says it lowered its concurrency to the server's one session.
    notice = " ".join(result.stdout.split())
    assert "notice:" in notice and "1 session" in notice and "concurrency" in notice, notice


# The virtualenv fixture itself: reused when complete, rebuilt when not, one line without PyPI.


def offline_pip(monkeypatch) -> None:
    """Make pip see only an index on a closed loopback port: what a machine without PyPI sees."""
    import os

    from agentopt.servers import free_port

    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # no pip.conf (mirrors, find-links)
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{free_port()}/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")


def test_a_complete_old_core_venv_is_reused_without_running_pip(tmp_path, monkeypatch):
    from tests.envs import old_core

    venv = tmp_path / "old"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(old_core.sys._base_executable)
    (venv / old_core.STAMP_NAME).write_text(json.dumps(old_core._wanted()))
    offline_pip(monkeypatch)  # a rebuild would fail: reuse must not try one
    assert old_core.ensure_old_core_venv(venv) == venv
    assert not (venv / "install.log").exists()


@pytest.mark.parametrize("stamp", [None, json.dumps({"requirements": ["openenv-core==0.2.*"]})])
def test_without_pypi_an_incomplete_old_core_venv_fails_with_one_line(tmp_path, monkeypatch, stamp):
    """No stamp (an interrupted build) or one for other requirements: rebuilt from scratch, and with no
    index reachable that fails with one line naming pip and PyPI, not a skip."""
    from tests.envs import old_core

    venv = tmp_path / "old"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(old_core.sys._base_executable)
    (venv / "leftover").write_text("from an interrupted build")
    if stamp is not None:
        (venv / old_core.STAMP_NAME).write_text(stamp)
    offline_pip(monkeypatch)
    with pytest.raises(old_core.OldCoreVenvError) as raised:
        old_core.ensure_old_core_venv(venv)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"pip install openenv-core==0.3.* uvicorn into {venv} failed (is PyPI reachable?): ")
    assert not (venv / "leftover").exists()  # started over
    assert not (venv / old_core.STAMP_NAME).exists()  # a failed build is never taken as complete
    assert (venv / "install.log").is_file()


def test_eval_scores_an_openenv_core_0_3_mcp_environment(tmp_path, old_server):
    """0.3's MCPEnvironment: the agent gets its `submit` tool over the /ws session and the
    question from the reset observation; every episode scored as the server judged it."""
    server = old_server("--mcp")
    rubric = write(tmp_path / "rubrics" / "arithmetic.yaml", RUBRIC)
    with ScriptedLLM(adder) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="adder")
        result = run_cli("eval", str(agent), "--rubric", str(rubric), "--env", server.url, "--runs-dir", "runs",
                         "--episodes", "6", cwd=tmp_path, timeout=300)
    assert_clean(result)
    assert [t["function"]["name"] for t in llm.requests[0]["tools"]] == ["submit"]
    records = traces_of(only_run(tmp_path) / "traces.jsonl")
    judged = [e["right"] for e in server_events(tmp_path) if e["event"] == "step"]
    assert len(records) == 6 and len(judged) == 6
    for record in records:
        users = [m for m in record["trace"]["messages"] if m["role"] == "user"]
        found = QUESTION.search(str(users[0]["content"]))
        assert found, f"the first user message has no task: {users[0]['content']!r}"
        assert record["score"]["error"] is None, record["score"]
        assert record["score"]["score"] == (1.0 if right_answer_expected(found.group(0)) else 0.0)
    assert sum(r["score"]["score"] for r in records) == sum(judged)
