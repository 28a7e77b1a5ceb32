"""Rejection-sampled demonstrations and the honest account, end to end: real CLI, a real
`dataset:` environment server, and a scripted model that sees each request's temperature and seed.

The model knows every capital but, at temperature 0, answers "I don't know". Sampled hotter,
it answers right for some seeds only, not the same ones for each task. Once its prompt shows a worked example, it answers right
at any temperature: a demonstration teaches it the task. So the baseline scores 0 everywhere,
only the `sample` operator can find successes, and the child it builds wins on val.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli, scripted_agent, write
from tests.fakes.openai_server import Reply, ScriptedLLM, call, last_user_text, system_text
from tests.optimize.test_run_integration import FACTS, dataset

RUBRIC = """
name: capitals
criteria:
  - id: correct
    description: The answer names the right city.
    weight: 1
    check: {type: env_reward}
"""


def answer(question: str) -> str:
    return next(a for q, a in FACTS.items() if q in question)


def lucky(request: dict) -> bool:
    """Right only when sampled hot, and then for one seed in three (which ones depends on the task)."""
    question = last_user_text(request)
    return (request.get("temperature") or 0) >= 0.7 and ((request.get("seed") or 0) + sum(map(ord, question))) % 3 == 0


def learner(request: dict) -> Reply:
    shown = "Answer: {" in system_text(request)
    right = shown or lucky(request)
    return call("submit", {"answer": answer(last_user_text(request)) if right else "I don't know"})


def hopeless(request: dict) -> Reply:
    return call("submit", {"answer": "I don't know"})


def _run(tmp_path: Path, responder, rollouts: int, *extra: str):
    data = dataset(tmp_path)
    rules = write(tmp_path / "rubrics" / "capitals.yaml", RUBRIC)
    with ScriptedLLM(responder) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        result = run_cli(
            "run", str(agent), "-r", str(rules), "--env", f"dataset:{data}", "--runs-dir", "runs",
            "--max-rollouts", str(rollouts), "--minibatch", "4", *extra, cwd=tmp_path, timeout=600,
        )
        requests = list(llm.requests)
    run = next((tmp_path / "runs").iterdir())
    return result, run, requests


def test_sample_finds_the_answers_a_hot_model_gives_and_the_child_wins_on_val(tmp_path):
    result, run, requests = _run(tmp_path, learner, 80, "--operators", "sample")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["baseline"]["val"]["mean"] == 0.0
    assert summary["winner"]["id"] != "c0" and summary["winner"]["val"]["mean"] == 1.0
    decisions = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]
    winner = next(d for d in decisions if d["id"] == summary["winner"]["id"])
    assert winner["operator"] == "sample" and winner["status"] == "accepted"
    assert "sampled for failed train tasks" in winner["note"]
    # It sampled hot, with distinct seeds, and kept only attempts that passed.
    hot = [r for r in requests if (r.get("temperature") or 0) >= 0.7]
    assert hot and len({r.get("seed") for r in hot}) > 1
    shipped = (run / "best" / "agent.yaml").read_text()
    assert "example_pick: similar" in shipped and "I don't know" not in shipped
    # The cost of sampling is inside the budget, and every sampled attempt is counted.
    played = (run / "episodes.jsonl").read_text().splitlines()
    sampled = [line for line in played if '"candidate": "c' in line and '~sample"' in line]
    assert sampled and summary["usage"]["rollouts"] == len(played) <= 80


def test_sampling_never_spends_past_a_tight_budget(tmp_path):
    result, run, _ = _run(tmp_path, hopeless, 60, "--operators", "sample")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((run / "summary.json").read_text())
    played = (run / "episodes.jsonl").read_text().splitlines()
    assert summary["usage"]["rollouts"] == len(played) <= 60


def test_a_model_that_never_succeeds_stops_early_with_a_one_line_account(tmp_path):
    result, run, _ = _run(tmp_path, hopeless, 200)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["winner"]["id"] == "c0"
    assert summary["stopped"].startswith("nothing to learn from: no episode scored above 0; fewshot, choices, merge, sample had nothing to propose; rules proposed only")
    assert "--mutator" in summary["stopped"] and "examples" in summary["stopped"] and "--max-rollouts" in summary["stopped"]
    lines = [line for line in result.stdout.splitlines() if "nothing to learn from" in line]
    assert lines == [f"stopped: {summary['stopped']}"]  # one line in the terminal
    assert summary["usage"]["rollouts"] < 100  # stopped early, not when the budget ran out
    report = (run / "report.md").read_text().splitlines()
    assert report[2] == f"**{summary['stopped']}**"  # at the top, under the title
    assert summary["stopped"] in (run / "report.html").read_text()
    decisions = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]
    assert not [d for d in decisions if d["status"] == "accepted"]
