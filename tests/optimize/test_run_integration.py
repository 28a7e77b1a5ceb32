"""`agentopt run` end to end: real CLI, real environment server, and a scripted
OpenAI-compatible model whose answers depend on what its system prompt says.

The model answers every question right, but in Title Case unless its instructions tell
it to write in lowercase. The rubric wants lowercase, and says so in a criterion's
description. A correct optimizer must find that instruction (the `rules` operator
derives rules from failing criteria), screen it on train, accept it on val, and ship it.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import run_cli, scripted_agent, write
from tests.fakes.openai_server import Reply, ScriptedLLM, call, last_user_text, system_text

FACTS = {
    "capital of France": "Paris", "capital of Italy": "Rome", "capital of Spain": "Madrid", "capital of Peru": "Lima",
    "capital of Japan": "Tokyo", "capital of Egypt": "Cairo", "capital of Kenya": "Nairobi", "capital of Chile": "Santiago",
    "capital of Norway": "Oslo", "capital of Cuba": "Havana", "capital of Greece": "Athens", "capital of Poland": "Warsaw",
    "capital of Ghana": "Accra", "capital of Nepal": "Kathmandu", "capital of Iraq": "Baghdad", "capital of Laos": "Vientiane",
}


def quiz_model(request: dict) -> Reply:
    question = last_user_text(request)
    answer = next(a for q, a in FACTS.items() if q in question)
    lowercase = "lowercase" in system_text(request).lower()
    return call("submit", {"answer": answer.lower() if lowercase else answer})


def dataset(tmp_path: Path) -> Path:
    rows = []
    for number, (question, answer) in enumerate(FACTS.items()):
        split = "train" if number < 8 else ("val" if number < 12 else "test")
        rows.append({"id": f"q{number:02d}", "split": split, "input": f"What is the {question}?", "expected": answer})
    path = tmp_path / "capitals.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


RUBRIC = """
name: capitals
criteria:
  - id: correct
    description: The answer names the right city.
    weight: 1
    check: {type: env_reward}
  - id: lowercase
    description: Write the answer in lowercase letters only.
    weight: 1
    check: {type: regex, target: answer.answer, pattern: "^[a-z ]+$"}
