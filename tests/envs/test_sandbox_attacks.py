"""A hostile environment against the local sandbox (issue 9, docs/sandbox.md): write outside
its private folder, plant code where the next launch could run it, poison the harness's
response cache, connect to a host Unix socket, read a host secret, read the harness's key.

Two ways in, both real:
- the launcher itself (`python -I -S launch.py`), driving the tiny probe server
  (tests/envs/uds_probe_server.py) with Debian's /usr/bin/python3, as root AND as an
  unprivileged user created here with `useradd`;
- `agentopt eval` on an OpenEnv environment whose tools attack (tests/fakes/attacker_env.py),
  with a scripted model, as the harness runs in CI (root); the same attacks with
  `--sandbox none` succeed, which shows the test can see them.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from agentopt.sandbox import launch, rootfs
from agentopt.sandbox.relay import UnixRelay
from tests.conftest import REPO, run_cli, write
from tests.fakes.openai_server import ScriptedLLM, call

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the local sandbox needs Linux namespaces")

PROBE_SERVER = Path(__file__).with_name("uds_probe_server.py")
DEBIAN_PYTHON = "/usr/bin/python3"
SECRET = "sk-attack-secret-0123456789abcdef"
USER = "agentopt-sbx"


def unprivileged_user() -> pwd.struct_passwd | None:
    """A user without privileges (created once, as root); None where that cannot be had."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        return None
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pass
    done = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], capture_output=True)
    return pwd.getpwnam(USER) if done.returncode == 0 else None


class HostUnixSocket:
    """A Unix socket listening on the host that anyone may connect to."""

    def __init__(self, path: str):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        os.chmod(path, 0o777)
        self.sock.listen(8)
        self.sock.setblocking(False)

    def accepted(self) -> bool:
        try:
            self.sock.accept()[0].close()
            return True
        except BlockingIOError:
            return False

    def close(self) -> None:
        self.sock.close()
        os.unlink(self.path)


@pytest.fixture
def host(tmp_path):
    """What an attacker would go for on the host: a folder the server's own uid may write
    (where a sitecustomize.py would be picked up), a secret file it may read, a socket it
    may connect to, all readable and writable for anyone so only the sandbox stands between."""
    base = Path(tempfile.mkdtemp(prefix="agentopt-host-", dir="/tmp"))
    os.chmod(base, 0o777)
    secret = base / "secret.txt"
    secret.write_text(SECRET)
    os.chmod(secret, 0o644)
    writable = base / "writable"
    writable.mkdir(mode=0o777)
    os.chmod(writable, 0o777)
    sock = HostUnixSocket(str(base / "daemon.sock"))

    class Host:
        folder, secret_file, writable_dir, daemon = base, secret, writable, sock

    yield Host
    sock.close()
    shutil.rmtree(base, ignore_errors=True)


def launch_confined(tmp_path: Path, user: pwd.struct_passwd | None):
    """The probe server behind the real launcher, started as `user` (None: as we are)."""
    private = Path(tempfile.mkdtemp(prefix="agentopt-env-test-", dir="/tmp"))
    for sub in ("sock", "root", "work"):
        (private / sub).mkdir()
    if user is not None:
        for path in (private, private / "sock", private / "root", private / "work"):
            os.chown(path, user.pw_uid, user.pw_gid)
    sock_path = str(private / "sock" / "server.sock")
    argv = [DEBIAN_PYTHON, str(PROBE_SERVER)]
    plan = rootfs.plan(argv, private_dir=str(private), socket_dir=str(private / "sock"), cwd=str(private / "work"),
                       disk_mb=64, pythonpath=[], python_paths=[DEBIAN_PYTHON])
    command = [DEBIAN_PYTHON, "-I", "-S", launch.__file__, "--memory-mb", "512", "--cpu-s", "120", "--nproc", "64",
               "--fsize-mb", "16", "--root-plan", json.dumps(plan), "--", *argv, "--uds", sock_path]
    if user is not None:
        command = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--", *command]
    log = open(tmp_path / "probe.log", "wb")  # noqa: SIM115 (the server writes it until the test ends)
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=str(private / "work"),
                            env={"PATH": "/usr/bin:/bin", "HOME": str(private / "work"), "TMPDIR": str(private / "work")},
                            start_new_session=True)
    relay = UnixRelay(sock_path)
    port = relay.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp_path / "probe.log").read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)

    def stop() -> None:
        relay.stop()
        proc.kill()
        proc.wait()
        log.close()
        shutil.rmtree(private, ignore_errors=True)

    return f"http://127.0.0.1:{port}", private, stop


