"""Replies cut at model_params.max_tokens are visible: flagged per trace, counted in
`agentopt eval`'s terminal and report with the fix, told to the agent when its action was cut,
and named in the reflective records the mutator reads."""

from __future__ import annotations

import json

from agentopt.episode_record import Episode
from agentopt.optimizer.prompts import reflective_dataset
from agentopt.scoring.result import CriterionScore, EpisodeScore
from agentopt.trace import Trace
from tests.conftest import run_cli, scripted_agent
from tests.fakes.openai_server import Reply, ScriptedLLM
from tests.test_eval_cli import ANSWERS

CUT = "cut off at the 64-token limit"


def cut_first_reply(request: dict) -> Reply:
    """The first reply of each episode is cut mid-action (finish_reason "length"); told so, it answers."""
    users = [str(m["content"]) for m in request["messages"] if m["role"] == "user"]
    if not any(CUT in text for text in users):
        return Reply(content='{"tool": "submit", "arguments": {"answer": "The answer, which I will now explain at len', finish_reason="length")
    answer = next(a for q, a in ANSWERS.items() if q in users[0])
    return Reply(content=json.dumps({"tool": "submit", "arguments": {"answer": answer}}))


def test_eval_counts_turns_cut_at_max_tokens_and_names_the_fix(tmp_path, qa_dataset, qa_rubric):
    with ScriptedLLM(cut_first_reply) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        agent.write_text(agent.read_text().replace("  max_turns: 3", "  max_turns: 3\n  tool_mode: structured"))
        result = run_cli("eval", str(agent), "--rubric", str(qa_rubric), "--env", f"dataset:{qa_dataset}", "--runs-dir", "runs",
                         cwd=tmp_path, env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stdout + result.stderr
    line = "50% of turns hit max_tokens=64 (4 of 8 model turns cut short, in 4 episode(s)); raise model_params.max_tokens"
    assert line in result.stdout
    run = next((tmp_path / "runs").iterdir())
    assert json.loads((run / "summary.json").read_text())["truncation"] == {"turns": 8, "truncated": 4, "episodes": 4, "max_tokens": 64}
    assert line in (run / "report.md").read_text()
    traces = [json.loads(text)["trace"] for text in (run / "traces.jsonl").read_text().splitlines()]
    assert [t["truncated_turns"] for t in traces] == [1, 1, 1, 1]
    # The agent was told its reply was cut, not only that it was no valid action.
    assert all(any(CUT in str(m["content"]) for m in t["messages"] if m["role"] == "user") for t in traces)


def test_no_truncation_no_line(tmp_path, qa_dataset, qa_rubric):
    from tests.test_eval_cli import quiz_master

    with ScriptedLLM(quiz_master) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = run_cli("eval", str(agent), "--rubric", str(qa_rubric), "--env", f"dataset:{qa_dataset}", "--runs-dir", "runs", cwd=tmp_path)
    assert result.returncode == 0 and "max_tokens" not in result.stdout


def test_the_reflective_record_names_the_cut_replies():
    trace = Trace(episode_id="e", task_id="t1", split="train", task={}, messages=[{"role": "user", "content": "q"}],
                  turns=3, truncated_turns=2)
    score = EpisodeScore(episode_id="e", task_id="t1", score=0.0, passed=False,
                         criteria=(CriterionScore(id="correct", score=0.0, passed=False, feedback="no answer"),))
    [record] = reflective_dataset([Episode(trace, score)])
    notes = {f.id: f.feedback for f in record.failed}
    assert "correct" in notes and "2 of 3 model turns were cut off at the max_tokens limit" in notes["max_tokens"]
