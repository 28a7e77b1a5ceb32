"""Sandboxes: the extension point that confines a launched server (`--sandbox NAME`).

A `Sandbox` is a kind of confinement (`local`: namespaces and a new root, `docker`: a
container, `none`: a plain child with a scrubbed environment); `SANDBOXES` holds them, the
built-ins and whatever installed packages declare in the entry-point group
`agentopt.sandboxes`. For each launch a sandbox makes a `Box`: it turns the server's command
into the confined command, gives the loopback port the harness reaches the server on, says
in one line when the box itself (not the server) failed, and cleans up after the stop.
`servers.ServerProcess` is the one place that starts processes; it only talks to a Box. The
registry is in `kinds.py` (it imports the built-ins, which import this module).
`agentopt.testing.sandboxes.SandboxConformance` is the suite every registered one passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agentopt.registry import missing_attributes
from agentopt.sandbox import SandboxConfig


@dataclass(frozen=True)
class Launch:
    """How to start one server: the command, its environment and folder, and the loopback port
    the harness reaches it on once it is healthy."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    port: int


class Box(Protocol):
    """One launch of a server in a sandbox."""

    def prepare(self, argv: list[str], extra_env: dict[str, str]) -> Launch:
        """The confined command for `argv` (a server command that takes `--port N` or `--uds PATH`),
        with `extra_env` added to what the sandbox lets through."""
        ...

    def setup_failure(self, server: str, exit_code: int | None, last_line: str) -> str | None:
        """One line when the process exited because the sandbox could not be set up (never run
        unconfined instead); None when it was the server's own failure."""
        ...

    def exit_reason(self, exit_code: int | None, last_line: str, log: Path) -> str | None:
        """A better account of an exit than its code (e.g. a container killed at its memory
        limit); None for the plain one."""
        ...

    def cleanup(self) -> None:
        """After the process is gone: remove what the launch left (a folder, a relay, a container)."""
        ...


class Sandbox(Protocol):
    """A kind of confinement, named by `--sandbox NAME`."""

    name: str
    summary: str  # one line for --help and docs
    confines: bool  # False only for `none`: the server runs as a plain child

    def preflight(self, config: SandboxConfig) -> str | None:
        """Why this sandbox cannot run here (no engine, not Linux), checked before anything
        starts; None when it can."""
        ...

    def box(self, config: SandboxConfig) -> Box:
        """A new box for one launch."""
        ...


def sandbox_problem(item: object) -> str | None:
    return missing_attributes(item, {"name": str, "summary": str, "confines": bool}, ("preflight", "box"))
