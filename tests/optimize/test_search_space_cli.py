"""`optimize.search_space.max_tokens` and `optimize.search_space.tools`: the search can raise a
reply limit that cuts answers short, and hide an environment tool that distracts the agent.
Real CLI, the `listing` environment served as a real server process, a scripted model."""

from __future__ import annotations

import json

import yaml

from tests.conftest import run_cli, scripted_agent, write
from tests.fakes.openai_server import Reply, ScriptedLLM, call

LISTING = "tests.fakes.envs:build_listing"
RUBRIC = """
name: listing
criteria:
  - id: reward
    description: The environment's reward.
    weight: 1
    check: {type: env_reward}
"""


def _start(request: dict) -> int:
    text = next(m["content"] for m in request["messages"] if m["role"] == "user")
    return int(text.split("starts at ")[1].split(".")[0])


def _run(tmp_path, model, extra: str, *options: str):
    rubric = write(tmp_path / "rubrics" / "listing.yaml", RUBRIC)
    with ScriptedLLM(model) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="listing", extra=extra)
        result = run_cli("run", str(agent), "-r", str(rubric), "--env", LISTING, "--runs-dir", "runs", "--max-rollouts", "80",
                         "--minibatch", "4", "--operators", "choices", *options, cwd=tmp_path, timeout=600, env={"COLUMNS": "200"})
    return result


def _summary(tmp_path):
    run = next((tmp_path / "runs").iterdir())
    return run, json.loads((run / "summary.json").read_text())


def test_the_search_raises_max_tokens_when_replies_are_cut_short(tmp_path):
    def model(request: dict) -> Reply:
        start = _start(request)
        if request["max_tokens"] < 128 and start % 2:  # the answer does not fit: cut short, wrong
            return Reply(tool_calls=[("done", {"answer": -1})], finish_reason="length")
        return call("done", {"answer": start + 5})

    result = _run(tmp_path, model, "optimize:\n  search_space:\n    max_tokens: {low: 32, high: 256}\n")
    assert result.returncode == 0, result.stdout + result.stderr
    run, summary = _summary(tmp_path)
    assert summary["baseline"]["val"]["mean"] == 0.5
    assert summary["winner"]["val"]["mean"] == 1.0 and summary["winner"]["test"]["mean"] == 1.0
    shipped = yaml.safe_load((run / "best" / "agent.yaml").read_text())
    assert shipped["model_params"]["max_tokens"] >= 128
    assert shipped["optimize"]["search_space"]["max_tokens"] == {"low": 32, "high": 256}
    winner = next(json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()
                  if json.loads(line)["id"] == summary["winner"]["id"])
    assert winner["operator"] == "choices" and f"max_tokens 64 -> {shipped['model_params']['max_tokens']}" in winner["note"]
    assert "of turns hit max_tokens=64" in result.stdout  # the baseline's cut replies were said


def test_the_search_hides_a_tool_that_distracts_the_agent(tmp_path):
    offered: list[list[str]] = []

    def model(request: dict) -> Reply:
        names = sorted(t["function"]["name"] for t in request.get("tools") or [])
        offered.append(names)
        start = _start(request)
        if "list_tasks" in names and start % 2:  # distracted: lists the tasks, then answers wrong
            if not any(m["role"] == "tool" for m in request["messages"]):
                return call("list_tasks", {})
            return call("done", {"answer": 0})
        return call("done", {"answer": start + 5})

    result = _run(tmp_path, model, "optimize:\n  search_space:\n    tools: [list_tasks]\n")
    assert result.returncode == 0, result.stdout + result.stderr
    run, summary = _summary(tmp_path)
    assert summary["baseline"]["val"]["mean"] == 0.5 and summary["winner"]["val"]["mean"] == 1.0
    shipped = yaml.safe_load((run / "best" / "agent.yaml").read_text())
    assert shipped["tools"] == {"list_tasks": {"hidden": True}}
    assert ["add", "done"] in offered and ["add", "done", "list_tasks"] in offered
    winner = next(json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()
                  if json.loads(line)["id"] == summary["winner"]["id"])
    assert winner["note"] == "tool list_tasks hidden"


def test_a_searched_tool_the_environment_lacks_is_a_spec_error(tmp_path):
    rubric = write(tmp_path / "rubrics" / "listing.yaml", RUBRIC)
    agent = scripted_agent(tmp_path, "http://127.0.0.1:9/v1", name="listing", extra="optimize:\n  search_space:\n    tools: [list_task]\n")
    result = run_cli("run", str(agent), "-r", str(rubric), "--env", LISTING, "--runs-dir", "runs", "--max-rollouts", "80",
                     "--minibatch", "4", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{agent}:" in result.stderr and "optimize.search_space.tools[0]: the environment has no tool 'list_task'" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
