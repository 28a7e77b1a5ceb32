"""The environment sandbox (docs/sandbox.md): what a launched environment server can and
cannot do. Every test here fails if the isolation it checks is missing: the `--no-sandbox`
test runs the same probes and watches them succeed.

Fast checks use a tiny standard-library server on a Unix socket (tests/envs/uds_probe_server.py)
launched through the real ServerProcess; end-to-end checks run `agentopt eval` on the
`probe` OpenEnv environment (tests/fakes/envs.py) with a scripted model.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from agentopt.sandbox import SandboxConfig
from agentopt.sandbox.environ import sandbox_environ
from agentopt.sandbox.relay import UnixRelay
from agentopt.servers import ServerProcess
from tests.conftest import REPO, run_cli, write
from tests.fakes.openai_server import ScriptedLLM, call

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the local sandbox needs Linux namespaces")

PROBE_SERVER = Path(__file__).with_name("uds_probe_server.py")
EXTERNAL = [("1.1.1.1", 53), ("8.8.8.8", 53)]
SECRET = "sk-test-secret-0123456789abcdef"
PLAIN = "plain-value-not-secret-looking"


@pytest.fixture
def listener():
    """A TCP listener on the host's loopback; `accepted()` says whether anyone connected."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)

    class Listener:
        port = sock.getsockname()[1]

        @staticmethod
        def accepted() -> bool:
            try:
                sock.accept()[0].close()
                return True
            except BlockingIOError:
                return False

    yield Listener
    sock.close()


@pytest.fixture
def launch(tmp_path):
    """Start the tiny probe server sandboxed (or not) through ServerProcess."""
    started: list[ServerProcess] = []

    def start(**limits) -> ServerProcess:
        config = SandboxConfig(**{"mode": "local", **limits})
        server = ServerProcess("probe server", [sys.executable, str(PROBE_SERVER)], tmp_path / f"probe{len(started)}.log",
                               startup_timeout_s=30, sandbox=config)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


def get(server: ServerProcess, path: str, timeout: float = 30):
    return httpx.get(server.url + path, timeout=timeout).json()


# --- network ---


def test_no_tcp_connection_to_a_host_listener_nor_to_the_outside(launch, listener):
    server = launch()
    assert get(server, f"/connect?host=127.0.0.1&port={listener.port}").startswith("failed")
    for host, port in EXTERNAL:
        assert get(server, f"/connect?host={host}&port={port}").startswith("failed"), host
    assert not listener.accepted()


def test_host_daemon_sockets_under_run_are_hidden(launch):
    """A Unix socket under /run (where the Docker engine, D-Bus, databases listen) would be a
    way out of the network namespace: the server sees an empty /run instead."""
    if not os.access("/run", os.W_OK):
        pytest.skip("needs a writable /run to place a host socket there")
    path = f"/run/agentopt-test-{os.getpid()}.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(path)
    sock.listen(1)
    try:
        server = launch()
        assert get(server, f"/connect_unix?path={path}").startswith("failed")
        assert get(server, f"/connect_unix?path={path.replace('/run/', '/var/run/')}").startswith("failed")
    finally:
        sock.close()
        os.unlink(path)


# --- environment, private directory, limits ---


