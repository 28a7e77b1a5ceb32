"""A second virtualenv with the OLD `openenv-core==0.3.*`, and servers run by its python.

Most published OpenEnv environments still pin `openenv-core` 0.3, whose wheel installs the
same `openenv` import package as the `openenv` 0.10 that agentopt uses: the two can never
share a virtualenv. So the test suite builds a second one, once per machine, in
`<repo>/.venv-openenv-core-0.3` (ignored by git), and reuses it while its stamp file (written
last, after a successful install and an import check) matches what is asked for. An
interrupted or failed build has no stamp and is rebuilt from scratch next time.

Why a pytest fixture rather than a Makefile prerequisite: `pytest tests/envs/...` on a fresh
clone works on its own, the ~30-90 s install is only paid by the tests that need it, and a
machine without PyPI fails those tests with one line instead of failing `make` before any
test runs. No network is not a reason to skip: the fixture fails.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from agentopt.servers import free_port

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = ["openenv-core==0.3.*", "uvicorn"]
VENV = Path(os.environ.get("AGENTOPT_OLD_CORE_VENV", REPO / ".venv-openenv-core-0.3"))
STAMP_NAME = ".agentopt-complete"
PIP_TIMEOUT_S = 900  # the whole install; a dead index fails long before (pip's own timeouts below)


STATUS: list[str] = []  # what ensure_old_core_venv did, for the end of pytest's report


class OldCoreVenvError(Exception):
    """The old-core virtualenv could not be built; the message is one line."""


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _wanted() -> dict[str, object]:
    return {"requirements": REQUIREMENTS, "base_python": os.path.realpath(sys._base_executable)}


def _complete(venv: Path) -> bool:
    stamp = venv / STAMP_NAME
    if not stamp.is_file() or not _python(venv).exists():
        return False
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return {k: recorded.get(k) for k in _wanted()} == _wanted()


def _last_error_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("ERROR:") or "Error" in line:
            return line[:300]
    return lines[-1][:300] if lines else "(no output)"


def ensure_old_core_venv(venv: Path = VENV, status: list[str] | None = None) -> Path:
    """The virtualenv's folder, built if needed. Raises OldCoreVenvError (one line) on failure.
    Appends to `status` one line saying whether it was reused or built, and in how long."""
    status = [] if status is None else status
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{venv}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two pytest processes never build it at once
        if _complete(venv):
            status.append(f"openenv-core 0.3 virtualenv: reused {venv}")
            return venv
        started = time.monotonic()
        shutil.rmtree(venv, ignore_errors=True)
        made = subprocess.run([sys._base_executable, "-m", "venv", str(venv)], capture_output=True, text=True)
        if made.returncode != 0:
            raise OldCoreVenvError(f"python -m venv {venv} failed: {_last_error_line(made.stderr + made.stdout)}")
        log_path = venv / "install.log"
        try:
            pip = subprocess.run(
                [str(_python(venv)), "-m", "pip", "install", "--disable-pip-version-check", "--timeout", "30",
                 "--retries", "2", *REQUIREMENTS],
                capture_output=True, text=True, timeout=PIP_TIMEOUT_S,
            )
            output, code = pip.stdout + pip.stderr, pip.returncode
        except subprocess.TimeoutExpired as exc:
            output, code = f"{exc.stdout or ''}{exc.stderr or ''}\nERROR: pip took over {PIP_TIMEOUT_S} s", -1
        log_path.write_text(output if isinstance(output, str) else str(output), encoding="utf-8")
        if code != 0:
            raise OldCoreVenvError(
                f"pip install {' '.join(REQUIREMENTS)} into {venv} failed (is PyPI reachable?): "
                f"{_last_error_line(output)} (full log: {log_path})"
            )
        check = subprocess.run(
            [str(_python(venv)), "-c",
             "import importlib.metadata as m, openenv.core.env_server.http_server; print(m.version('openenv-core'))"],
            capture_output=True, text=True,
        )
        version = check.stdout.strip()
        if check.returncode != 0 or not version.startswith("0.3."):
            raise OldCoreVenvError(f"{venv}: openenv-core 0.3 does not import: {_last_error_line(check.stderr) or version}")
        took = time.monotonic() - started
        (venv / STAMP_NAME).write_text(
            json.dumps({**_wanted(), "openenv_core": version, "build_seconds": round(took, 1)}), encoding="utf-8"
        )
        status.append(f"openenv-core 0.3 virtualenv: built {venv} (openenv-core {version}) in {took:.1f} s")
        return venv


@dataclass
class OldCoreServer:
    """A server process run by the old virtualenv's python, on a free loopback port."""

    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_old_core_server(venv: Path, script: Path, log_path: Path, *args: str, timeout_s: float = 60) -> OldCoreServer:
    """Run `<venv>/bin/python script --port N *args` and wait until GET /health answers 200."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [str(_python(venv)), str(Path(script).resolve()), "--port", str(port), *args],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(log_path.parent),
        )
    server = OldCoreServer(process, port, log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the openenv-core 0.3 server exited with {process.returncode}:\n{server.log()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the openenv-core 0.3 server did not answer /health within {timeout_s:g} s:\n{server.log()[-3000:]}")
