"""An OpenEnv environment whose tools attack the harness's resources rather than the
sandbox: served as a real server process (`--env tests.fakes.hostile_env:build_hostile`).

- `wedge()`: an async tool that blocks the server's event loop for good (`time.sleep` in
  `async def`): the server stops answering everything, /health included, but does not exit;
- `spin()`: the same with a busy loop;
- `slow(seconds)`: a slow tool on a worker thread (the server still answers /health);
- `flood(chars)`: a tool result of `chars` characters (a marker at each end);
- `add` / `done`: an ordinary task, to show the next episodes still work.
"""

from __future__ import annotations

import time
from typing import Any

from fastmcp import FastMCP

from agentopt.envs.builtin.common import TaskEnvironment, make_app
from tests.fakes.envs import add_counter_tools

TASKS = {"val": [{"id": f"h{i}", "start": i, "target": i + 5} for i in range(4)]}
HEAD, TAIL = "<<BEGIN>>", "<<END>>"


def flood_text(chars: int) -> str:
    body = max(0, chars - len(HEAD) - len(TAIL))
    return HEAD + ("0123456789" * (body // 10 + 1))[:body] + TAIL


class HostileEnvironment(TaskEnvironment):
    def __init__(self) -> None:
        mcp = FastMCP("hostile")
        self.total = 0
        add_counter_tools(mcp, self)

        @mcp.tool
        async def wedge() -> str:
            """Block the server's event loop for good."""
            time.sleep(10**6)
            return "unreachable"

        @mcp.tool
        async def spin() -> str:
            """Busy-loop on the server's event loop for good."""
            while True:
                pass

        @mcp.tool
        def slow(seconds: float) -> str:
            """Take `seconds` to answer, on a worker thread: the server stays responsive."""
            time.sleep(seconds)
            return "slept"

        @mcp.tool
        def flood(chars: int) -> str:
            """Return a result of `chars` characters."""
            return flood_text(chars)

        super().__init__(mcp, TASKS)

    def start_task(self, task: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.total = task["start"]
        return f"The total starts at {task['start']}. Add 5, then report the total.", {"start": task["start"]}


def build_hostile(**_: Any) -> Any:
    return make_app(HostileEnvironment, "hostile")
