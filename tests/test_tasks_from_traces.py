"""`agentopt tasks from-traces`: a dataset environment grown from captured production
conversations (the shipped sample logs in both formats), then an agent evaluated on it."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import yaml

from agentopt.envs.builtin.dataset.data import answer_reward
from agentopt.production.tasks import normalise
from tests.conftest import REPO, run_cli, scripted_agent
from tests.fakes.openai_server import Reply, ScriptedLLM, call, last_user_text

CHAT = REPO / "examples" / "production" / "chat-completions.jsonl"
OTEL = REPO / "examples" / "production" / "otel-spans.json"
SECRETS = ["maria.lopez@example.com", "jan.novak@example.org", "7946 0958", "415-555-0132", "sk-live-4f9a8b7c6d5e4f3a2b1c"]


def build(tmp_path: Path, *files: Path, out: str = "prod/tasks.jsonl"):
    return run_cli("tasks", "from-traces", *map(str, files), "--out", out, cwd=tmp_path)


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def triage(text: str) -> dict[str, str]:
    """The scripted agent's triage: keywords, so it is right on some tasks and wrong on others."""
    lower = text.lower()
    category = ("billing" if re.search(r"charged|card|refund", lower) else "technical" if re.search(r"crash|down|api|log in", lower)
                else "shipping" if re.search(r"parcel|tracking|ship|deliver", lower) else "account")
    priority = "high" if re.search(r"down|charged|declined|401", lower) else "medium"
    return {"category": category, "priority": priority}


def triage_model(request: dict) -> Reply:
    return call("submit", triage(last_user_text(request)))