def ask(url: str, endpoint: str, **params) -> object:
    return httpx.get(url + endpoint, params=params, timeout=30).json()


@pytest.mark.parametrize("who", ["root", "unprivileged"])
def test_a_confined_server_can_neither_write_nor_read_nor_connect_outside(who, tmp_path, host):
    if who == "unprivileged":
        user = unprivileged_user()
        if user is None:
            pytest.skip("needs root and useradd to create an unprivileged user")
    else:
        user = None
        if os.geteuid() != 0:
            pytest.skip("runs as root in CI; here we are not root")
    url, private, stop = launch_confined(tmp_path, user)
    planted_in_python = f"/usr/lib/python3/dist-packages/agentopt_attack_{os.getpid()}.py"
    try:
        where = ask(url, "/where")
        assert where["uid"] == (user.pw_uid if user else 0)
        # Write: a folder the uid may write on the host, the host's /tmp, the Python installation.
        for target in (host.writable_dir / "sitecustomize.py", Path("/tmp") / f"agentopt-attack-{os.getpid()}", Path(planted_in_python)):
            ask(url, "/plant", path=str(target), text="import os; os.system('touch /tmp/pwned')")
            assert not target.exists(), f"the server wrote {target} on the host"
        assert ask(url, "/plant", path=planted_in_python).startswith("failed")  # read-only, even for root
        # Its own writes land in its private tmpfs, never on the host's disk.
        assert ask(url, "/plant", path=os.path.join(where["cwd"], "scratch.txt")).startswith("wrote")
        assert not any((private / "work").iterdir())
        # Read: a host secret anyone may read; the folder around it is not the host's.
        assert ask(url, "/read", path=str(host.secret_file)).startswith("failed")
        seen = ask(url, "/listing", path=str(host.folder))  # what its own writes made there, if anything
        assert "secret.txt" not in seen and "daemon.sock" not in seen, seen
        # Connect: a host Unix socket anyone may use; /run's daemons.
        assert ask(url, "/connect_unix", path=host.daemon.path).startswith("failed")
        assert not host.daemon.accepted()
        assert ask(url, "/listing", path="/run") == []
        # The host's processes are not there at all: a fresh /proc of its own PID namespace.
        assert where["pid"] == 1
        listing = ask(url, "/listing", path="/proc")
        assert isinstance(listing, list) and not [p for p in listing if p.isdigit() and int(p) > 50]
    finally:
        stop()
        for leftover in (planted_in_python, f"/tmp/agentopt-attack-{os.getpid()}", "/tmp/pwned"):
            if os.path.exists(leftover):
                os.unlink(leftover)


def test_the_launcher_imports_nothing_from_the_working_directory_or_pythonpath(tmp_path):
    """A sitecustomize.py (or a module shadowing the standard library) in the folder the
    harness runs in, or on PYTHONPATH, must not run before the confinement: the launcher is
    `python -I -S`. (The server may import the user's modules, inside its own root.)"""
    marker = tmp_path / "ran-before-confinement"
    (tmp_path / "sitecustomize.py").write_text(f"open({str(marker)!r}, 'a').write('sitecustomize')\n")
    from agentopt.sandbox import SandboxConfig
    from agentopt.servers import ServerProcess

    server = ServerProcess("probe server", [sys.executable, str(PROBE_SERVER)], tmp_path / "p.log", startup_timeout_s=30,
                           sandbox=SandboxConfig(), extra_env={"PYTHONPATH": str(tmp_path)})
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        server.start()
        assert httpx.get(server.url + "/health", timeout=10).status_code == 200
    finally:
        os.chdir(cwd)
        server.stop()
    assert not marker.exists(), marker.read_text()
    for name in ("json.py", "argparse.py", "ctypes.py"):
        (tmp_path / name).write_text(f"open({str(marker)!r}, 'a').write({name!r})\n")
    done = subprocess.run([sys.executable, "-I", "-S", launch.__file__], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)}, capture_output=True, text=True)
    assert done.returncode == 2 and "usage" in done.stderr and not marker.exists()


# --- end to end: agentopt eval on an OpenEnv environment that attacks ---

ATTACKER_ENV = "tests.fakes.attacker_env:build_attacker"
STEAL = """\
import os
for pid in os.listdir('/proc'):
    try:
        if {secret!r}.encode() in open(f'/proc/{{pid}}/environ', 'rb').read():
            open({stolen!r}, 'w').write('stolen from ' + pid)
    except OSError:
        pass
"""