def test_environment_is_an_allow_list_and_the_directory_is_private(launch, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("MY_SETTING", PLAIN)  # not secret-looking: a deny-list would pass it
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example.invalid")
    monkeypatch.setenv("PYTHONHASHSEED", "7")
    server = launch()
    where = get(server, "/where")
    environ = where["environ"]
    for name in ("OPENAI_API_KEY", "MY_SETTING", "AZURE_OPENAI_ENDPOINT", "AGENTOPT_PARENT_PID"):
        assert name not in environ, name
    assert SECRET not in json.dumps(where) and PLAIN not in json.dumps(where)
    assert environ["PYTHONHASHSEED"] == "7" and environ["PATH"]
    private = Path(where["cwd"]).parent
    assert private.name.startswith("agentopt-env-") and oct(private.stat().st_mode & 0o777) == "0o700"
    assert Path(environ["HOME"]).parent == private and Path(environ["TMPDIR"]).parent == private
    server.stop()
    assert not private.exists()  # removed at stop


def test_allow_list_passes_explicitly_named_variables(monkeypatch):
    monkeypatch.setenv("MY_SETTING", PLAIN)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert "MY_SETTING" not in sandbox_environ("/h", "/t")
    monkeypatch.setenv("AGENTOPT_SANDBOX_PASS_ENV", "MY_SETTING")
    env = sandbox_environ("/h", "/t")
    assert env["MY_SETTING"] == PLAIN and "OPENAI_API_KEY" not in env
    assert env["HOME"] == "/h" and env["TMPDIR"] == "/t"


def test_resource_limits_are_set_before_the_server_starts(launch):
    server = launch(memory_mb=300, cpu_s=120, nproc=64, fsize_mb=2)
    limits = get(server, "/where")["limits"]
    mib = 1024 * 1024
    assert limits["RLIMIT_AS"] == [600 * mib, 600 * mib]  # twice the memory limit
    assert limits["RLIMIT_CPU"] == [120, 120]
    assert limits["RLIMIT_NPROC"] == [64, 64]
    assert limits["RLIMIT_FSIZE"] == [2 * mib, 2 * mib]
    assert "File too large" in get(server, "/write?mb=5")


def test_memory_limit_kills_the_server_and_says_why(launch):
    server = launch(memory_mb=200)
    with pytest.raises(httpx.HTTPError):
        httpx.get(server.url + "/hog", timeout=60)
    deadline = time.monotonic() + 10
    while server.running and time.monotonic() < deadline:
        time.sleep(0.05)
    summary = server.failure_summary()
    assert "killed by SIGKILL" in summary and "over its memory limit of 200 MiB" in summary


def test_cpu_limit_kills_the_server_and_says_why(launch):
    server = launch(cpu_s=2)
    with pytest.raises(httpx.HTTPError):
        httpx.get(server.url + "/burn", timeout=60)
    deadline = time.monotonic() + 10
    while server.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "CPU-time limit of 2 s" in server.failure_summary()


def test_without_sandbox_the_same_probe_gets_through(tmp_path, listener, monkeypatch):
    """The probes above can fail: unconfined, the server reaches the host listener and
    sees a variable that is not secret-looking."""
    monkeypatch.setenv("MY_SETTING", PLAIN)
    # ServerProcess unsandboxed appends --port: serve the probe on a Unix socket we relay ourselves.
    sock_path = str(tmp_path / "plain.sock")
    proc = subprocess.Popen([sys.executable, str(PROBE_SERVER), "--uds", sock_path], env=dict(os.environ))
    relay = UnixRelay(sock_path)
    port = relay.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert httpx.get(f"http://127.0.0.1:{port}/connect?host=127.0.0.1&port={listener.port}", timeout=10).json() == "connected"
        assert listener.accepted()
        assert httpx.get(f"http://127.0.0.1:{port}/where", timeout=10).json()["environ"]["MY_SETTING"] == PLAIN
    finally:
        relay.stop()
        proc.kill()
        proc.wait()


# --- the relay ---


def test_relay_passes_http_and_websocket_traffic(tmp_path):
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from websockets.sync.client import connect

    async def health(request):
        return JSONResponse({"ok": True})

    async def echo(ws):
        await ws.accept()
        while True:
            await ws.send_text(await ws.receive_text())

    app = Starlette(routes=[Route("/health", health), WebSocketRoute("/ws", echo)])

    sock_path = str(tmp_path / "ws.sock")
    server = uvicorn.Server(uvicorn.Config(app, uds=sock_path, log_level="error", ws_ping_interval=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    relay = UnixRelay(sock_path)
    port = relay.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert httpx.get(f"http://127.0.0.1:{port}/health").json() == {"ok": True}
        big = "x" * (2 * 1024 * 1024)
        with connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
            for i in range(200):
                ws.send(f"message {i}")
                assert ws.recv(timeout=5) == f"message {i}"
            ws.send(big)
            assert ws.recv(timeout=10) == big
    finally:
        relay.stop()
        server.should_exit = True
        thread.join(timeout=10)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)  # the port is closed with the relay


# --- end to end: agentopt eval on the probe environment ---

PROBE_ENV = "tests.fakes.envs:build_probe"


def probe_agent(tmp_path: Path, url: str) -> Path:
    return write(
        tmp_path / "agents" / "prober.yaml",
        f"""
        name: prober
        model: openai/scripted
        model_params:
          api_base: {url}
          max_tokens: 64
        system_prompt: Probe.
        loop:
          max_turns: 4
        """,
    )


def probe_rubric(tmp_path: Path) -> Path:
    return write(
        tmp_path / "rubrics" / "probe.yaml",
        """
        name: probe
        criteria:
          - id: finished
            description: The probe ran.
            check: {type: env_reward}
        """,
    )


def prober(listener_port: int):
    """Turn i of a task's episode calls the i-th probe of that task, then `done`."""
    plans = {
        "connect_host": [call("connect", {"host": "127.0.0.1", "port": listener_port})],
        "connect_external": [call("connect", {"host": h, "port": p}) for h, p in EXTERNAL],
        "read_env": [call("read_env", {"name": "OPENAI_API_KEY", "value": SECRET}), call("read_env", {"name": "MY_SETTING", "value": PLAIN})],
        "hog": [call("hog", {"mb": 8192})],
        "burn": [call("burn", {})],
    }

    def respond(request: dict):
        probe = next(m["content"] for m in request["messages"] if m["role"] == "user").removeprefix("probe: ")
        turn = sum(1 for m in request["messages"] if m["role"] == "assistant")
        steps = plans.get(probe, [])
        return steps[turn] if turn < len(steps) else call("done", {"answer": "ok"})

    return respond


def eval_probe(tmp_path: Path, llm_url: str, split: str, *extra: str, env: dict[str, str] | None = None, prefix: list[str] | None = None):
    args = ["eval", str(probe_agent(tmp_path, llm_url)), "--rubric", str(probe_rubric(tmp_path)), "--env", PROBE_ENV,
            "--split", split, "--concurrency", "1", "--runs-dir", "runs", *extra]
    full_env = {"OPENAI_API_KEY": SECRET, "MY_SETTING": PLAIN, **(env or {})}
    if prefix is None:
        return run_cli(*args, cwd=tmp_path, env=full_env)
    full = {**os.environ, "AGENTOPT_HOME": str(tmp_path / ".cache"), "PYTHONPATH": str(REPO), **full_env}
    return subprocess.run([*prefix, sys.executable, "-m", "agentopt", *args], cwd=tmp_path, env=full, capture_output=True, text=True, timeout=300)


def traces(tmp_path: Path) -> dict[str, dict]:
    (run,) = sorted((tmp_path / "runs").iterdir())
    records = [json.loads(line) for line in (run / "traces.jsonl").read_text().splitlines()]
    return {r["trace"]["task_id"]: r["trace"] for r in records}


def results(trace: dict) -> list[str]:
    return [c["result"] or c["error"] for c in trace["tool_calls"] if c["name"] != "done"]


def test_eval_episodes_cannot_reach_the_network_or_the_hosts_secrets(tmp_path, listener):
    with ScriptedLLM(prober(listener.port)) as llm:
        result = eval_probe(tmp_path, llm.url, "probes")
    assert result.returncode == 0, result.stdout + result.stderr
    t = traces(tmp_path)
    assert all(r.startswith("failed to connect") for r in results(t["connect_host"])), results(t["connect_host"])
    assert all(r.startswith("failed to connect") for r in results(t["connect_external"])), results(t["connect_external"])
    assert not listener.accepted()
    key, plain = (json.loads(r) for r in results(t["read_env"]))
    # Neither in its own environment, nor readable in any other process's (the harness's included).
    assert key == {"value": None, "in_proc": []} and plain == {"value": None, "in_proc": []}


def test_no_sandbox_still_works_and_lets_the_probes_through(tmp_path, listener):
    with ScriptedLLM(prober(listener.port)) as llm:
        result = eval_probe(tmp_path, llm.url, "probes", "--no-sandbox")
    assert result.returncode == 0, result.stdout + result.stderr
    t = traces(tmp_path)
    assert results(t["connect_host"]) == [f"connected to 127.0.0.1:{listener.port}"]
    key, plain = (json.loads(r) for r in results(t["read_env"]))
    assert key["value"] is None  # the deny-list still scrubs secret-looking names...
    assert key["in_proc"]  # ...but the harness's own environment is readable in /proc
    assert plain["value"] == PLAIN
    assert t["plain"]["reward"] == 1.0


def test_memory_and_cpu_limits_end_their_episode_and_the_eval_goes_on(tmp_path):
    limits = {"AGENTOPT_SANDBOX_MEMORY_MB": "512", "AGENTOPT_SANDBOX_CPU_S": "10"}
    with ScriptedLLM(prober(0)) as llm:
        result = eval_probe(tmp_path, llm.url, "limits", "--max-errors", "2", env=limits)
    assert result.returncode == 0, result.stdout + result.stderr
    t = traces(tmp_path)
    assert t["hog"]["stop_reason"] == "error" and "over its memory limit of 512 MiB" in t["hog"]["error"], t["hog"]["error"]
    assert t["burn"]["stop_reason"] == "error" and "CPU-time limit of 10 s" in t["burn"]["error"], t["burn"]["error"]
    # The episodes after each kill ran on a fresh server and scored.
    assert t["plain"]["reward"] == 1.0 and t["plain_after"]["reward"] == 1.0
    (run,) = sorted((tmp_path / "runs").iterdir())
    summary = json.loads((run / "summary.json").read_text())["summary"]
    assert summary["n_errors"] == 2 and summary["n"] == 2  # n: the episodes scored


def test_fails_closed_with_one_line_when_no_namespace_can_be_created(tmp_path):
    """Inside a user namespace whose namespace quotas are 0, the sandbox cannot be had: the
    eval must stop (exit 3) with one line naming the cause and --no-sandbox, never run the
    server unconfined."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-Ur", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs `unshare -Ur` (user namespaces) to take namespaces away")
    deny = "echo 0 > /proc/sys/user/max_net_namespaces && echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\""
    with ScriptedLLM(prober(0)) as llm:
        result = eval_probe(tmp_path, llm.url, "probes", prefix=["unshare", "-Ur", "sh", "-c", deny, "sh"])
    assert result.returncode == 3, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot sandbox" in lines[0] and "No space left on device" in lines[0] and "--no-sandbox" in lines[0]
    assert not list((tmp_path / "runs").rglob("traces.jsonl")) or not traces(tmp_path)
