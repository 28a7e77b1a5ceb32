"""The real embedded model, end to end: `agentopt eval` on the demo agent, no API key."""

from __future__ import annotations

import json

from tests.conftest import REPO, run_cli


def test_demo_agent_runs_on_the_embedded_model(tmp_path):
    result = run_cli(
        "eval", str(REPO / "agents/triage.yaml"), "-r", str(REPO / "rubrics/triage.yaml"),
        "--env", f"dataset:{REPO / 'examples/triage/tickets.jsonl'}", "--episodes", "2", "--runs-dir", "runs",
        cwd=tmp_path,
        env={"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run = next((tmp_path / "runs").iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["summary"]["n"] == 2 and summary["summary"]["n_errors"] == 0
    records = [json.loads(line) for line in (run / "traces.jsonl").read_text().splitlines()]
    for record in records:
        trace = record["trace"]
        assert trace["model_calls"] >= 1 and trace["completion_tokens"] > 0
        assert trace["stop_reason"] == "done"  # the model submitted through constrained JSON
        answer = json.loads(trace["final_answer"])
        assert answer["category"] in {"billing", "technical", "shipping", "account"}
        assert answer["priority"] in {"low", "medium", "high"}
        assert 0.0 <= record["score"]["score"] <= 1.0
    assert (run / "logs" / "local-model.log").stat().st_size > 0