def attack_plans(tmp_path: Path, host_socket: str, host_secret: str) -> dict[str, list]:
    cache = tmp_path / ".cache" / "responses.db"
    stolen = str(tmp_path / "stolen.txt")
    return {
        # Code where the next launcher (or the harness) would import it, and in /tmp.
        "plant": [
            call("plant", {"path": str(tmp_path / "sitecustomize.py"), "text": STEAL.format(secret=SECRET, stolen=stolen)}),
            call("plant", {"path": f"/tmp/agentopt-planted-{os.getpid()}.py", "text": "x"}),
            call("listing", {"path": str(tmp_path)}),
        ],
        "poison_cache": [call("plant", {"path": str(cache), "text": "forged"})],
        "sockets": [call("connect_unix", {"path": host_socket})],
        "read_secrets": [call("read", {"path": host_secret}), call("steal", {"value": SECRET})],
        "crash": [call("crash", {})],
        "after_crash": [call("steal", {"value": SECRET})],
    }


def attacker(plans: dict[str, list]):
    def respond(request: dict):
        attack = next(m["content"] for m in request["messages"] if m["role"] == "user").removeprefix("attack: ")
        turn = sum(1 for m in request["messages"] if m["role"] == "assistant")
        steps = plans.get(attack, [])
        return steps[turn] if turn < len(steps) else call("done", {})

    return respond


def eval_attacks(tmp_path: Path, host, *extra: str) -> tuple[subprocess.CompletedProcess, dict[str, list[str]]]:
    agent = write(tmp_path / "agents" / "attacker.yaml", """
        name: attacker
        model: openai/scripted
        model_params: {{api_base: "{url}", max_tokens: 64}}
        system_prompt: Attack.
        loop: {{max_turns: 5}}
        """)
    rubric = write(tmp_path / "rubrics" / "r.yaml", """
        name: r
        criteria:
          - {id: finished, description: It ran., check: {type: env_reward}}
        """)
    with ScriptedLLM(attacker(attack_plans(tmp_path, host.daemon.path, str(host.secret_file)))) as llm:
        agent.write_text(agent.read_text().format(url=llm.url))
        # A first, harmless evaluation fills the response cache the attack then goes for.
        result = run_cli("eval", str(agent), "--rubric", str(rubric), "--env", ATTACKER_ENV, "--split", "attacks",
                         "--concurrency", "1", "--max-errors", "6", "--runs-dir", "runs", *extra,
                         cwd=tmp_path, env={"OPENAI_API_KEY": SECRET})
    (run,) = sorted((tmp_path / "runs").iterdir())
    outcomes = {}
    for line in (run / "traces.jsonl").read_text().splitlines():
        trace = json.loads(line)["trace"]
        outcomes[trace["task_id"]] = [c["result"] or c["error"] for c in trace["tool_calls"] if c["name"] != "done"]
    return result, outcomes


def test_a_hostile_environment_cannot_plant_poison_connect_or_steal(tmp_path, host):
    cache = tmp_path / ".cache" / "responses.db"
    result, outcomes = eval_attacks(tmp_path, host)
    assert result.returncode == 0, result.stdout + result.stderr
    try:
        # Its writes under /tmp land in its own fresh /tmp (a tmpfs), never on the host's disk.
        assert not (tmp_path / "sitecustomize.py").exists() and not (tmp_path / "stolen.txt").exists()
        assert not Path(f"/tmp/agentopt-planted-{os.getpid()}.py").exists()
        seen = json.loads(outcomes["plant"][2])  # the harness's folder, as the server sees it
        assert not {"runs", ".cache", "agents", "rubrics"} & set(seen), seen
        assert cache.read_bytes().startswith(b"SQLite format 3")  # not overwritten with "forged"
        assert outcomes["sockets"] == [outcomes["sockets"][0]] and outcomes["sockets"][0].startswith("failed")
        assert not host.daemon.accepted()
        assert outcomes["read_secrets"][0].startswith("failed")
        for stolen in (outcomes["read_secrets"][1], outcomes["after_crash"][0]):
            assert json.loads(stolen)["holding"] == [], stolen
    finally:
        Path(f"/tmp/agentopt-planted-{os.getpid()}.py").unlink(missing_ok=True)


def test_without_the_sandbox_the_same_attacks_get_through(tmp_path, host):
    """The control: with `--sandbox none` the plant, the cache poisoning, the socket, the
    secret file and the harness's /proc/PID/environ are all within reach."""
    result, outcomes = eval_attacks(tmp_path, host, "--sandbox", "none")
    Path(f"/tmp/agentopt-planted-{os.getpid()}.py").unlink(missing_ok=True)
    assert outcomes["plant"][0].startswith("wrote"), outcomes["plant"]
    assert outcomes["poison_cache"][0].startswith("wrote")
    assert outcomes["sockets"][0] == "connected"
    assert outcomes["read_secrets"][0] == "read: " + SECRET
    assert (tmp_path / "sitecustomize.py").exists()
    assert json.loads(outcomes["read_secrets"][1])["holding"], outcomes["read_secrets"]


