"""`--sandbox none`: the server as a plain child on a loopback port, with the host's environment
minus anything that looks like a secret. Also how the embedded model server is launched."""

from __future__ import annotations

import socket
from pathlib import Path

from agentopt.sandbox import SandboxConfig
from agentopt.sandbox.base import Launch
from agentopt.sandbox.environ import scrubbed_environ


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PlainBox:
    def prepare(self, argv: list[str], extra_env: dict[str, str]) -> Launch:
        port = free_port()
        return Launch([*argv, "--port", str(port)], scrubbed_environ(extra_env), None, port)

    def setup_failure(self, server: str, exit_code: int | None, last_line: str) -> str | None:
        return None  # nothing to set up: any exit is the server's own

    def exit_reason(self, exit_code: int | None, last_line: str, log: Path) -> str | None:
        return None

    def cleanup(self) -> None:
        pass


class NoSandbox:
    name = "none"
    summary = "No isolation: a plain child process with the host's environment minus secrets."
    confines = False

    def preflight(self, config: SandboxConfig) -> str | None:
        return None

    def box(self, config: SandboxConfig) -> PlainBox:
        return PlainBox()
