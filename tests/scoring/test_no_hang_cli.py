"""`agentopt eval` end to end with a hostile rubric and dataset: a ReDoS regex criterion and a
dataset field named `self`. The evaluation finishes in seconds and writes its report; each
episode's score is an error naming the criterion and the regex, not a hang."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.conftest import run_cli, scripted_agent, write
from tests.fakes.openai_server import Reply, ScriptedLLM, call

EVIL = "a" * 40 + "!"


def answers_evil(request: dict) -> Reply:
    return call("submit", {"answer": EVIL})


def test_eval_with_a_redos_rubric_finishes_and_writes_its_report(tmp_path: Path):
    rows = [{"id": f"q{i}", "split": "val", "input": f"Question {i}?", "expected": "x", "self": "me", "kwargs": 1}
            for i in range(3)]
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    rubric = write(
        tmp_path / "rubrics" / "redos.yaml",
        """
        name: redos
        criteria:
          - id: shape
            description: The answer is all a's.
            check: {type: regex, target: "tool:submit.answer", pattern: "^(a|aa)+$"}
        """,
    )
    with ScriptedLLM(answers_evil) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        start = time.monotonic()
        result = run_cli("eval", str(agent), "--rubric", str(rubric), "--env", f"dataset:{data}", "--runs-dir", "runs",
                         cwd=tmp_path, timeout=120)
        took = time.monotonic() - start
    assert took < 60, took
    assert result.returncode == 3, result.stdout + result.stderr
    (run,) = sorted((tmp_path / "runs").iterdir())
    assert (run / "report.md").exists(), result.stdout + result.stderr
    summary = json.loads((run / "summary.json").read_text())["summary"]
    assert summary["n"] == 0 and summary["n_errors"] == 3
    records = [json.loads(line) for line in (run / "traces.jsonl").read_text().splitlines()]
    assert len(records) == 3
    for record in records:
        assert record["trace"]["error"] is None  # the episode itself ran: `self` in the data is fine
        assert record["score"]["error"] == "criterion 'shape': regex '^(a|aa)+$' took longer than 1 s on 41 characters"
    assert "Traceback" not in result.stderr


def test_eval_with_a_nested_loop_system_prompt_errors_each_episode_and_finishes(tmp_path: Path, qa_dataset, qa_rubric):
    loops = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}Answer {{ input }}"
    with ScriptedLLM(answers_evil) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        agent.write_text(agent.read_text().replace("system_prompt: Answer the question with a word.",
                                                   f"system_prompt: '{loops}'"), encoding="utf-8")
        start = time.monotonic()
        result = run_cli("eval", str(agent), "--rubric", str(qa_rubric), "--env", f"dataset:{qa_dataset}",
                         "--runs-dir", "runs", cwd=tmp_path, timeout=120)
        took = time.monotonic() - start
        assert llm.requests == []  # no episode got as far as the model
    assert took < 60, took
    assert result.returncode == 3, result.stdout + result.stderr
    (run,) = sorted((tmp_path / "runs").iterdir())
    assert (run / "report.md").exists()
    records = [json.loads(line) for line in (run / "traces.jsonl").read_text().splitlines()]
    assert len(records) == 4
    for record in records:
        assert f"{agent}:6:1: system_prompt: template rendering took longer than 2 s" in record["trace"]["error"]
    assert "Traceback" not in result.stderr
