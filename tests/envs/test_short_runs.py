"""A short `agentopt run` on OpenEnv environments as their authors ship them (OpenEnv's own
packages only, launched by agentopt as `--env module:app`, sandboxed, with no Task API): a
typed-action grid world and an MCP quiz whose question is in the reset `metadata`. The run
must finish, play disjoint seeds per split, and score what the scripted agent did."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import run_cli, write
from tests.fakes.openai_server import ScriptedLLM, call, text
from tests.fakes.openenv_native import QUESTIONS

ANSWERS = dict(QUESTIONS)
MOVES = {(0, 1): "right", (0, -1): "left", (1, 0): "down", (-1, 0): "up"}


def walker(request: dict):
    """Step toward the goal named in the first message, from the last position seen."""
    said = [m["content"] for m in request["messages"] if m["role"] in ("user", "tool") and isinstance(m.get("content"), str)]
    goal = json.loads(re.search(r"goal: (\[[^\]]*\])", said[0]).group(1))
    where = [json.loads(p) for s in said for p in re.findall(r"position: (\[[^\]]*\])", s)]
    row, col = where[-1] if where else [0, 0]
    if [row, col] == goal:
        return text("done")
    step = (0, 1) if col < goal[1] else (0, -1) if col > goal[1] else (1, 0) if row < goal[0] else (-1, 0)
    return call("grid_action", {"direction": MOVES[step]})


def quizzer(request: dict):
    first = next(m["content"] for m in request["messages"] if m["role"] == "user")
    question = next(q for q in ANSWERS if q in first)
    return call("answer", {"value": ANSWERS[question]})


@pytest.mark.parametrize("app, agent_reply", [("grid_app", walker), ("quiz_app", quizzer)], ids=["typed-action", "mcp-metadata"])
def test_a_short_run_on_an_environment_as_its_authors_ship_it(tmp_path, app, agent_reply):
    rubric = write(tmp_path / "rubrics" / "r.yaml", """
        name: r
        criteria:
          - {id: reward, description: The environment's reward., check: {type: env_reward}}
        """)
    with ScriptedLLM(agent_reply) as llm:
        agent = write(tmp_path / "agents" / "author.yaml", f"""
            name: author
            model: openai/scripted
            model_params: {{api_base: "{llm.url}", max_tokens: 64}}
            system_prompt: Do the task.
            loop: {{max_turns: 5}}
            """)
        result = run_cli("run", str(agent), "-r", str(rubric), "--env", f"tests.fakes.openenv_native:{app}", "--runs-dir", "runs",
                         "--max-rollouts", "41", "--val-episodes", "3", "--test-episodes", "2", "--minibatch", "2",
                         "--operators", "fewshot", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    run = next((tmp_path / "runs").iterdir())
    summary = json.loads((run / "summary.json").read_text())
    tasks = summary["tasks"]
    assert tasks["source"] == "seeds" and tasks["seeds_honoured"] is True
    seeds = tasks["seeds"]
    assert not set(seeds["train"]) & set(seeds["val"]) and not set(seeds["val"]) & set(seeds["test"])
    episodes = [json.loads(line) for line in (run / "episodes.jsonl").read_text().splitlines()]
    scored = [e for e in episodes if not e.get("score", {}).get("error")]
    assert scored and all(e["score"]["score"] == 1.0 for e in scored), [e["score"] for e in episodes][:5]


def adder(request: dict):
    n = int(re.search(r"What is (\d+) plus one", next(m["content"] for m in request["messages"] if m["role"] == "user")).group(1))
    return call("answer", {"value": str(n + 1)})


@pytest.mark.parametrize("kind, max_sessions, said", [("random", 8, "ignores the reset seed"), ("seeded", 1, "concurrency lowered")],
                         ids=["seed-ignoring", "one-session"])
def test_a_short_run_on_a_seed_ignoring_or_one_session_server(tmp_path, kind, max_sessions, said):
    from tests.fakes.openenv_plain import PlainEnv

    rubric = write(tmp_path / "rubrics" / "r.yaml", """
        name: r
        criteria:
          - {id: reward, description: The environment's reward., check: {type: env_reward}}
        """)
    with ScriptedLLM(adder) as llm, PlainEnv(kind, task_api=False, max_sessions=max_sessions) as env:
        agent = write(tmp_path / "agents" / "adder.yaml", f"""
            name: adder
            model: openai/scripted
            model_params: {{api_base: "{llm.url}", max_tokens: 64}}
            system_prompt: Answer the question.
            """)
        result = run_cli("run", str(agent), "-r", str(rubric), "--env", env.url, "--runs-dir", "runs", "--concurrency", "4",
                         "--max-rollouts", "41", "--val-episodes", "3", "--test-episodes", "2", "--minibatch", "2",
                         "--operators", "fewshot", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert said in " ".join((result.stdout + result.stderr).split()), result.stdout + result.stderr
    run = next((tmp_path / "runs").iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["tasks"]["seeds_honoured"] is (kind == "seeded")
    episodes = [json.loads(line) for line in (run / "episodes.jsonl").read_text().splitlines()]
    assert episodes and all(e["score"]["score"] == 1.0 and not e["score"].get("error") for e in episodes)
