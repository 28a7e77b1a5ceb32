"""One sandboxed launch: its private directory, the launcher's argv, its environment and its relay."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from agentopt.sandbox import SandboxConfig, launch, rootfs
from agentopt.sandbox.base import Launch
from agentopt.sandbox.environ import sandbox_environ
from agentopt.sandbox.launch import PREFIX, UNAVAILABLE
from agentopt.sandbox.relay import UnixRelay

MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes
PRIVATE_PREFIX = "agentopt-env-"


def remove_stale_dirs(parent: str) -> list[str]:
    """Remove the private folders of launches whose harness is gone (a `kill -9` leaves
    them behind): named `agentopt-env-<harness pid>-...`, ours, and that pid not running."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        pid = entry.name.removeprefix(PRIVATE_PREFIX).split("-", 1)[0]
        if not (entry.name.startswith(PRIVATE_PREFIX) and pid.isdigit()) or int(pid) == os.getpid():
            continue
        try:
            if entry.stat(follow_symlinks=False).st_uid != os.geteuid() or not entry.is_dir(follow_symlinks=False):
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
        except OSError:
            continue
    return removed


def _private_dir() -> Path:
    prefix = f"{PRIVATE_PREFIX}{os.getpid()}-"
    for parent in (tempfile.gettempdir(), "/tmp"):  # /tmp when TMPDIR is too long for a socket path
        remove_stale_dirs(parent)
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))  # mode 0700
        if len(str(path / "sock" / "server.sock")) <= MAX_SOCKET_PATH:
            return path
        shutil.rmtree(path, ignore_errors=True)
    return path


class RelayedBox:
    """What the confining boxes share: a private directory holding the server's Unix socket, and
    the loopback relay the harness reaches it through. Subclasses give `command`."""

    def __init__(self, config: SandboxConfig):
        self.config = config
        self.dir = _private_dir()
        self.socket_path = str(self.dir / "server.sock")
        self._relay: UnixRelay | None = None

    def command(self, argv: list[str], extra_env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str], str]:
        raise NotImplementedError

    def prepare(self, argv: list[str], extra_env: dict[str, str]) -> Launch:
        argv, env, cwd = self.command(argv, extra_env)
        return Launch(argv, env, cwd, self.start_relay())

    def start_relay(self) -> int:
        self._relay = UnixRelay(self.socket_path)
        return self._relay.start()

    def setup_failure(self, server: str, exit_code: int | None, last_line: str) -> str | None:
        return None

    def exit_reason(self, exit_code: int | None, last_line: str, log: Path) -> str | None:
        return None

    def cleanup(self) -> None:
        if self._relay is not None:
            self._relay.stop()
            self._relay = None
        shutil.rmtree(self.dir, ignore_errors=True)


def _platform_problem() -> str | None:
    if sys.platform.startswith("linux"):
        return None
    return (f"the environment sandbox needs Linux namespaces (this is {sys.platform}); "
            "pass --no-sandbox to run environment servers without isolation")


class LocalSandbox:
    """`--sandbox local` (the default): Linux namespaces, a new root, an allow-listed environment, limits."""

    name = "local"
    summary = "Linux namespaces: no network, a read-only new root, a private tmpfs, resource limits (the default)."
    confines = True

    def preflight(self, config: SandboxConfig) -> str | None:
        return _platform_problem()

    def box(self, config: SandboxConfig) -> LocalBox:
        return LocalBox(config)


class LocalBox(RelayedBox):
    """The server in its own namespaces and root filesystem, behind the launcher that sets
    its limits."""

    def __init__(self, config: SandboxConfig):
        if problem := _platform_problem():
            from agentopt.errors import InfraError

            raise InfraError(problem)
        super().__init__(config)

    def setup_failure(self, server: str, exit_code: int | None, last_line: str) -> str | None:
        """The launcher exits with UNAVAILABLE when a namespace, the new root or a limit cannot be set."""
        if exit_code != UNAVAILABLE:
            return None
        reason = last_line.removeprefix(PREFIX) or "no namespace could be created"
        return f"cannot sandbox the {server}: {reason}; pass --no-sandbox to run environment servers without isolation"

    def command(self, argv: list[str], extra_env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str], str]:
        # On the host: the folder the new root is built on, and the socket's folder (the one
        # host folder the server may write). Its cwd, HOME and TMPDIR are on a tmpfs that
        # covers this private folder inside its root (rootfs.py).
        home, tmp, work, sock = self.dir / "home", self.dir / "tmp", self.dir / "work", self.dir / "sock"
        for path in (home, tmp, work, sock, self.dir / "root"):
            path.mkdir(mode=0o700)
        self.socket_path = str(sock / "server.sock")
        env = sandbox_environ(str(home), str(tmp), extra_env)
        # The server starts in its private directory, so `module:factory` apps next to the
        # user's files are found through PYTHONPATH; only their packages are mounted.
        pythonpath = [p for p in (env.get("PYTHONPATH", "").split(os.pathsep) + [os.getcwd()]) if p]
        env["PYTHONPATH"] = os.pathsep.join(pythonpath)
        c = self.config
        try:
            plan = rootfs.plan(argv, private_dir=str(self.dir), socket_dir=str(sock), cwd=str(work),
                               disk_mb=c.disk_mb, pythonpath=pythonpath, extra=c.mounts)
        except ValueError as exc:
            from agentopt.errors import InfraError

            raise InfraError(f"cannot sandbox the environment server: {exc}") from None
        launcher = [
            sys.executable, "-I", "-S", launch.__file__,
            "--memory-mb", str(c.memory_mb), "--cpu-s", str(c.cpu_s), "--nproc", str(c.nproc), "--fsize-mb", str(c.fsize_mb),
            "--root-plan", json.dumps(plan), "--",
        ]
        return [*launcher, *argv, "--uds", self.socket_path], env, str(work)
