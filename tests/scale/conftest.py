"""A private PostgreSQL cluster for the scale-out tests, started once per session.

Debian's binaries (`/usr/lib/postgresql/*/bin/initdb`, `pg_ctl`; `.ci/run` installs the
`postgresql` package) build a cluster in a temporary folder, listening on a free port of
127.0.0.1 with password (scram) authentication; PostgreSQL refuses to run as root, so under
root they run as the `postgres` user (`runuser`). Each test gets its own empty database owned
by a test role with a password (`pg_url`). Without the binaries the tests are skipped with the
reason, except under CI (the `CI` variable set), where that is a failure.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROLE, PASSWORD = "agentopt_test", "pg-test-secret-7f3a9c"
SUPERUSER_PASSWORD = "pg-super-secret-41d2"


@dataclass(frozen=True)
class Cluster:
    port: int
    data: Path

    def url(self, database: str, user: str = ROLE, password: str | None = PASSWORD) -> str:
        auth = f"{user}:{password}" if password is not None else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def admin(self):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", password=SUPERUSER_PASSWORD,
                               dbname="postgres", autocommit=True)


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL will not run as root: drop to the `postgres` user when we are root."""
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is needed in CI: {reason} (.ci/run installs Debian's postgresql)")
    pytest.skip(f"no PostgreSQL server binaries: {reason}; install Debian's postgresql (apt-get install postgresql) to run these tests")


@pytest.fixture(scope="session")
def pg_cluster():
    bin_dir = _binaries()
    if bin_dir is None:
        _unavailable("initdb not found in /usr/lib/postgresql/*/bin or on PATH")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("the psycopg driver is not installed (pip install -e '.[dev]')")
    if os.geteuid() == 0:
        try:
            import pwd

            owner = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no `postgres` user to run the server as")
    root = Path(tempfile.mkdtemp(prefix="agentopt-pg-"))
    data, pwfile = root / "data", root / "pwfile"
    pwfile.write_text(SUPERUSER_PASSWORD + "\n")
    if os.geteuid() == 0:
        for path in (root, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    root.chmod(0o700)
    port = _free_port()
    run = lambda args: subprocess.run(_as_postgres(args), capture_output=True, text=True, timeout=120)  # noqa: E731
    done = run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--pwfile", str(pwfile), "-A", "scram-sha-256", "-E", "UTF8", "--no-sync"])
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    started = run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-o", options, "-w", "-t", "60", "start"])
    if started.returncode != 0:
        log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed: {started.stderr.strip()} {log[-2000:]}")
    cluster = Cluster(port, data)
    try:
        with cluster.admin() as conn:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        yield cluster
    finally:
        run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """A new empty database owned by the test role: its URL, password included."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with pg_cluster.admin() as conn:
        conn.execute(f"CREATE DATABASE {name} OWNER {ROLE}")
    return pg_cluster.url(name)
