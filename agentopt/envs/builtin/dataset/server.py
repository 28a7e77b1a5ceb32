"""`dataset`: a generic single-turn OpenEnv environment over a JSONL file.

Each record is `{"input": ..., "expected": ..., "id"?: ..., "split"?: ...}`; any other
field becomes a prompt variable. The agent answers by calling the one tool, `submit`,
whose parameters are the answer schema: `<dataset>.schema.json` beside the file when it
exists, else `{"answer": string}`. The reward is the share of expected fields the answer
gets right (strings compared trimmed and case-insensitively); the rubric scores the rest.

Records without a `split` are assigned one by a stable hash of their id (60/20/20), so a
split never changes when records are added.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from fastmcp import FastMCP
from fastmcp.tools.base import Tool, ToolResult
from pydantic import PrivateAttr

from agentopt.envs.builtin.common import SPLITS, TaskEnvironment, make_app, read_jsonl

DEFAULT_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "description": "Your final answer."}},
    "required": ["answer"],
    "additionalProperties": False,
}
SUBMIT_DESCRIPTION = "Submit your final answer. This ends the task."


def assign_split(record_id: str) -> str:
    bucket = int(hashlib.sha256(record_id.encode()).hexdigest(), 16) % 10
    return "train" if bucket < 6 else ("val" if bucket < 8 else "test")


def _line_numbers(path: Path) -> list[int]:
    """The file line of each record `read_jsonl` returns (it skips blank lines)."""
    with Path(path).open(encoding="utf-8") as handle:
        return [number for number, line in enumerate(handle, start=1) if line.strip()]


def load_dataset(path: Path) -> dict[str, list[dict[str, Any]]]:
    tasks: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    records = read_jsonl(path)  # bad JSON: ValueError naming file:line
    for number, (line, record) in enumerate(zip(_line_numbers(path), records), start=1):
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{line}: record is not a JSON object")
        if "input" not in record:
            raise ValueError(f"{path}:{line}: record has no 'input' field")
        record = dict(record)
        record.setdefault("id", f"{Path(path).stem}-{number}")  # the record's ordinal: unchanged by blank lines
        record["id"] = str(record["id"])
        split = record.get("split") or assign_split(record["id"])
        if split not in tasks:
            raise ValueError(f"{path}:{line}: split {split!r} is not one of {', '.join(SPLITS)}")
        record["split"] = split
        tasks[split].append(record)
    return tasks


def load_schema(path: Path) -> dict[str, Any]:
    sidecar = Path(path).with_suffix(".schema.json")
    return json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else DEFAULT_SCHEMA


def _norm(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def answer_reward(answer: dict[str, Any], expected: Any) -> float:
    """Share of the expected fields the answer matches."""
    if not isinstance(expected, dict):
        expected = {"answer": expected}
    if not expected:
        return 1.0
    hits = sum(1 for key, want in expected.items() if _norm(answer.get(key)) == _norm(want))
    return hits / len(expected)


class SubmitTool(Tool):
    """`submit`, with parameters taken from the dataset's answer schema."""

    _env: Any = PrivateAttr(default=None)

    async def run(self, arguments: dict[str, Any]) -> ToolResult:
        env = self._env
        reward = answer_reward(arguments, env.task.get("expected"))
        env.finish(reward)
        return ToolResult(content="Answer received.", structured_content={"received": True})


class DatasetEnvironment(TaskEnvironment):
    def __init__(self, tasks: dict[str, list[dict[str, Any]]], schema: dict[str, Any]):
        mcp = FastMCP("dataset")
        super().__init__(mcp, tasks)
        submit = SubmitTool(name="submit", description=SUBMIT_DESCRIPTION, parameters=schema)
        submit._env = self
        mcp.add_tool(submit)

    def start_task(self, task: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        context = {k: v for k, v in task.items() if k not in ("expected",)}
        return str(task["input"]), context


def build_app(path: str | None = None, **_: Any) -> Any:
    if not path:
        raise ValueError("the dataset environment needs a JSONL file: --env dataset:PATH")
    data_path = Path(path)
    tasks = load_dataset(data_path)
    schema = load_schema(data_path)
    return make_app(lambda: DatasetEnvironment(tasks, schema), "dataset")
