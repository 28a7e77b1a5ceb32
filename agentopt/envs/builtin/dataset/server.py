"""`dataset`: a generic single-turn OpenEnv environment over a JSONL file.

Each record is `{"input": ..., "expected": ..., "id"?: ..., "split"?: ...}`; any other
field becomes a prompt variable. The agent answers by calling the one tool, `submit`,
whose parameters are the answer schema: `<dataset>.schema.json` beside the file when it
exists, else `{"answer": string}`. The reward is the share of expected fields the answer
gets right (strings compared trimmed and case-insensitively); the rubric scores the rest.
A record without `expected` gives no reward.

Records without a `split` are assigned one by a stable hash of their id (60/20/20), so a
split never changes when records are added.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastmcp import FastMCP
from fastmcp.tools.base import Tool, ToolResult
from pydantic import PrivateAttr

from agentopt.envs.builtin.common import TaskEnvironment, make_app
from agentopt.envs.builtin.dataset.data import (  # noqa: F401 - the data API, re-exported
    DEFAULT_SCHEMA,
    answer_reward,
    assign_split,
    load_dataset,
    load_schema,
)

SUBMIT_DESCRIPTION = "Submit your final answer. This ends the task."


class SubmitTool(Tool):
    """`submit`, with parameters taken from the dataset's answer schema."""

    _env: Any = PrivateAttr(default=None)

    async def run(self, arguments: dict[str, Any]) -> ToolResult:
        env = self._env
        # A task without `expected` (e.g. an unlabelled one harvested from production) has nothing
        # to compare: no reward, so a rubric's env_reward criterion does not apply to it.
        reward = answer_reward(arguments, env.task["expected"]) if "expected" in env.task else None
        env.finish(reward)
        return ToolResult(content="Answer received.", structured_content={"received": True})


class DatasetEnvironment(TaskEnvironment):
    def __init__(self, tasks: dict[str, list[dict[str, Any]]], schema: dict[str, Any], rubric: Any = None):
        mcp = FastMCP("dataset")
        super().__init__(mcp, tasks, rubric)
        submit = SubmitTool(name="submit", description=SUBMIT_DESCRIPTION, parameters=schema)
        submit._env = self
        mcp.add_tool(submit)

    def start_task(self, task: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        context = {k: v for k, v in task.items() if k not in ("expected",)}
        return str(task["input"]), context


def build_app(path: str | None = None, rubric: str | None = None, **_: Any) -> Any:
    """`rubric`: a YAML rubric whose score becomes the reward (agentopt.openenv.rubric), one per session."""
    if not path:
        raise ValueError("the dataset environment needs a JSONL file: --env dataset:PATH")
    data_path = Path(path)
    tasks = load_dataset(data_path)
    schema = load_schema(data_path)
    if rubric is None:
        return make_app(lambda: DatasetEnvironment(tasks, schema), "dataset")
    from agentopt.openenv import rubric as openenv_rubric
    from agentopt.spec.load import load_rubric

    spec = load_rubric(rubric)  # a bad file stops the server here, not at the first episode
    openenv_rubric(spec)
    return make_app(lambda: DatasetEnvironment(tasks, schema, openenv_rubric(spec)), "dataset")
