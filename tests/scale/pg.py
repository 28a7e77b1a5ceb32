"""A private PostgreSQL cluster in a temporary folder: for the scale-out tests (`conftest.py`'s
`pg_cluster`) and for bench/workers.py.

Debian's binaries (`/usr/lib/postgresql/*/bin/initdb`, `pg_ctl`; `.ci/run` installs the
`postgresql` package) build a cluster listening on a free port of 127.0.0.1 with password
(scram) authentication; PostgreSQL refuses to run as root, so under root they run as the
`postgres` user (`runuser`). The cluster has a login role with a password (`ROLE`, `PASSWORD`).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROLE, PASSWORD = "agentopt_test", "pg-test-secret-7f3a9c"
SUPERUSER_PASSWORD = "pg-super-secret-41d2"


class Unavailable(Exception):
    """What this machine lacks to run a cluster (binaries, the driver, a user to run it as)."""


@dataclass(frozen=True)
class Cluster:
    port: int
    data: Path

    def url(self, database: str, user: str = ROLE, password: str | None = PASSWORD) -> str:
        auth = f"{user}:{password}" if password is not None else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> Any:
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


def _check() -> Path:
    """The server binaries' folder; Unavailable with the reason when this machine cannot run one."""
    bin_dir = _binaries()
    if bin_dir is None:
        raise Unavailable("initdb not found in /usr/lib/postgresql/*/bin or on PATH")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise Unavailable("the psycopg driver is not installed (pip install -e '.[dev]')") from None
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root and there is no `postgres` user to run the server as") from None
    return bin_dir


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A running cluster with the test role, stopped and deleted on exit. Unavailable when
    this machine cannot run one; RuntimeError (with the server's words) when it fails to start."""
    bin_dir = _check()
    root = Path(tempfile.mkdtemp(prefix="agentopt-pg-"))
    data, pwfile = root / "data", root / "pwfile"
    pwfile.write_text(SUPERUSER_PASSWORD + "\n")
    if os.geteuid() == 0:
        import pwd

        owner = pwd.getpwnam("postgres")
        for path in (root, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    root.chmod(0o700)

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(_as_postgres(args), capture_output=True, text=True, timeout=120)

    try:
        done = run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--pwfile", str(pwfile), "-A", "scram-sha-256",
                    "-E", "UTF8", "--no-sync"])
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
        port = _free_port()
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        started = run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-o", options, "-w", "-t", "60", "start"])
        if started.returncode != 0:
            log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()} {log[-2000:]}")
        cluster = Cluster(port, data)
        with cluster.admin() as conn:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        yield cluster
    finally:
        if (data / "postmaster.pid").exists():
            run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)