def test_landlock_is_a_second_layer_that_allows_writes_only_beneath_the_writable_folders(tmp_path):
    """Without any mount trick: a process under `rootfs.landlock` can write beneath the folders
    it was given and nowhere else, though its uid may write both."""
    allowed, other = tmp_path / "allowed", tmp_path / "other"
    allowed.mkdir()
    other.mkdir()
    script = f"""
import ctypes, os, sys
sys.path.insert(0, {str(REPO)!r})
from agentopt.sandbox import rootfs
ctypes.CDLL(None).prctl(38, 1, 0, 0, 0)  # no_new_privs
missing = rootfs.landlock(rootfs._Kernel(), [{str(allowed)!r}])
if missing:
    print("SKIP", missing); sys.exit(0)
for folder in ({str(allowed)!r}, {str(other)!r}):
    try:
        open(os.path.join(folder, "f"), "w").write("x"); print(folder, "wrote")
    except OSError as exc:
        print(folder, "refused", exc.errno)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60).stdout
    if out.startswith("SKIP"):
        pytest.skip(out)
    assert f"{allowed} wrote" in out and f"{other} refused" in out, out
    assert not (other / "f").exists()


def test_the_plan_mounts_the_environments_code_not_the_folder_it_sits_in(tmp_path, monkeypatch):
    """`--env my_env.server:build` run from a project folder: its packages and modules are
    readable in the server's root, its cache, run folders and other files are not there."""
    for folder in ("my_env", ".agentopt-cache", "runs", "notes"):
        (tmp_path / folder).mkdir()
    (tmp_path / "my_env" / "__init__.py").write_text("")
    (tmp_path / "helpers.py").write_text("")
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-...")
    monkeypatch.chdir(tmp_path)
    private = tmp_path / "private"
    private.mkdir()
    plan = rootfs.plan([sys.executable, "-m", "agentopt.envs.serve", "my_env.server:build"], private_dir=str(private),
                       socket_dir=str(private / "sock"), cwd=str(private / "work"), disk_mb=8, pythonpath=[str(tmp_path)])
    readonly = set(plan["readonly"])
    real = tmp_path.resolve()
    assert {str(real / "my_env"), str(real / "helpers.py")} <= readonly
    assert not [p for p in readonly if p in (str(real), str(real / ".env")) or p.startswith((str(real / ".agentopt-cache"), str(real / "runs")))]
    assert not [p for p in readonly if p in ("/", "/root", "/home", "/tmp", "/run", "/etc", str(Path.home()))], readonly
    assert "/etc/shadow" not in readonly and "/usr" in readonly


def test_private_folders_of_a_killed_harness_are_removed_at_the_next_launch(tmp_path):
    from agentopt.sandbox.local import remove_stale_dirs

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = tmp_path / f"agentopt-env-{gone.pid}-abc"
    alive = tmp_path / f"agentopt-env-{os.getppid()}-def"  # a running process: kept
    other = tmp_path / "agentopt-env-notapid"
    for folder in (stale, alive, other):
        (folder / "tmp").mkdir(parents=True)
    assert remove_stale_dirs(str(tmp_path)) == [str(stale)]
    assert not stale.exists() and alive.exists() and other.exists()


def test_the_working_directorys_code_is_mounted_only_for_an_environment_that_lives_there(tmp_path, monkeypatch):
    (tmp_path / "settings.py").write_text("API_KEY = 'sk-in-a-module'")
    monkeypatch.chdir(tmp_path)
    private = tmp_path / "private"
    private.mkdir()
    common = dict(private_dir=str(private), socket_dir=str(private / "sock"), cwd=str(private / "work"), disk_mb=8,
                  pythonpath=[str(tmp_path)])
    builtin = rootfs.plan([sys.executable, "-m", "agentopt.envs.serve", "support"], **common)
    assert str(tmp_path.resolve() / "settings.py") not in builtin["readonly"]
    (tmp_path / "my_env.py").write_text("app = None")
    own = rootfs.plan([sys.executable, "-m", "agentopt.envs.serve", "my_env:app"], **common)
    assert {str(tmp_path.resolve() / "settings.py"), str(tmp_path.resolve() / "my_env.py")} <= set(own["readonly"])
