"""`agentopt export`: training data from a real run folder made by the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agentopt.export import chat_message
from tests.conftest import run_cli, scripted_agent, write_qa_dataset, write_qa_rubric
from tests.fakes.openai_server import ScriptedLLM
from tests.test_eval_cli import eval_args, only_run, quiz_master

SECRET = "sk-test-abcdefghijklmnopqrstuvwx"


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> Path:
    """A real eval run folder, made once per module: 4 episodes (scores 1, 1, 1, 0.25), a key pasted
    into q1's ticket. Tests get their own copy (`eval_run`), so one that edits it spoils no other."""
    tmp_path = tmp_path_factory.mktemp("evaluated")
    qa_dataset, qa_rubric = write_qa_dataset(tmp_path), write_qa_rubric(tmp_path)
    rows = [json.loads(line) for line in qa_dataset.read_text().splitlines()]
    rows[0]["input"] += f" (my key is {SECRET})"
    qa_dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with ScriptedLLM(quiz_master) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = run_cli(*eval_args(agent, qa_rubric, qa_dataset), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return only_run(tmp_path)


@pytest.fixture
def eval_run(evaluated: Path, tmp_path: Path) -> Path:
    """This test's own copy of the module's eval run folder."""
    return Path(shutil.copytree(evaluated, tmp_path / "evaluated" / evaluated.name))


def export(run: Path, tmp_path: Path, *args: str):
    out = tmp_path / "out.jsonl"
    result = run_cli("export", str(run), "--out", str(out), *args, cwd=tmp_path)
    records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return result, records


def test_sft_is_chat_messages_with_openai_tool_calls_and_no_secrets(eval_run, tmp_path):
    result, records = export(eval_run, tmp_path, "--format", "sft")
    assert result.returncode == 0, result.stderr
    assert "exported 4 of 4 episodes (sft)" in result.stdout
    assert len(records) == 4 and all(set(r) == {"messages"} for r in records)
    messages = records[0]["messages"]
    assert [m["role"] for m in messages][:3] == ["system", "user", "assistant"]
    call = messages[2]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "submit"
    assert isinstance(call["function"]["arguments"], str) and "answer" in json.loads(call["function"]["arguments"])
    tool = next(m for m in messages if m["role"] == "tool")
    assert tool["tool_call_id"] == call["id"]
    text = (tmp_path / "out.jsonl").read_text()
    assert SECRET not in text


def test_redaction_reaches_message_text_and_tool_arguments():
    message = {"role": "assistant", "content": f"key {SECRET}", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": json.dumps({"k": SECRET})}}]}
    out = chat_message(message)
    assert SECRET not in json.dumps(out) and "[REDACTED]" in out["content"]
    assert "[REDACTED]" in out["tool_calls"][0]["function"]["arguments"]


def test_rl_has_sides_scores_and_no_token_fields_for_a_hosted_model(eval_run, tmp_path):
    result, records = export(eval_run, tmp_path, "--format", "rl")
    assert result.returncode == 0, result.stderr
    assert len(records) == 4
    record = next(r for r in records if r["task_id"] == "q4")
    assert record["candidate"] is None and record["score"] == 0.25 and record["reward"] == 0.0
    assert record["criteria"] == {"correct": 0.0, "short": 1.0}
    sides = [(m["role"], m["side"]) for m in record["messages"]]
    assert sides[:3] == [("system", "prompt"), ("user", "environment"), ("assistant", "agent")]
    assert ("tool", "environment") in sides
    assert "tokens" not in record and "tokens:" not in result.stdout


def test_min_score_filter(eval_run, tmp_path):
    result, records = export(eval_run, tmp_path, "--format", "sft", "--min-score", "0.9")
    assert result.returncode == 0 and len(records) == 3
    assert "1 below --min-score" in result.stdout


def test_candidates_filter_on_an_optimization_run_folder(eval_run, tmp_path):
    """A run folder's journal: episodes tagged with candidates, decisions, the winner."""
    run = tmp_path / "optrun"
    run.mkdir()
    lines = [json.loads(line) for line in (eval_run / "traces.jsonl").read_text().splitlines()]
    tags = ["c0", "c1", "c2", "c3"]  # c1 accepted, c2 rejected, c3 the winner
    (run / "episodes.jsonl").write_text("".join(
        json.dumps({"candidate": c, "spec": c, "split": "val", **r}) + "\n" for c, r in zip(tags, lines)))
    (run / "candidates.jsonl").write_text("".join(json.dumps(d) + "\n" for d in [
        {"id": "c0", "status": "baseline"}, {"id": "c1", "status": "accepted"}, {"id": "c2", "status": "rejected"}]))
    (run / "summary.json").write_text(json.dumps({"winner": {"id": "c3"}}))
    result, records = export(run, tmp_path, "--format", "rl")
    assert result.returncode == 0, result.stderr
    assert sorted(r["candidate"] for r in records) == ["c1", "c3"]
    result, records = export(run, tmp_path, "--format", "rl", "--candidates", "all")
    assert sorted(r["candidate"] for r in records) == tags


def test_errors_are_skipped(eval_run, tmp_path):
    traces = eval_run / "traces.jsonl"
    lines = [json.loads(line) for line in traces.read_text().splitlines()]
    lines[0]["score"]["error"] = "HTTP 503"
    lines[0]["trace"]["stop_reason"] = "error"
    lines[1]["score"]["not_applicable"] = True
    traces.write_text("".join(json.dumps(r) + "\n" for r in lines))
    result, records = export(eval_run, tmp_path, "--format", "sft")
    assert result.returncode == 0 and len(records) == 2
    assert "skipped 2 errors or not applicable" in result.stdout


def test_usage_errors_are_one_line_exit_2(eval_run, tmp_path):
    for args in (
        ["export", str(tmp_path / "missing"), "--format", "sft", "--out", "x.jsonl"],
        ["export", str(tmp_path), "--format", "sft", "--out", "x.jsonl"],  # a folder, not a run folder
        ["export", str(eval_run), "--format", "dpo", "--out", "x.jsonl"],
        ["export", str(eval_run), "--format", "sft", "--out", str(tmp_path / "f" / "x.jsonl")],
    ):
        if args[-1].endswith("f/x.jsonl"):
            (tmp_path / "f").write_text("a file where a folder is needed")
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.slow
def test_rl_token_masks_line_up_with_the_embedded_models_tokenization(eval_run, tmp_path):
    from agentopt.export_tokens import Tokenizer

    result, records = export(eval_run, tmp_path, "--format", "rl", "--tokenize")
    assert result.returncode == 0, result.stderr
    assert "observation share" in result.stdout
    with Tokenizer.local(tmp_path / "tok.log") as tok:
        for record in records:
            tokens = record["tokens"]
            text, _ = tok.segments(record["messages"])
            ids = [t["id"] for t in tok.tokenize(text)]
            assert tokens["ids"] == ids
            assert len(tokens["agent_mask"]) == len(tokens["observation_mask"]) == len(ids)
            assert sum(m["n_tokens"] for m in record["messages"]) == len(ids)
            assert not any(a and o for a, o in zip(tokens["agent_mask"], tokens["observation_mask"]))
            agent_text = tok.detokenize([i for i, a in zip(ids, tokens["agent_mask"]) if a])
            for message in record["messages"]:
                if message["side"] == "agent":
                    for call in message["tool_calls"]:
                        assert call["function"]["name"] in agent_text
                        assert json.loads(call["function"]["arguments"])["answer"] in agent_text
            observed = tok.detokenize([i for i, o in zip(ids, tokens["observation_mask"]) if o])
            assert record["messages"][1]["content"][:20] in observed
