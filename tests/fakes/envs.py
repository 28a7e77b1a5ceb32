"""Small OpenEnv environments for tests, served as real server processes by the harness
(`--env tests.fakes.envs:build_counter`).

`counter`: add numbers and report the total; `done(answer)` ends the episode with reward 1
when the answer is right. `crash()` kills the server process; `hang()` never returns.

`probe` (`--env tests.fakes.envs:build_probe`): tools that try what a sandboxed server
must not manage (open TCP connections, read the harness's variables, exhaust memory or
CPU) and report what happened.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from fastmcp import FastMCP

from agentopt.envs.builtin.common import TaskEnvironment, make_app

TASKS = {
    "val": [{"id": f"c{i}", "start": i, "target": i + 5} for i in range(3)],
    "train": [{"id": "c9", "start": 9, "target": 14}],
}


def add_counter_tools(mcp: FastMCP, env: Any) -> None:
    """The counter task's tools on `mcp`: `add(amount)` to `env.total`, `done(answer)` scored
    against the task's target (shared by the counter and the hostile environment)."""

    @mcp.tool
    def add(amount: int) -> str:
        """Add an amount to the running total."""
        env.total += amount
        return f"total is now {env.total}"

    @mcp.tool
    def done(answer: int) -> str:
        """Report the final total. Ends the task."""
        env.finish(1.0 if answer == env.task["target"] else 0.0)
        return "thanks"


class CounterEnvironment(TaskEnvironment):
    def __init__(self) -> None:
        mcp = FastMCP("counter")
        self.total = 0
        add_counter_tools(mcp, self)

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


# --- `probe`: tools that try to escape the sandbox (tests/envs/test_sandbox.py) ---

PROBE_TASKS = {
    # One task per probe; the scripted model reads the prompt and calls the tool it names.
    "probes": [{"id": p, "probe": p} for p in ("connect_host", "connect_external", "read_env", "plain")],
    "limits": [{"id": p, "probe": p} for p in ("hog", "plain", "burn", "plain_after")],
}
MiB = 1024 * 1024


def _connect(host: str, port: int) -> str:
    import socket

    try:
        with socket.create_connection((host, port), timeout=3):
            return f"connected to {host}:{port}"
    except OSError as exc:
        return f"failed to connect to {host}:{port}: {type(exc).__name__}: {exc}"


def _find_in_proc(value: str) -> list[str]:
    """Every /proc/PID/environ (other processes' environments) this process can read that holds `value`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if value.encode() in handle.read():
                    found.append(pid)
        except OSError:
            pass
    return found


class ProbeEnvironment(TaskEnvironment):
    def __init__(self) -> None:
        mcp = FastMCP("probe")

        @mcp.tool
        def connect(host: str, port: int) -> str:
            """Open a TCP connection to host:port."""
            return _connect(host, port)

        @mcp.tool
        def read_env(name: str, value: str = "") -> str:
            """Report an environment variable, and which processes' environments hold `value`."""
            return json.dumps({"value": os.environ.get(name), "in_proc": _find_in_proc(value) if value else []})

        @mcp.tool
        def where() -> str:
            """Report the working directory, HOME, TMPDIR, the limits and the environment's names."""
            import resource

            limits = {k: resource.getrlimit(getattr(resource, k))[0] for k in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_FSIZE")}
            return json.dumps(
                {"cwd": os.getcwd(), "home": os.environ.get("HOME"), "tmp": os.environ.get("TMPDIR"), "limits": limits,
                 "names": sorted(os.environ), "pid": os.getpid(), "uid": os.getuid()}
            )

        @mcp.tool
        def write_file(mb: int) -> str:
            """Write an mb-MiB file in the temporary directory."""
            import tempfile

            try:
                with tempfile.NamedTemporaryFile(dir=os.environ.get("TMPDIR")) as handle:
                    for _ in range(mb):
                        handle.write(b"x" * MiB)
                        handle.flush()
                return f"wrote {mb} MiB"
            except OSError as exc:
                return f"write failed: {type(exc).__name__}: {exc}"

        @mcp.tool
        def allocate_at_once(mb: int) -> str:
            """Allocate mb MiB in one block."""
            block = bytearray(mb * MiB)
            return f"allocated {len(block) // MiB} MiB"

        @mcp.tool
        def hog(mb: int) -> str:
            """Fill memory gradually (16 MiB at a time, touched), up to mb MiB."""
            blocks = []
            for _ in range(mb // 16):
                blocks.append(b"x" * (16 * MiB))
                time.sleep(0.02)
            return f"held {len(blocks) * 16} MiB"

        @mcp.tool
        def burn() -> str:
            """Loop forever on the CPU."""
            while True:
                pass

        @mcp.tool
        def done(answer: str) -> str:
            """End the task."""
            self.finish(1.0)
            return "thanks"

        super().__init__(mcp, PROBE_TASKS)

    def start_task(self, task: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return f"probe: {task['probe']}", {}


def build_probe(**_: Any) -> Any:
    return make_app(ProbeEnvironment, "probe")


# --- `listing` (`--env tests.fakes.envs:build_listing`): the counter task with enough tasks to
# optimize on, and a `list_tasks` tool an agent should not need (tests/optimize/test_search_space_cli.py) ---

LISTING_TASKS = {split: [{"id": f"{split}{i}", "start": i, "target": i + 5} for i in range(n)]
                 for split, n in (("train", 8), ("val", 4), ("test", 4))}


class ListingEnvironment(TaskEnvironment):
    def __init__(self) -> None:
        mcp = FastMCP("listing")
        self.total = 0
        add_counter_tools(mcp, self)

        @mcp.tool
        def list_tasks() -> str:
            """List the id of every task of the environment."""
            return json.dumps([t["id"] for tasks in LISTING_TASKS.values() for t in tasks])

        super().__init__(mcp, LISTING_TASKS)

    def start_task(self, task: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.total = task["start"]
        return f"The total starts at {task['start']}. Add 5, then report the total.", {"start": task["start"]}


def build_listing(**_: Any) -> Any:
    return make_app(ListingEnvironment, "listing")
