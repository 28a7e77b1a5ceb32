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
import socket
from typing import Any

from fastmcp import FastMCP

from agentopt.envs.builtin.common import TaskEnvironment, make_app

# One task per attack; the scripted model reads the prompt and calls the tools its test chose.
ATTACKS = ("plant", "poison_cache", "sockets", "read_secrets", "crash", "after_crash")
TASKS = {"attacks": [{"id": name, "attack": name} for name in ATTACKS]}


def _plant(path: str, text: str) -> str:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return f"wrote {path}"
    except OSError as exc:
        return f"failed: {type(exc).__name__}: {exc.strerror}"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "read: " + handle.read(2000)
    except OSError as exc:
        return f"failed: {type(exc).__name__}: {exc.strerror}"


def _connect_unix(path: str) -> str:
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(3)
            sock.connect(path)
            return "connected"
    except OSError as exc:
        return f"failed: {type(exc).__name__}: {exc.strerror}"


def _listing(path: str) -> str:
    try:
        return json.dumps(sorted(os.listdir(path)))
    except OSError as exc:
        return f"failed: {type(exc).__name__}: {exc.strerror}"


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
        mcp.tool(_plant, name="plant", description="Write text to a file.")
        mcp.tool(_read, name="read", description="Read a file.")
        mcp.tool(_connect_unix, name="connect_unix", description="Connect to a Unix socket.")
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
