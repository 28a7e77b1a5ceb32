"""`agentopt eval` end to end: real CLI process, real environment server over HTTP/WS,
a scripted OpenAI-compatible model server on loopback. Exit codes 0/1/2/3, JUnit, cache."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import run_cli, scripted_agent, write
from tests.fakes.openai_server import Reply, ScriptedLLM, call, error, last_user_text

ANSWERS = {"capital of France": "Paris", "2 + 2": "4", "color is the sky": "blue", "Opposite of hot": "lukewarm"}


def quiz_master(request: dict) -> Reply:
    """Answers three of the four questions right, through the `submit` tool."""
    question = last_user_text(request)
    answer = next(a for q, a in ANSWERS.items() if q in question)
    return call("submit", {"answer": answer})


def eval_args(agent: Path, rubric: Path, data: Path, *extra: str) -> list[str]:
    return ["eval", str(agent), "--rubric", str(rubric), "--env", f"dataset:{data}", "--runs-dir", "runs", *extra]


def only_run(tmp_path: Path) -> Path:
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def test_eval_scores_each_episode_and_writes_the_run_folder(tmp_path, qa_dataset, qa_rubric):
    with ScriptedLLM(quiz_master) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = run_cli(*eval_args(agent, qa_rubric, qa_dataset), cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    run = only_run(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    # 3 of 4 right: correct = 0.75 mean; short always 1 -> episode scores 1,1,1,0.25
    assert summary["summary"]["n"] == 4
    assert summary["summary"]["n_errors"] == 0
    assert abs(summary["summary"]["mean"] - (3 * 1.0 + 0.25) / 4) < 1e-9
    criteria = {c["id"]: c for c in summary["summary"]["criteria"]}
    assert criteria["correct"]["pass_rate"] == 0.75
    records = [json.loads(line) for line in (run / "traces.jsonl").read_text().splitlines()]
    assert sorted(r["trace"]["task_id"] for r in records) == ["q1", "q2", "q3", "q4"]
    wrong = next(r for r in records if r["trace"]["task_id"] == "q4")
    assert wrong["trace"]["tool_calls"][0]["arguments"] == {"answer": "lukewarm"}
    assert wrong["score"]["passed"] is False
    assert (run / "inputs" / "agent.yaml").exists() and (run / "inputs" / "rubric.yaml").exists()
    report = (run / "report.md").read_text()
    assert "q4" in report and "Score 0.81" in report
    # The agent saw the tool through native tool calling, with the environment's description.
    tools = llm.requests[0]["tools"]
    assert [t["function"]["name"] for t in tools] == ["submit"]


def test_min_score_gate_exits_1_and_writes_junit(tmp_path, qa_dataset, qa_rubric):
    with ScriptedLLM(quiz_master) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = run_cli(*eval_args(agent, qa_rubric, qa_dataset, "--min-score", "0.99", "--junit", "junit.xml"), cwd=tmp_path)
    assert result.returncode == 1, result.stderr + result.stdout
    assert "CI gate FAILED" in result.stdout
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("tests") == "4" and suite.get("failures") == "1" and suite.get("errors") == "0"
    failure = suite.find("./testcase[@name='q4']/failure")
    assert failure is not None and "correct" in failure.text
    gate = json.loads((only_run(tmp_path) / "summary.json").read_text())["gate"]
    assert gate["passed"] is False


def test_baseline_comparison_passes_within_allowed_drop_and_fails_beyond(tmp_path, qa_dataset, qa_rubric):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"summary": {"mean": 0.9}}))
    with ScriptedLLM(quiz_master) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        ok = run_cli(*eval_args(agent, qa_rubric, qa_dataset, "--baseline", str(baseline), "--max-drop", "0.1"), cwd=tmp_path)
        bad = run_cli(*eval_args(agent, qa_rubric, qa_dataset, "--baseline", str(baseline), "--max-drop", "0.05"), cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert bad.returncode == 1, bad.stdout + bad.stderr


def test_second_run_is_answered_from_the_cache(tmp_path, qa_dataset, qa_rubric):
    with ScriptedLLM(quiz_master) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        first = run_cli(*eval_args(agent, qa_rubric, qa_dataset), cwd=tmp_path)
        calls_after_first = len(llm.requests)
        second = run_cli(*eval_args(agent, qa_rubric, qa_dataset), cwd=tmp_path)
    assert first.returncode == 0 and second.returncode == 0
    assert calls_after_first == 4
    assert len(llm.requests) == 4  # no new model call
    assert "model calls: 0 (4 cached)" in second.stdout


def test_provider_failure_is_an_infrastructure_error_not_a_zero(tmp_path, qa_dataset, qa_rubric):
    with ScriptedLLM(lambda request: error(503)) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = run_cli(*eval_args(agent, qa_rubric, qa_dataset, "--episodes", "2"), cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "infrastructure errors" in result.stderr and "HTTP 503" in result.stderr
    summary = json.loads((only_run(tmp_path) / "summary.json").read_text())
    assert summary["summary"]["n"] == 0 and summary["summary"]["n_errors"] == 2 and summary["summary"]["mean"] is None
    assert len(llm.requests) == 2 * 4  # every episode retried up to 4 attempts


def test_transient_rate_limit_is_retried(tmp_path, qa_dataset, qa_rubric):
    answers = iter([error(429), error(429)])

    def flaky(request: dict) -> Reply:
        return next(answers, None) or quiz_master(request)

    with ScriptedLLM(flaky) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = run_cli(*eval_args(agent, qa_rubric, qa_dataset, "--episodes", "1"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(llm.requests) == 3


def test_validation_errors_exit_2_with_file_and_line(tmp_path, qa_dataset):
    rubric = write(
        tmp_path / "rubrics" / "bad.yaml",
        """
        name: bad
        criteria:
          - id: c
            description: d
            weight: 1
            check: {type: regex, pattern: "("}
        """,
    )
    with ScriptedLLM(quiz_master) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = run_cli(*eval_args(agent, rubric, qa_dataset), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{rubric}:6:26: criteria[0].check.pattern: regex does not compile")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()  # nothing ran


def test_unknown_tool_override_is_a_spec_error(tmp_path, qa_dataset, qa_rubric):
    with ScriptedLLM(quiz_master) as llm:
        agent = scripted_agent(tmp_path, llm.url, extra="tools:\n  sumbit:\n    description: typo\n")
        result = run_cli(*eval_args(agent, qa_rubric, qa_dataset), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    # Found by the environment, after loading, but still located in the spec file.
    assert result.stderr.strip() == f"{agent}:10:3: tools.sumbit: the environment has no tool 'sumbit' (it has: submit)"


def test_usage_errors_exit_2(tmp_path, qa_rubric):
    result = run_cli("eval", "agents/none.yaml", "--rubric", str(qa_rubric), "--env", "dataset:missing.jsonl", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_api_keys_never_reach_run_outputs(tmp_path, qa_dataset, qa_rubric):
    secret = "sk-test-abcdefghijklmnopqrstuvwx"

    def leaky(request: dict) -> Reply:
        # A provider that echoes the key back in a malformed answer.
        return Reply(raw=json.dumps({"error": f"bad key {secret}"}))

    with ScriptedLLM(leaky) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = run_cli(*eval_args(agent, qa_rubric, qa_dataset, "--episodes", "1"), cwd=tmp_path, env={"OPENAI_API_KEY": secret})
    assert result.returncode == 3
    outputs = [p.read_text(errors="replace") for p in (tmp_path / "runs").rglob("*") if p.is_file()]
    assert outputs and all(secret not in text for text in outputs)
    assert secret not in result.stdout + result.stderr


def test_a_broken_dataset_is_reported_by_file_and_line_before_any_launch(tmp_path, qa_rubric):
    data = tmp_path / "broken.jsonl"
    data.write_text('{"input": "ok", "split": "val"}\n\n{"question": "no input field"}\n')
    with ScriptedLLM(quiz_master) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = run_cli(*eval_args(agent, qa_rubric, data), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"{data}:3: record has no 'input' field"
    assert not (tmp_path / "runs").exists()


def test_hosted_models_go_through_litellm(tmp_path, qa_dataset, qa_rubric):
    """No api_base: the request takes the litellm path (here to an OpenAI-compatible URL
    given the way a user would, through OPENAI_BASE_URL)."""
    with ScriptedLLM(quiz_master) as llm:
        agent = write(
            tmp_path / "agents" / "hosted.yaml",
            """
            name: hosted
            model: openai/gpt-4o-mini
            system_prompt: Answer the question with a word.
            """,
        )
        env = {"OPENAI_BASE_URL": llm.url, "OPENAI_API_BASE": llm.url, "OPENAI_API_KEY": "sk-test-abcdefghijklmnopqrstuvwxyz"}
        result = run_cli(*eval_args(agent, qa_rubric, qa_dataset), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(llm.requests) == 4 and llm.requests[0]["model"] == "gpt-4o-mini"
    summary = json.loads((only_run(tmp_path) / "summary.json").read_text())
    assert summary["summary"]["n"] == 4
    assert summary["usage"]["cost_usd"] > 0  # litellm's local price map knows gpt-4o-mini
