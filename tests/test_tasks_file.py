"""`--tasks FILE`: reset arguments per split for an environment that takes its task in
reset (an OpenEnv MCP server without the Task API), with `--repeat`; mistakes are FILE:LINE, exit 2."""

from __future__ import annotations

import json

from tests.conftest import write
from tests.envs.test_no_task_api import eval_cli, newest_summary
from tests.fakes.openai_server import Reply, ScriptedLLM, call, last_user_text
from tests.fakes.openenv_plain import TASKS, PlainEnv


def knower(request: dict) -> Reply:
    question = last_user_text(request)
    return call("answer", {"value": next(a for q, a in TASKS.values() if q in question)})


TASKS_JSONL = (
    '{"split": "val", "reset": {"task_id": "t1"}}\n'
    '{"split": "val", "reset": {"task_id": "t2"}}\n'
    "\n"
    '{"split": "test", "id": "sky", "reset": {"task_id": "t3"}}\n'
)


def test_a_tasks_file_resets_each_episode_with_its_arguments_and_repeats_get_their_own_seeds(tmp_path):
    tasks = write(tmp_path / "tasks.jsonl", TASKS_JSONL)
    with ScriptedLLM(knower) as llm, PlainEnv("tasks", task_api=False) as env:
        result = eval_cli(tmp_path, llm, env.url, "--tasks", str(tasks), "--split", "val", "--repeat", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(r["task_id"] for r in env.resets) == ["t1", "t1", "t2", "t2"]
    assert len({r["seed"] for r in env.resets}) == 4  # each repeat its own seed
    run, summary = newest_summary(tmp_path)
    records = [json.loads(line)["trace"] for line in (run / "traces.jsonl").read_text().splitlines()]
    assert sorted(r["task_id"] for r in records) == ["t1", "t1#r1", "t2", "t2#r1"]
    assert summary["summary"]["mean"] == 1.0 and summary["summary"]["n_errors"] == 0
    assert summary["tasks"]["source"] == "tasks_file" and summary["tasks"]["repeat"] == 2


def test_a_yaml_tasks_file_and_the_splits_it_has(tmp_path):
    tasks = write(tmp_path / "tasks.yaml", """
        - split: test
          id: sky
          reset: {task_id: t3}
        """)
    with ScriptedLLM(knower) as llm, PlainEnv("tasks", task_api=False) as env:
        ok = eval_cli(tmp_path, llm, env.url, "--tasks", str(tasks), "--split", "test")
        wrong = eval_cli(tmp_path, llm, env.url, "--tasks", str(tasks), "--split", "val")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert [r["task_id"] for r in env.resets] == ["t3"]
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines() == [f"error: --split 'val': --tasks {tasks} has no such split; it has: test"]


def test_mistakes_in_a_tasks_file_are_file_line_and_exit_2(tmp_path):
    bad = write(tmp_path / "bad.jsonl", '{"split": "val", "reset": {"task_id": "t1"}}\n{"split": "val", "reset": "t2"}\nnot json\n')
    result = eval_cli(tmp_path, ScriptedLLM(knower), "http://127.0.0.1:9", "--tasks", str(bad))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"{bad}:3: not a JSON object: Expecting value: line 1 column 1 (char 0)"], lines
    bad.write_text('{"split": "val", "reset": "t2"}\n{"split": 3}\n', encoding="utf-8")
    result = eval_cli(tmp_path, ScriptedLLM(knower), "http://127.0.0.1:9", "--tasks", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{bad}:1: reset: is an object of reset arguments, e.g. {{\"task_id\": \"t3\"}}",
        f"{bad}:2: split: needs a split name, e.g. \"val\"",
    ]
    assert not (tmp_path / "runs").exists()  # refused before any run folder