"""


def rubric(tmp_path: Path, extra_criteria: str = "") -> Path:
    return write(tmp_path / "rubrics" / "capitals.yaml", RUBRIC + extra_criteria)


def test_run_finds_the_instruction_that_fixes_the_failures_and_ships_only_accepted_candidates(tmp_path):
    data, rules = dataset(tmp_path), rubric(tmp_path)
    with ScriptedLLM(quiz_model) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        result = run_cli(
            "run", str(agent), "-r", str(rules), "--env", f"dataset:{data}", "--runs-dir", "runs",
            "--max-rollouts", "60", "--minibatch", "4", "--operators", "rules,fewshot", cwd=tmp_path, timeout=600,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    run = next((tmp_path / "runs").iterdir())
    summary = json.loads((run / "summary.json").read_text())
    # Baseline: every answer right but capitalized -> 0.5 per episode; the winner writes lowercase -> 1.0.
    assert summary["baseline"]["val"]["mean"] == 0.5
    assert summary["winner"]["val"]["mean"] == 1.0
    assert summary["winner"]["test"]["mean"] == 1.0 and summary["baseline"]["test"]["mean"] == 0.5
    # The budget covers everything, the final test evaluations included, and the plan said so up front.
    assert summary["usage"]["rollouts"] <= 60
    assert "Budget plan (--max-rollouts 60): baseline 4 (val 4; on train only where a screen needs it); per candidate up to 12" in result.stdout
    assert "final test 8 (baseline and winner on 4 test tasks)" in result.stdout
    plan = json.loads((run / "plan.json").read_text())
    assert (plan["baseline"], plan["per_candidate"], plan["final_test"], plan["candidates"]) == (4, 12, 8, 4)
    assert "Budget plan (--max-rollouts 60)" in (run / "report.md").read_text()
    assert "budget plan" in (run / "report.html").read_text()
    assert "\nstopped: " in result.stdout  # on its own line after the live display
    assert json.loads((run / "overlap.json").read_text()) == {} and "repeat a train task" not in result.stdout
    decisions = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]
    accepted = {d["id"] for d in decisions if d["status"] in ("accepted", "baseline")}
    assert summary["winner"]["id"] in accepted and summary["winner"]["id"] != "c0"
    winner = next(d for d in decisions if d["id"] == summary["winner"]["id"])
    assert winner["operator"] == "rules"
    shipped = yaml.safe_load((run / "best" / "agent.yaml").read_text())
    assert "lowercase" in shipped["system_prompt"].lower()
    for rejected in (d for d in decisions if d["status"] not in ("accepted", "baseline")):
        candidate = run / "candidates" / rejected["id"] / "agent.yaml"
        if candidate.exists():
            assert candidate.read_text() != (run / "best" / "agent.yaml").read_text()
    assert (run / "best" / "best_skill.md").read_text().startswith("---\nname: capitals-optimized")
    assert "lowercase" in (run / "best" / "diff.md").read_text()
    assert (run / "report.html").exists() and (run / "study.db").exists()
    # The winner spec loads and re-evaluates to the same val score entirely from the cache
    # (the scripted server is gone: any model call would fail).
    again = run_cli(
        "eval", str(run / "best" / "agent.yaml"), "-r", str(rules), "--env", f"dataset:{data}", "--runs-dir", "evals", cwd=tmp_path
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Score 1.00" in again.stdout and "model calls: 0 (4 cached)" in again.stdout
    # The run is listed, and its report re-renders from the run folder alone.
    (run / "report.html").unlink()
    rendered = run_cli("report", str(run), cwd=tmp_path)
    assert rendered.returncode == 0 and rendered.stdout.strip() == str(run / "report.html")
    assert "<svg" in (run / "report.html").read_text()
    listed = run_cli("runs", "--runs-dir", "runs", cwd=tmp_path, env={"COLUMNS": "200"})
    assert run.name in listed.stdout and "val 0.50 -> 1.00" in listed.stdout


def test_a_budget_too_small_for_a_handful_of_candidates_is_refused_before_any_episode(tmp_path):
    data, rules = dataset(tmp_path), rubric(tmp_path)
    with ScriptedLLM(quiz_model) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        result = run_cli(
            "run", str(agent), "-r", str(rules), "--env", f"dataset:{data}", "--runs-dir", "runs",
            "--max-rollouts", "10", "--minibatch", "4", cwd=tmp_path, env={"COLUMNS": "200"},
        )
        assert llm.requests == []  # no episode was played
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: --max-rollouts 10 buys 0 candidate(s)")
    assert "--minibatch" in result.stderr and "raise --max-rollouts to 48" in result.stderr
    assert "Budget plan (--max-rollouts 10)" in result.stdout
    assert not list((tmp_path / "runs").iterdir())  # no half-made run folder to --resume


def test_a_test_split_that_would_eat_the_budget_is_refused_naming_test_episodes(tmp_path):
    rows = [{"id": f"t{n}", "split": "test", "input": f"What is the {q}?", "expected": a} for n, (q, a) in enumerate(FACTS.items())]
    data = dataset(tmp_path)
    data.write_text(data.read_text() + "".join(json.dumps(r) + "\n" for r in rows))  # 4 + 16 test tasks
    with ScriptedLLM(quiz_model) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        args = ("run", str(agent), "-r", str(rubric(tmp_path)), "--env", f"dataset:{data}", "--runs-dir", "runs", "--max-rollouts", "60", "--minibatch", "4")
        refused = run_cli(*args, cwd=tmp_path)
        assert llm.requests == []
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stdout + refused.stderr
        assert "lower --test-episodes (the final test plays 20 test tasks twice: 40 rollouts)" in refused.stderr
        # With a smaller test evaluation the same budget buys a handful and the run goes ahead.
        ran = run_cli(*args, "--test-episodes", "2", "--max-candidates", "1", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "final test 4 (baseline and winner on 2 test tasks)" in ran.stdout


def test_held_out_tasks_that_repeat_a_train_task_are_named_before_the_search(tmp_path):
    """A val task with a train task's text (up to its numbers) lets a demonstration carry its
    answer across: the run says so in one line and records the pairs in overlap.json."""
    data = dataset(tmp_path)
    leaks = [
        {"id": "v-dup", "split": "val", "input": "What is the capital of France?", "expected": "Paris"},
        {"id": "x-dup", "split": "test", "input": "What is the  Capital of Italy?", "expected": "Rome"},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in leaks) + data.read_text())
    with ScriptedLLM(quiz_model) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        result = run_cli(
            "run", str(agent), "-r", str(rubric(tmp_path)), "--env", f"dataset:{data}", "--runs-dir", "runs",
            "--max-rollouts", "60", "--minibatch", "4", "--test-episodes", "2", "--max-candidates", "1",
            cwd=tmp_path, env={"COLUMNS": "300"},
        )
    assert result.returncode == 0, result.stdout + result.stderr
    run = next((tmp_path / "runs").iterdir())
    assert json.loads((run / "overlap.json").read_text()) == {"val": {"v-dup": "q00"}, "test": {"x-dup": "q01"}}
    assert "1 of 5 val task(s) (val v-dup = train q00) and 1 of 2 test task(s) (test x-dup = train q01) repeat a train task" in " ".join(result.stdout.split())
