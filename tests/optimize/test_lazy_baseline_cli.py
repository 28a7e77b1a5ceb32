"""The lazy baseline and the exact reserve (issue 15): the baseline plays val up front and train
only where a screen needs it, and the run stops only when one more candidate no longer fits.
Real CLI, real dataset server, a scripted model that ignores the temperature the search changes
(every child ties with its parent and is screened out, so the budget is what ends the run)."""

from __future__ import annotations

import json
from collections import Counter

from tests.conftest import run_cli, scripted_agent
from tests.fakes.openai_server import Reply, ScriptedLLM, call, last_user_text
from tests.optimize.test_run_integration import FACTS, dataset, rubric


def stubborn(request: dict) -> Reply:
    return call("submit", {"answer": next(a for q, a in FACTS.items() if q in last_user_text(request))})


def test_the_baseline_plays_train_only_where_a_screen_needs_it_and_the_budget_is_spent_to_the_last_candidate(tmp_path):
    data, rules = dataset(tmp_path), rubric(tmp_path)
    with ScriptedLLM(stubborn) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals", extra="optimize:\n  search_space:\n    temperature: {low: 0.0, high: 1.0}\n")
        result = run_cli("run", str(agent), "-r", str(rules), "--env", f"dataset:{data}", "--runs-dir", "runs", "--max-rollouts", "60",
                         "--minibatch", "2", "--operators", "choices", cwd=tmp_path, timeout=600, env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "baseline 4 (val 4; on train only where a screen needs it)" in result.stdout
    run = next((tmp_path / "runs").iterdir())
    decisions = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]
    assert decisions[0]["status"] == "baseline" and decisions[0]["rollouts"] == 4  # val only, no train up front
    episodes = [json.loads(line) for line in (run / "episodes.jsonl").read_text().splitlines()]
    baseline_train = [e["trace"]["task_id"] for e in episodes if e["candidate"] == "c0" and e["split"] == "train"]
    children_train = {e["trace"]["task_id"] for e in episodes if e["candidate"] != "c0" and e["split"] == "train"}
    assert baseline_train and set(baseline_train) <= children_train  # each one played for a screen
    assert max(Counter(baseline_train).values()) == 1  # and once: reused by every later screen
    screened = [d for d in decisions if d["status"] == "screened_out"]
    assert len(screened) >= 8
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"] == "not enough rollouts left for another candidate"
    # The last candidate was stopped only because it no longer fit: at most 2 unplayed parent tasks +
    # a 2-task screen + 4 val + 8 final test = 16; the final test then played the baseline alone (4).
    spent = decisions[-1]["rollouts"]
    assert 60 - spent < 16 and summary["usage"]["rollouts"] == spent + 4
