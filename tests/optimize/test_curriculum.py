"""`agentopt run --curriculum`: per-task solve rates of the accepted candidates, and minibatches
weighted towards the tasks they solve sometimes."""

from __future__ import annotations

import json
import random
from collections import Counter

from agentopt.optimizer import curriculum
from agentopt.optimizer.curriculum import TaskRecord
from agentopt.records import Decision
from agentopt.store.run import RunFolder
from tests.conftest import run_cli, scripted_agent
from tests.fakes.openai_server import ScriptedLLM
from tests.optimize.test_run_integration import dataset, quiz_model, rubric


def test_weights_favour_tasks_solved_sometimes_and_unknown_ones():
    unplayed, mixed = TaskRecord("a", 0, 0), TaskRecord("b", 2, 1)
    always = [TaskRecord("c", n, n) for n in (1, 2, 3, 30)]
    never = [TaskRecord("d", n, 0) for n in (1, 2, 3, 30)]
    assert unplayed.weight == mixed.weight == 1.0
    for uniform in (always, never):
        weights = [r.weight for r in uniform]
        assert weights == sorted(weights, reverse=True) and weights[0] < 1.0  # each play lowers it
        assert weights[-1] == curriculum.FLOOR**2  # never below the floor: no task is left out
    assert [r.rate for r in (unplayed, mixed, always[1])] == [None, 0.5, 1.0]


def test_draw_is_seeded_without_replacement_and_in_proportion_to_the_weights():
    tasks = [f"t{i}" for i in range(6)]
    records = {"t0": TaskRecord("t0", 3, 3), "t1": TaskRecord("t1", 3, 0), "t2": TaskRecord("t2", 3, 1)}
    same = [curriculum.draw(random.Random(5), tasks, 4, records, task_id=str) for _ in range(2)]
    assert same[0] == same[1] and len(set(same[0])) == 4
    counts = Counter(curriculum.draw(random.Random(seed), tasks, 1, records, task_id=str)[0] for seed in range(6000))
    total = sum(records.get(t, TaskRecord(t, 0, 0)).weight for t in tasks)
    for task in tasks:
        expected = records.get(task, TaskRecord(task, 0, 0)).weight / total
        assert abs(counts[task] / 6000 - expected) < 0.02, (task, counts[task], expected)
    assert counts["t2"] > 3 * counts["t0"] and counts["t2"] > 3 * counts["t1"]  # mixed over 3 plays vs uniform over 3


def _episode(candidate: str, task: str, passed: bool, split: str = "train", error: str | None = None) -> dict:
    return {"candidate": candidate, "spec": "h", "split": split, "trace": {"task_id": task, "base_task_id": None},
            "score": {"passed": passed, "error": error}}


def test_tally_counts_accepted_candidates_train_episodes_known_at_the_last_decision(tmp_path):
    run = RunFolder(tmp_path)
    lines = [
        _episode("c0", "t1", False), _episode("c0", "t2", True), _episode("c0", "v1", True, split="val"),
        _episode("c1", "t1", True), _episode("c2", "t1", True),  # c2 is screened out: its plays do not count
        _episode("c0", "t3", False, error="env crashed"),  # an infrastructure error is no evidence
        _episode("c1", "t2", True),  # after the last decision (a kill cut its iteration): not yet counted
    ]
    for line in lines:
        run.append_jsonl("episodes.jsonl", line)
    decisions = [Decision.from_dict(d) for d in [{"id": "c0", "status": "baseline", "rollouts": 3}, {"id": "c1", "status": "accepted", "rollouts": 4},
                 {"id": "c2", "status": "screened_out", "rollouts": 6}]]
    records = curriculum.tally(tmp_path, curriculum.accepted(decisions), upto=6)
    assert records == {"t1": TaskRecord("t1", 2, 1), "t2": TaskRecord("t2", 1, 1)}
    assert curriculum.tally(tmp_path, curriculum.accepted(decisions))["t2"] == TaskRecord("t2", 2, 2)
    # The same decisions always give the same minibatch, however many episode lines follow them.
    train = ["t1", "t2", "t3", "t4"]
    first = curriculum.draw(random.Random(1), train, 2, records, task_id=str)
    run.append_jsonl("episodes.jsonl", _episode("c1", "t1", True))
    again = curriculum.draw(random.Random(1), train, 2, curriculum.tally(tmp_path, curriculum.accepted(decisions), upto=6), task_id=str)
    assert first == again


def test_run_with_curriculum_reports_per_task_solve_rates(tmp_path):
    data, rules = dataset(tmp_path), rubric(tmp_path)
    with ScriptedLLM(quiz_model) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        result = run_cli(
            "run", str(agent), "-r", str(rules), "--env", f"dataset:{data}", "--runs-dir", "runs", "--curriculum",
            "--max-rollouts", "60", "--minibatch", "4", "--operators", "rules,fewshot", cwd=tmp_path, timeout=600,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    run = next((tmp_path / "runs").iterdir())
    assert json.loads((run / "run_options.json").read_text())["config"]["curriculum"] is True
    summary = json.loads((run / "summary.json").read_text())
    assert summary["winner"]["val"]["mean"] == 1.0  # the curriculum does not get in the way of the fix
    report = json.loads((run / "curriculum.json").read_text())
    splits = json.loads((run / "splits.json").read_text())
    assert [t["task_id"] for t in report["tasks"]] == splits["train"]
    assert report["accepted"][0] == "c0" and summary["winner"]["id"] in report["accepted"]
    # Recount from the journal: a train episode of an accepted candidate, passed or not.
    played, solved = Counter(), Counter()
    for line in (run / "episodes.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["split"] == "train" and record["candidate"] in report["accepted"] and record["score"]["error"] is None:
            played[record["trace"]["task_id"]] += 1
            solved[record["trace"]["task_id"]] += record["score"]["passed"]
    for task in report["tasks"]:
        assert (task["played"], task["solved"]) == (played[task["task_id"]], solved[task["task_id"]])
    # The baseline fails every task (capitalised), the winner solves them: some tasks are mixed.
    assert any(0 < t["solved"] < t["played"] for t in report["tasks"])
    line = next(line for line in result.stdout.splitlines() if line.startswith("curriculum: "))
    assert f"of {len(splits['train'])} train tasks" in line and "curriculum.json" in line
