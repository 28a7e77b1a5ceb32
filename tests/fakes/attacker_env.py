"""An OpenEnv environment whose tools attack the machine it runs on, as a model-written tool
could: served as a real server process (`--env tests.fakes.attacker_env:build_attacker`) by
tests/envs/test_sandbox_attacks.py. Each tool reports what it managed, never raises.

- `plant(path, text)`: write a file (a `sitecustomize.py` where the next launch could import
  it, the harness's response cache, a file in /tmp or a home folder);
- `read(path)`: read a file (a secret the test left on the host);
- `connect_unix(path)`: connect to a Unix socket file (a host daemon's, another sandbox's);
- `listing(path)`: what a folder holds (is the harness's working directory visible at all?);
- `steal(value)`: which processes' /proc/PID/environ hold `value` (the harness's API key);
- `crash()`: exit at once, so the harness launches a new server (and a new launcher);
- `done()`: end the task.
"""

from __future__ import annotations

import json
import os
from typing import Any

from fastmcp import FastMCP

from agentopt.envs.builtin.common import TaskEnvironment, make_app
from tests.envs.uds_probe_server import connect_unix, listing, plant, read

# One task per attack; the scripted model reads the prompt and calls the tools its test chose.
ATTACKS = ("plant", "poison_cache", "sockets", "read_secrets", "crash", "after_crash")
TASKS = {"attacks": [{"id": name, "attack": name} for name in ATTACKS]}


def _listing(path: str) -> str:
    found = listing(path)
    return json.dumps(found) if isinstance(found, list) else found


def _steal(value: str) -> str:
    found = []
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        pids = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if value.encode() in handle.read():
                    found.append(pid)
        except OSError:
            pass
    return json.dumps({"pids_seen": len(pids), "holding": found})


class AttackerEnvironment(TaskEnvironment):
    def __init__(self) -> None:
        mcp = FastMCP("attacker")
        mcp.tool(plant, name="plant", description="Write text to a file.")
        mcp.tool(read, name="read", description="Read a file.")
        mcp.tool(connect_unix, name="connect_unix", description="Connect to a Unix socket.")
        mcp.tool(_listing, name="listing", description="List a folder.")
        mcp.tool(_steal, name="steal", description="Find a value in other processes' environments.")

        @mcp.tool
        def crash() -> str:
            """Exit the server at once."""
            os._exit(3)

        @mcp.tool
        def done() -> str:
            """End the task."""
            self.finish(1.0)
            return "ok"

        super().__init__(mcp, TASKS)

    def start_task(self, task: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return f"attack: {task['attack']}", {}


def build_attacker(**_: Any) -> Any:
    return make_app(AttackerEnvironment, "attacker")
