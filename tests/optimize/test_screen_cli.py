"""A screen tied at 0 on every minibatch task widens before it decides: real CLI, real dataset
server, a scripted model.

The parent answers every question wrong. Its `rules` child (write in lowercase) answers right,
but only on the train questions outside its first minibatch: the model remembers which train
questions the parent was asked before the child's first request (that minibatch) and answers
those wrong for the child too. Screened on the minibatch alone, the child ties at 0 everywhere
and used to be dropped unseen; widened by one more minibatch it wins, and then wins on val."""

from __future__ import annotations

import json

from tests.conftest import run_cli, scripted_agent
from tests.fakes.openai_server import Reply, ScriptedLLM, call, last_user_text, system_text
from tests.optimize.test_run_integration import FACTS, dataset, rubric

TRAIN = list(FACTS)[:8]


def test_a_screen_tied_at_zero_widens_and_the_child_wins(tmp_path):
    parent_asked: list[str] = []
    minibatch: set[str] = set()

    def model(request: dict) -> Reply:
        question = next(q for q in FACTS if q in last_user_text(request))
        child = "lowercase" in system_text(request).lower()
        if not child:
            parent_asked.append(question)
            return call("submit", {"answer": "Nowhere"})
        if not minibatch:
            minibatch.update(q for q in parent_asked if q in TRAIN)
        return call("submit", {"answer": "Nowhere" if question in minibatch else FACTS[question].lower()})

    data, rules = dataset(tmp_path), rubric(tmp_path)
    with ScriptedLLM(model) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        result = run_cli("run", str(agent), "-r", str(rules), "--env", f"dataset:{data}", "--runs-dir", "runs", "--max-rollouts", "60",
                         "--minibatch", "4", "--operators", "rules", "--max-candidates", "1", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    run = next((tmp_path / "runs").iterdir())
    decisions = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]
    child = next(d for d in decisions if d["operator"] == "rules")
    assert len(minibatch) == 4  # the first screen: 4 train questions the child answers wrong, like its parent
    assert child["train"]["n"] == 8 and child["train"]["widened"] == 4
    assert child["train"]["parent_mean"] == 0.0 and child["train"]["mean"] > 0
    assert child["status"] == "accepted"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["winner"]["id"] == child["id"] and summary["winner"]["val"]["mean"] > summary["baseline"]["val"]["mean"]
