"""Dataset files a user gets wrong: bytes that are not UTF-8 and task ids used twice.

Each is one `FILE:LINE: ...` line and exit 2 from the real CLI, found before any
environment server or model starts; the standalone server refuses the same file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentopt.envs.builtin.dataset.data import load_dataset
from agentopt.envs.builtin.jsonl import DataError
from tests.conftest import run_cli, write


def rubric(tmp_path: Path) -> Path:
    return write(tmp_path / "rubric.yaml", """
        name: r
        criteria:
          - id: c
            description: d
            check: {type: env_reward}
        """)


def agent(tmp_path: Path) -> Path:
    # A model URL nothing listens on: the command must stop before any model call.
    return write(tmp_path / "agent.yaml", """
        name: qa
        model: openai/scripted
        model_params: {api_base: "http://127.0.0.1:9/v1"}
        system_prompt: Answer.
        """)


def assert_one_line_exit_2(result, expected: str, tmp_path: Path) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0], lines[0]
    assert not (tmp_path / "runs").exists()  # refused before a run folder or a server


def test_invalid_utf8_names_file_line_byte_and_column(tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_bytes(b'{"id": "a", "input": "ok"}\n{"id": "b", "input": "caf\xe9"}\n')
    with pytest.raises(DataError) as caught:
        load_dataset(data)
    assert str(caught.value) == f"{data}:2: not valid UTF-8 (byte 0xe9 at column 26)"


@pytest.mark.parametrize("command", ["eval", "run"])
def test_cli_rejects_invalid_utf8_with_one_line_and_exit_2(tmp_path, command):
    data = tmp_path / "bad.jsonl"
    data.write_bytes(b'{"id": "a", "input": "ok", "split": "val"}\n\n{"id": "b", "input": "\xff\xfe"}\n')
    result = run_cli(command, str(agent(tmp_path)), "--rubric", str(rubric(tmp_path)), "--env", f"dataset:{data}",
                     "--runs-dir", "runs", cwd=tmp_path, timeout=120)
    assert_one_line_exit_2(result, "bad.jsonl:3", tmp_path)
    assert "not valid UTF-8 (byte 0xff at column 23)" in result.stderr


def test_env_serve_refuses_invalid_utf8_with_one_line(tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_bytes(b'{"id": "a", "input": "\xc3("}\n')
    result = run_cli("env", "serve", "dataset", f"path={data}", "--port", "9", cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: {data}:1: not valid UTF-8 (byte 0xc3 at column 23)"


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    data = tmp_path / "bom.jsonl"
    data.write_bytes(b'\xef\xbb\xbf{"id": "a", "split": "val", "input": "caf\xc3\xa9"}\n')
    assert load_dataset(data)["val"] == [{"id": "a", "split": "val", "input": "café"}]


def test_duplicate_task_id_names_both_lines(tmp_path):
    data = tmp_path / "dup.jsonl"
    rows = [{"id": "x", "input": "one"}, {"id": "y", "input": "two"}, {"id": "x", "input": "three"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load_dataset(data)
    assert str(caught.value) == f"{data}:3: task id 'x' already used on line 1"


def test_ids_that_are_equal_as_text_are_duplicates(tmp_path):
    # 7 and "7" are the same task id once read (ids are strings), and so is a given id equal to a default one.
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": 7, "input": "a"}\n{"id": "7", "input": "b"}\n', encoding="utf-8")
    with pytest.raises(DataError, match="d.jsonl:2: task id '7' already used on line 1"):
        load_dataset(data)
    data.write_text('{"input": "a"}\n{"id": "d-1", "input": "b"}\n', encoding="utf-8")
    with pytest.raises(DataError, match="d.jsonl:2: task id 'd-1' already used on line 1"):
        load_dataset(data)


@pytest.mark.parametrize("command", ["eval", "run"])
def test_cli_rejects_duplicate_task_ids_with_one_line_and_exit_2(tmp_path, command):
    data = tmp_path / "dup.jsonl"
    rows = [{"id": "q1", "split": "val", "input": "a"}, {"id": "q2", "split": "train", "input": "b"},
            {"id": "q1", "split": "train", "input": "c"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run_cli(command, str(agent(tmp_path)), "--rubric", str(rubric(tmp_path)), "--env", f"dataset:{data}",
                     "--runs-dir", "runs", cwd=tmp_path, timeout=120)
    assert_one_line_exit_2(result, "dup.jsonl:3", tmp_path)
    assert "task id 'q1' already used on line 1" in result.stderr


def test_invalid_utf8_in_the_answer_schema_names_the_sidecar_line_and_column(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "a", "split": "val", "input": "x"}\n', encoding="utf-8")
    (tmp_path / "d.schema.json").write_bytes(b'{"type": "object",\n "description": "bad \x80"}\n')
    result = run_cli("eval", str(agent(tmp_path)), "--rubric", str(rubric(tmp_path)), "--env", f"dataset:{data}",
                     "--runs-dir", "runs", cwd=tmp_path, timeout=120)
    assert_one_line_exit_2(result, "d.schema.json:2", tmp_path)
    assert "not valid UTF-8 (byte 0x80 at column 22)" in result.stderr