def test_a_dataset_from_both_log_formats_is_redacted_deduplicated_labelled_and_playable(tmp_path):
    result = build(tmp_path, CHAT, OTEL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "read 16 conversations from 2 file(s) (chat, otel)" in result.stdout
    assert "wrote 13 tasks (12 labelled)" in result.stdout and "dropped 3 duplicates (2 identical, 1 near)" in result.stdout
    assert "redacted 3 e-mail addresses, 2 phone numbers, 1 API keys" in result.stdout
    out = tmp_path / "prod" / "tasks.jsonl"
    tasks = read(out)
    inputs = [t["input"] for t in tasks]
    # Ids are the content hash of the normalised request: the same request, the same id.
    for task in tasks:
        assert task["id"] == "p-" + hashlib.sha256(normalise(task["input"]).encode()).hexdigest()[:10]
    assert len({t["id"] for t in tasks}) == len(tasks)
    # Nothing personal or secret reaches any file written.
    written = "".join(p.read_text() for p in (tmp_path / "prod").iterdir())
    for secret in SECRETS:
        assert secret not in written
    assert "[EMAIL]" in written and "[PHONE]" in written and "[REDACTED]" in written
    # The parcel question (asked twice in one conversation, and again in other case and punctuation)
    # is one task; so is the double charge seen in a chat log and, reworded, in a span.
    assert sum("parcel" in i.lower() for i in inputs) == 1
    assert sum("charged twice" in i for i in inputs) == 1
    # Labels: from request metadata (JSON in a string), a top-level correction and span attributes
    # (OTLP's stringValue, the current gen_ai.input.messages and the older gen_ai.prompt.N.*).
    by_start = {t["input"][:30]: t for t in tasks}
    assert by_start["Please call me back on [PHONE]"]["expected"] == {"category": "account", "priority": "medium"}
    assert by_start["The tracking page shows no upd"]["expected"] == {"category": "shipping", "priority": "medium"}
    assert "expected" not in by_start["Where is my parcel? Order A313"]
    assert any(i.startswith("I want a refund for the damaged vase") for i in inputs)  # the last user turn, not "Hello"
    # The answer schema and the draft rubric come from the labels.
    schema = json.loads((tmp_path / "prod" / "tasks.schema.json").read_text())
    assert schema["properties"]["category"]["enum"] == ["account", "billing", "shipping", "technical"]
    rubric = tmp_path / "prod" / "tasks.rubric.yaml"
    criteria = yaml.safe_load(rubric.read_text())["criteria"]
    assert [c["check"]["type"] for c in criteria] == ["env_reward"]  # one task has no label: no per-field equals
    assert run_cli("validate", str(rubric), cwd=tmp_path).returncode == 0
    # The same logs give the same file again.
    again = build(tmp_path, CHAT, OTEL, out="again/tasks.jsonl")
    assert again.returncode == 0 and (tmp_path / "again" / "tasks.jsonl").read_text() == out.read_text()

    # An agent evaluated on it: the score is the share of labelled fields it got right.
    with ScriptedLLM(triage_model) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="triage")
        evaluated = run_cli("eval", str(agent), "-r", str(rubric), "--env", f"dataset:{out}", "--split", "train", "--runs-dir", "runs", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    run = next((tmp_path / "runs").iterdir())
    records = read(run / "traces.jsonl")
    played = {r["trace"]["task_id"]: r for r in records}
    train = {t["id"]: t for t in tasks if t["id"] in played}
    assert len(played) >= 5
    want = []
    for task_id, record in played.items():
        task = train[task_id]
        if "expected" not in task:  # nothing to compare: the episode is not applicable, never a 0
            assert record["score"]["not_applicable"] and record["trace"]["reward"] is None
            continue
        share = answer_reward(triage(task["input"]), task["expected"])
        assert record["trace"]["reward"] == share and record["score"]["score"] == share
        want.append(share)
    assert 0 < min(want) < 1 or 0 < max(want) < 1 or len(set(want)) > 1  # right on some fields, wrong on others
    mean = sum(want) / len(want)
    assert f"Score {mean:.2f}" in evaluated.stdout


def test_bytes_that_are_not_utf8_are_one_line_naming_the_file_and_line(tmp_path):
    log = tmp_path / "bad.jsonl"
    good = CHAT.read_bytes().splitlines(keepends=True)
    log.write_bytes(good[0] + good[1].replace(b"Android", b"Andr\xefid") + good[2])
    result = build(tmp_path, log)
    assert result.returncode == 2
    assert result.stderr.strip() == f"{log}:2: not valid UTF-8 (byte 0xef at column {good[1].index(b'Android') + 5})"


def test_a_broken_json_line_is_one_line_naming_the_file_and_line(tmp_path):
    log = tmp_path / "bad.jsonl"
    lines = CHAT.read_text().splitlines(keepends=True)
    log.write_text(lines[0] + lines[1] + lines[2][: len(lines[2]) // 2] + "\n" + lines[3])
    result = build(tmp_path, log)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(f"{log}:3: not valid JSON")
    assert not (tmp_path / "prod").exists()  # nothing written


def test_a_broken_otlp_document_and_a_foreign_record_name_their_line(tmp_path):
    spans = tmp_path / "spans.json"
    text = OTEL.read_text().splitlines()
    text[20] = text[20].rstrip(",") + " oops,"
    spans.write_text("\n".join(text) + "\n")
    result = build(tmp_path, spans)
    assert result.returncode == 2 and result.stderr.startswith(f"{spans}:21: not valid JSON"), result.stderr
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text(CHAT.read_text().splitlines()[0] + '\n{"prompt": "hello"}\n')
    result = build(tmp_path, foreign)
    assert result.returncode == 2 and result.stderr.startswith(f"{foreign}:2: no request messages"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_otlp_attribute_without_a_text_key_is_left_out():
    from agentopt.production.logs import attributes

    span = {"attributes": [{"value": {"stringValue": "orphan"}}, {"key": 7, "value": {"boolValue": True}},
                           {"key": "gen_ai.prompt.0.content", "value": {"stringValue": "hi"}}]}
    assert attributes(span) == {"gen_ai.prompt.0.content": "hi"}
