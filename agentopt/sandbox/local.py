"""One sandboxed launch: its private directory, the launcher's argv, its environment and its relay."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from agentopt.sandbox import SandboxConfig
from agentopt.sandbox.environ import sandbox_environ
from agentopt.sandbox.launch import PREFIX, UNAVAILABLE  # noqa: F401 - re-exported for servers.py
from agentopt.sandbox.relay import UnixRelay

MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes


def _private_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="agentopt-env-"))  # mode 0700
    if len(str(path / "server.sock")) > MAX_SOCKET_PATH:  # a very long TMPDIR
        shutil.rmtree(path, ignore_errors=True)
        path = Path(tempfile.mkdtemp(prefix="agentopt-env-", dir="/tmp"))
    return path


class RelayedSandbox:
    """What every sandbox shares: a private directory holding the server's Unix socket, and
    the loopback relay the harness reaches it through.

    `argv, env, cwd = box.command(argv, extra_env)`; `port = box.start_relay()`; `box.cleanup()`."""

    def __init__(self, config: SandboxConfig):
        self.config = config
        self.dir = _private_dir()
        self.socket_path = str(self.dir / "server.sock")
        self._relay: UnixRelay | None = None

    def start_relay(self) -> int:
        self._relay = UnixRelay(self.socket_path)
        return self._relay.start()

    def cleanup(self) -> None:
        if self._relay is not None:
            self._relay.stop()
            self._relay = None
        shutil.rmtree(self.dir, ignore_errors=True)


class LocalSandbox(RelayedSandbox):
    """The server in its own namespaces, behind the launcher that sets its limits."""

    def __init__(self, config: SandboxConfig):
        if not sys.platform.startswith("linux"):
            from agentopt.errors import InfraError

            raise InfraError(
                f"the environment sandbox needs Linux namespaces (this is {sys.platform}); "
                "pass --no-sandbox to run environment servers without isolation"
            )
        super().__init__(config)

    def command(self, argv: list[str], extra_env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str], str]:
        home, tmp, work = self.dir / "home", self.dir / "tmp", self.dir / "work"
        for path in (home, tmp, work):
            path.mkdir(mode=0o700)
        env = sandbox_environ(str(home), str(tmp), extra_env)
        # The server starts in its private directory, so `module:factory` apps next to the
        # user's files are found through PYTHONPATH rather than the working directory.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), os.getcwd()) if p)
        c = self.config
        launcher = [
            sys.executable, "-m", "agentopt.sandbox.launch",
            "--memory-mb", str(c.memory_mb), "--cpu-s", str(c.cpu_s), "--nproc", str(c.nproc), "--fsize-mb", str(c.fsize_mb),
            "--",
        ]
        return [*launcher, *argv, "--uds", self.socket_path], env, str(work)
