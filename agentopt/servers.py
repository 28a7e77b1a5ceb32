"""The one place that launches a server process on loopback, waits for it, and stops it.

Used for environment servers and for the embedded model server. Each child writes its
output to a log file and is stopped with SIGTERM, then SIGKILL, with its whole process
group. A child launched with a `SandboxConfig` (environment servers, by default) runs
confined (`agentopt/sandbox`): no network, an allow-listed environment, a private
directory, resource limits (or, with mode "docker", a container with no network); it
listens on a Unix socket that a loopback relay exposes as 127.0.0.1:PORT. Other children (the embedded model server) get the host's environment
minus anything that looks like a secret.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from agentopt.errors import InfraError
from agentopt.redact import SECRET_NAME
from agentopt.sandbox import SandboxConfig

PARENT_PID = "AGENTOPT_PARENT_PID"


def exit_with_parent() -> None:
    """In a server we launched: exit when the launching process is gone.

    A child runs in its own process group (so we can stop its whole tree), which also
    means a `kill -9` of agentopt does not reach it; without this watch it would run on
    forever. Servers started by hand (`agentopt env serve`) have no such parent and are
    left alone."""
    parent = os.environ.get(PARENT_PID)
    if not parent:
        return

    def watch() -> None:
        while True:
            try:
                os.kill(int(parent), 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass  # the pid exists (another user's): keep waiting
            time.sleep(0.5)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrubbed_environ(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not SECRET_NAME.search(k)}
    env.update(extra or {})
    return env


LOG_TAIL_BYTES = 64 * 1024  # how much of a log's end is read to find its last line


def last_line(path: Path, limit: int = 300) -> str:
    """The last non-blank line of a log (its first `limit` characters), reading only the
    file's final LOG_TAIL_BYTES: a server may have written gigabytes."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - LOG_TAIL_BYTES))
            tail = handle.read(LOG_TAIL_BYTES)
    except OSError:
        return ""
    lines = [line for line in tail.decode("utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1][:limit] if lines else ""


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"exit code {code}"


class ServerProcess:
    """A child server: `argv` gets `--port N` appended (sandboxed: `--uds PATH`); ready
    when GET health_path is 200."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_path: Path,
        health_path: str = "/health",
        startup_timeout_s: float = 120.0,
        extra_env: dict[str, str] | None = None,
        sandbox: SandboxConfig | None = None,
    ):
        self.name = name
        self.argv = argv
        self.log_path = Path(log_path)
        self.health_path = health_path
        self.startup_timeout_s = startup_timeout_s
        self.extra_env = extra_env
        self.sandbox = sandbox if sandbox is not None and sandbox.enabled else None
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None
        self._box = None  # the LocalSandbox or DockerSandbox of the current launch

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Launch (or, after a crash, relaunch) the server and wait until it is healthy."""
        self.stop()
        extra = {**(self.extra_env or {}), PARENT_PID: str(os.getpid())}
        cwd = None
        if self.sandbox is not None:
            if self.sandbox.mode == "docker":
                from agentopt.sandbox.docker import DockerSandbox as Box
            else:
                from agentopt.sandbox.local import LocalSandbox as Box

            self._box = Box(self.sandbox)
            argv, env, cwd = self._box.command(self.argv, extra)
            self.port = self._box.start_relay()
        else:
            self.port = free_port()
            argv, env = [*self.argv, "--port", str(self.port)], scrubbed_environ(extra)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,  # its own process group: we stop the whole tree
            )
        except OSError as exc:
            self.stop()
            raise InfraError(f"{self.name}: cannot launch {argv[0]}: {exc}") from None
        finally:
            log.close()
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if not self.running:
                self._fail_closed()
                raise InfraError(f"{self.name} exited during start-up ({self.failure_summary()})")
            try:
                if httpx.get(self.url + self.health_path, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise InfraError(f"{self.name} did not answer {self.health_path} within {self.startup_timeout_s:.0f}s (log: {self.log_path})")

    def _last_log_line(self) -> str:
        return last_line(self.log_path)

    def _fail_closed(self) -> None:
        """The sandbox could not be set up: say why in one line, never run unconfined."""
        from agentopt.sandbox.launch import PREFIX, UNAVAILABLE

        if self.sandbox is not None and self.sandbox.mode == "docker":
            self._docker_failed()
        if self.sandbox is None or self._proc is None or self._proc.poll() != UNAVAILABLE:
            return
        reason = self._last_log_line().removeprefix(PREFIX) or "no namespace could be created"
        self.stop()
        raise InfraError(
            f"cannot sandbox the {self.name}: {reason}; pass --no-sandbox to run environment servers without isolation"
        )

    def _docker_failed(self) -> None:
        """`docker run` itself failed (no such image, no engine): one line, and how to fix it."""
        from agentopt.sandbox.docker import DOCKER_RUN_FAILED

        if self._proc is None or self._proc.poll() != DOCKER_RUN_FAILED:
            return
        reason = self._last_log_line() or "docker run failed"
        hint = ""
        if "unable to find image" in reason.lower() or "no such image" in reason.lower():
            hint = f" (build it: docker build -t {self.sandbox.image} -f docker/Dockerfile . ; or set --sandbox-image)"
        self.stop()
        raise InfraError(
            f"cannot sandbox the {self.name} with docker: {reason}{hint}; use --sandbox local or --sandbox none"
        )

    def failure_summary(self) -> str:
        code = self._proc.poll() if self._proc else None
        if code == 137 and self.sandbox is not None and self.sandbox.mode == "docker":
            c = self.sandbox
            return (f"the container was killed by SIGKILL: over its memory limit of {c.memory_mb} MiB or its CPU-time "
                    f"limit of {c.cpu_s} s; last log line: {self._last_log_line()!r}; log: {self.log_path}")
        return f"{describe_exit(code)}; last log line: {self._last_log_line()!r}; log: {self.log_path}"

    def stop(self, grace_s: float = 5.0) -> None:
        box, self._box = self._box, None
        try:
            self._stop_process(grace_s)
        finally:
            if box is not None:
                box.cleanup()

    def _stop_process(self, grace_s: float) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGTERM)
                self._proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
            except ProcessLookupError:
                pass
        self._proc = None


def python_module_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
