"""The one place that launches a server process on loopback, waits for it, and stops it.

Used for environment servers and for the embedded model server. Each child writes its
output to a log file and is stopped with SIGTERM, then SIGKILL, with its whole process
group. How a child is confined is its sandbox's business (`agentopt.sandbox.base`: `local`
namespaces by default for environment servers, a `docker` container, or `none`, which the
embedded model server uses: the host's environment minus anything that looks like a secret);
this module only asks the sandbox's box for the command, the port, and what a failed start means.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from agentopt.errors import InfraError
from agentopt.sandbox import NO_SANDBOX, SandboxConfig
from agentopt.sandbox.base import Box
from agentopt.sandbox.environ import scrubbed_environ  # noqa: F401 - where callers found it
from agentopt.sandbox.kinds import sandbox_for
from agentopt.sandbox.none import free_port  # noqa: F401 - where callers found it

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
        self.sandbox = sandbox if sandbox is not None else NO_SANDBOX  # agentopt.sandbox.base: local, docker, none, or a plug-in
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None
        self._box: Box | None = None  # the sandbox's box of the current launch

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
        self._box = sandbox_for(self.sandbox.mode).box(self.sandbox)
        try:
            launch = self._box.prepare(self.argv, extra)
        except BaseException:
            self.stop()
            raise
        argv, env, cwd, self.port = launch.argv, launch.env, launch.cwd, launch.port
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
        if self._box is None or self._proc is None:
            return
        reason = self._box.setup_failure(self.name, self._proc.poll(), self._last_log_line())
        if reason:
            self.stop()
            raise InfraError(reason)

    def failure_summary(self) -> str:
        code = self._proc.poll() if self._proc else None
        if self._box is not None and (reason := self._box.exit_reason(code, self._last_log_line(), self.log_path)):
            return reason
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
