"""One sandboxed launch: its private directory, the launcher's argv, its environment and its relay."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from agentopt.sandbox import SandboxConfig, launch, rootfs
from agentopt.sandbox.environ import sandbox_environ
from agentopt.sandbox.launch import PREFIX, UNAVAILABLE  # noqa: F401 - re-exported for servers.py
from agentopt.sandbox.relay import UnixRelay

MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes
PRIVATE_PREFIX = "agentopt-env-"


def remove_stale_dirs(parent: str) -> list[str]:
    """Remove the private folders of launches whose harness is gone (a `kill -9` leaves
    them behind): named `agentopt-env-<harness pid>-...`, ours, and that pid not running."""
    removed = []
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
    """The server in its own namespaces and root filesystem, behind the launcher that sets
    its limits."""

    def __init__(self, config: SandboxConfig):
        if not sys.platform.startswith("linux"):
            from agentopt.errors import InfraError

            raise InfraError(
                f"the environment sandbox needs Linux namespaces (this is {sys.platform}); "
                "pass --no-sandbox to run environment servers without isolation"
            )
        super().__init__(config)

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
