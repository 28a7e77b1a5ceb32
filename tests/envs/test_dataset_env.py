"""The `dataset` environment: loading a JSONL file, splits, the answer schema, the reward,
and one round trip through a real server process over OpenEnv (Task API + WebSocket)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from agentopt.envs.builtin.dataset.data import (
    DEFAULT_SCHEMA,
    answer_reward,
    assign_split,
    load_dataset,
    load_schema,
)
from agentopt.envs.session import RunningEnv, parse_env
from agentopt.errors import ValidationError
from tests.conftest import REPO


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


# --- load_dataset ---


def test_explicit_split_is_kept_and_ids_are_strings(tmp_path):
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [
            {"id": "a", "split": "test", "input": "one", "expected": "1"},
            {"id": 7, "split": "train", "input": "two", "expected": "2", "topic": "math"},
            {"split": "val", "input": "three"},
        ],
    )
    tasks = load_dataset(path)
    assert set(tasks) == {"train", "val", "test"}
    assert [t["id"] for t in tasks["test"]] == ["a"]
    assert tasks["train"] == [{"id": "7", "split": "train", "input": "two", "expected": "2", "topic": "math"}]
    # no id: the file's stem and the record's ordinal
    assert [t["id"] for t in tasks["val"]] == ["d-3"]


def test_missing_split_is_assigned_by_a_stable_hash_of_the_id(tmp_path):
    ids = ["q1", "q2", "q3", "alpha", "beta", "r-1", "r-2"]
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": i, "input": f"question {i}"} for i in ids])
    tasks = load_dataset(path)
    placed = {t["id"]: split for split, rows in tasks.items() for t in rows}
    assert placed == {i: assign_split(i) for i in ids}
    # Golden values: a SHA-256 bucket, not Python's per-process salted hash(), so a
    # record lands in the same split on every run and every machine.
    assert placed == {"q1": "train", "q2": "train", "q3": "test", "alpha": "test", "beta": "test", "r-1": "val", "r-2": "test"}
    assert all(t["split"] == split for split, rows in tasks.items() for t in rows)
    # Adding records (before, after) never moves an existing one.
    more = write_jsonl(
        tmp_path / "more.jsonl",
        [{"id": "new-0", "input": "x"}] + [{"id": i, "input": f"question {i}"} for i in ids] + [{"id": "new-1", "input": "y"}],
    )
    placed_again = {t["id"]: split for split, rows in load_dataset(more).items() for t in rows}
    assert {i: placed_again[i] for i in ids} == placed


def test_hash_split_is_roughly_60_20_20():
    splits = [assign_split(f"record-{i}") for i in range(3000)]
    shares = {s: splits.count(s) / len(splits) for s in ("train", "val", "test")}
    assert abs(shares["train"] - 0.6) < 0.05
    assert abs(shares["val"] - 0.2) < 0.05
    assert abs(shares["test"] - 0.2) < 0.05


def test_record_without_input_names_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "input": "ok"}, "", "", {"id": "b", "expected": "x"}])
    with pytest.raises(ValueError) as info:
        load_dataset(path)
    # line 4 of the file (blank lines count), not the 2nd record
    assert f"{path}:4:" in str(info.value)
    assert "input" in str(info.value)


def test_bad_json_line_names_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "input": "ok"}, '{"id": "b", "input": '])
    with pytest.raises(ValueError) as info:
        load_dataset(path)
    assert f"{path}:2:" in str(info.value)
    assert "JSON" in str(info.value)


def test_record_that_is_not_an_object_names_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "input": "ok"}, "5"])
    with pytest.raises(ValueError, match=re.escape(f"{path}:2: record is not a JSON object")):
        load_dataset(path)


def test_unknown_split_is_rejected_with_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "input": "ok", "split": "dev"}])
    with pytest.raises(ValueError, match=re.escape(f"{path}:1: split 'dev'")):
        load_dataset(path)


# --- load_schema ---


def test_sidecar_schema_is_used_when_present(tmp_path):
    data = write_jsonl(tmp_path / "tickets.jsonl", [{"input": "x"}])
    schema = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
    (tmp_path / "tickets.schema.json").write_text(json.dumps(schema), encoding="utf-8")
    assert load_schema(data) == schema


def test_default_schema_without_sidecar(tmp_path):
    data = write_jsonl(tmp_path / "qa.jsonl", [{"input": "x"}])
    (tmp_path / "other.schema.json").write_text('{"type": "object"}', encoding="utf-8")  # not this file's sidecar
    schema = load_schema(data)
    assert schema == DEFAULT_SCHEMA
    assert schema["required"] == ["answer"] and schema["properties"]["answer"]["type"] == "string"


def test_broken_sidecar_schema_names_the_sidecar(tmp_path):
    data = write_jsonl(tmp_path / "qa.jsonl", [{"input": "x"}])
    sidecar = tmp_path / "qa.schema.json"
    sidecar.write_text('{\n  "type": "object",\n  "properties": \n}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{sidecar}:4: not valid JSON")):
        load_schema(data)
    sidecar.write_text('{"type": "string"}', encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{sidecar}:1:") + ".*object"):
        load_schema(data)


def test_parse_env_reports_a_broken_dataset_as_file_and_line(tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", [{"input": "x"}])
    assert parse_env(f"dataset:{good}").options == {"path": str(good.resolve())}
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"input": "x"}, {"id": "no-input"}])
    with pytest.raises(ValidationError) as info:
        parse_env(f"dataset:{bad}")
    assert f"{bad}:2:" in str(info.value) and "input" in str(info.value)


# --- answer_reward ---


def test_reward_is_the_share_of_expected_fields_right():
    expected = {"label": "Billing", "priority": "high", "team": "finance"}
    assert answer_reward({"label": "billing", "priority": "high", "team": "finance"}, expected) == 1.0
    assert answer_reward({"label": "  BILLING ", "priority": "low", "team": "finance"}, expected) == pytest.approx(2 / 3)
    assert answer_reward({"label": "shipping"}, expected) == 0.0
    assert answer_reward({}, expected) == 0.0
    # other values compare as their text, so 4 and True still match themselves
    assert answer_reward({"n": 4, "ok": True}, {"n": 4, "ok": True}) == 1.0
    assert answer_reward({"n": 5, "ok": True}, {"n": 4, "ok": True}) == 0.5


def test_string_expected_is_compared_with_the_answer_field():
    assert answer_reward({"answer": " paris"}, "Paris") == 1.0
    assert answer_reward({"answer": "Lyon"}, "Paris") == 0.0


def test_a_numeric_expected_value_matches_the_same_number_as_text():
    assert answer_reward({"answer": "4"}, 4) == 1.0
    assert answer_reward({"answer": " 4 "}, "4") == 1.0
    assert answer_reward({"answer": "5"}, 4) == 0.0
    assert answer_reward({}, 4) == 0.0
    assert answer_reward({"label": "Paris"}, "Paris") == 0.0  # only `answer` counts


# --- a real server round trip ---


async def test_round_trip_through_a_real_dataset_server(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    data = write_jsonl(
        tmp_path / "tickets.jsonl",
        [
            {"id": "t1", "split": "val", "input": "I was charged twice.", "expected": {"label": "billing", "priority": "high"}, "customer": "Ann"},
            {"id": "t2", "split": "val", "input": "Where is my parcel?", "expected": {"label": "shipping", "priority": "low"}},
            {"id": "t3", "split": "train", "input": "Reset my password.", "expected": {"label": "account", "priority": "low"}},
        ],
    )
    schema = {
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": ["billing", "shipping", "account"]},
            "priority": {"type": "string", "enum": ["low", "high"]},
        },
        "required": ["label", "priority"],
        "additionalProperties": False,
    }
    (tmp_path / "tickets.schema.json").write_text(json.dumps(schema), encoding="utf-8")

    env = RunningEnv(parse_env(f"dataset:{data}"), log_dir=tmp_path / "logs", step_timeout_s=10)
    env.start()
    try:
        tasks = env.tasks("val")
        assert [t["id"] for t in tasks] == ["t1", "t2"]
        assert tasks[0]["input"] == "I was charged twice."
        assert [t["id"] for t in env.tasks("train")] == ["t3"]

        async with env.session() as session:
            reset = await session.reset("val", 0)
            assert reset.prompt == "I was charged twice."
            assert reset.context["customer"] == "Ann" and reset.context["id"] == "t1"
            assert "expected" not in reset.context  # the answer never reaches the prompt variables

            tools = await session.tools()
            assert [t.name for t in tools] == ["submit"]
            assert tools[0].input_schema == schema
            assert "ends the task" in tools[0].description

            outcome = await session.call_tool("submit", {"label": "Billing", "priority": "low"})
            assert outcome.error is None
            assert outcome.done is True
            assert outcome.reward == 0.5
            assert "Answer received" in outcome.text

        # a second session on the other task, fully right
        async with env.session() as session:
            await session.reset("val", 1)
            outcome = await session.call_tool("submit", {"label": "shipping", "priority": "low"})
            assert outcome.done is True and outcome.reward == 1.0
    finally:
        env.stop()
