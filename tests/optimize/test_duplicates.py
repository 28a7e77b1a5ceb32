"""`agentopt run` never plays a spec twice: a child whose spec equals an evaluated candidate's is
a duplicate (recorded, told to Optuna, counted apart), and an operator with nothing to propose is
counted apart from the children proposed. Real CLI, real dataset server, scripted model."""

from __future__ import annotations

import json

import optuna

from tests.conftest import run_cli, scripted_agent
from tests.fakes.openai_server import Reply, ScriptedLLM, call, last_user_text
from tests.optimize.test_run_integration import FACTS, dataset, rubric


def stubborn_model(request: dict) -> Reply:
    """Answers right, always in Title Case, whatever its instructions say: the rules child never helps."""
    question = last_user_text(request)
    return call("submit", {"answer": next(a for q, a in FACTS.items() if q in question)})


def test_a_child_equal_to_an_evaluated_candidate_is_not_played_again_and_optuna_is_told(tmp_path):
    data, rules = dataset(tmp_path), rubric(tmp_path)
    with ScriptedLLM(stubborn_model) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        result = run_cli(
            "run", str(agent), "-r", str(rules), "--env", f"dataset:{data}", "--runs-dir", "runs",
            "--max-rollouts", "60", "--minibatch", "4", "--operators", "rules,fewshot", cwd=tmp_path, timeout=600,
            env={"COLUMNS": "200"},
        )
    assert result.returncode == 0, result.stdout + result.stderr
    run = next((tmp_path / "runs").iterdir())
    decisions = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]
    by_status = {}
    for d in decisions:
        by_status.setdefault(d["status"], []).append(d)
    # The rules child (lowercase rule) is screened once; every later identical child is a duplicate of it.
    [played] = by_status["screened_out"]
    assert played["operator"] == "rules"
    duplicates = by_status["duplicate"]
    assert duplicates and all(d["duplicate_of"] == played["id"] and d["operator"] == "rules" for d in duplicates)
    assert all(d["train"] == played["train"] for d in duplicates)  # the recorded result, reused
    assert all(not (run / "candidates" / d["id"]).exists() for d in duplicates)
    episodes = [json.loads(line) for line in (run / "episodes.jsonl").read_text().splitlines()]
    assert {e["candidate"] for e in episodes} == {"c0", played["id"]}
    # Screened once, on its 4 minibatch tasks: tied with its parent at 0.5 on each (the same answers), not widened.
    assert sum(e["candidate"] == played["id"] for e in episodes) == 4
    assert "widened" not in played["train"] and "tied on every task" in played["reason"]
    # fewshot has no success to show: nothing to propose, counted apart from the children proposed.
    nothing = by_status["invalid"]
    assert nothing and all(d["operator"] == "fewshot" for d in nothing)
    summary = json.loads((run / "summary.json").read_text())
    counts = summary["candidates"]
    assert (counts["proposed"], counts["duplicate"], counts["invalid"]) == (1, len(duplicates), len(nothing))
    assert f"1 proposed · 1 screened out · 0 rejected · 0 accepted · {len(duplicates)} duplicate · {len(nothing)} nothing to propose" in result.stdout
    assert (f"not played: {len(nothing)} nothing to propose, {len(duplicates)} duplicate (the spec of an evaluated candidate)"
            in (run / "report.md").read_text())
    # Optuna learned from both: duplicates told 0 gain, nothing-to-propose the worst gain (-1); none failed.
    study = optuna.load_study(study_name=f"agentopt-{run.name}", storage=f"sqlite:///{run / 'study.db'}")
    values = {t.number: (t.state.name, t.value) for t in study.trials}
    for d in duplicates:
        assert values[d["trial"]] == ("COMPLETE", 0.0)
    for d in nothing:
        assert values[d["trial"]] == ("COMPLETE", -1.0)
