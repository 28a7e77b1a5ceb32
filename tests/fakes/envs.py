"""Small OpenEnv environments for tests, served as real server processes by the harness
(`--env tests.fakes.envs:build_counter`).

`counter`: add numbers and report the total; `done(answer)` ends the episode with reward 1
when the answer is right. `crash()` kills the server process; `hang()` never returns.
"""

from __future__ import annotations

import os
import time
from typing import Any

from fastmcp import FastMCP

from agentopt.envs.builtin.common import TaskEnvironment, make_app

TASKS = {
    "val": [{"id": f"c{i}", "start": i, "target": i + 5} for i in range(3)],
    "train": [{"id": "c9", "start": 9, "target": 14}],
}


class CounterEnvironment(TaskEnvironment):
    def __init__(self) -> None:
        mcp = FastMCP("counter")
        self.total = 0

        @mcp.tool
        def add(amount: int) -> str:
            """Add an amount to the running total."""
            self.total += amount
            return f"total is now {self.total}"

        @mcp.tool
        def done(answer: int) -> str:
            """Report the final total. Ends the task."""
            self.finish(1.0 if answer == self.task["target"] else 0.0)
            return "thanks"

        @mcp.tool
        def crash() -> str:
            """Kill the environment server."""
            os._exit(7)

        @mcp.tool
        def hang() -> str:
            """Never return."""
            time.sleep(3600)
            return "unreachable"

        super().__init__(mcp, TASKS)

    def start_task(self, task: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.total = task["start"]
        return f"The total starts at {task['start']}. Add 5, then report the total.", {"start": task["start"]}


def build_counter(**_: Any) -> Any:
    return make_app(CounterEnvironment, "counter")
