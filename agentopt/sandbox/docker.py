"""`--sandbox docker`: the environment server in a container with no network.

    docker run --rm --name NAME --network none --cap-drop ALL --security-opt no-new-privileges
        --memory M --memory-swap M --pids-limit N --read-only --tmpfs /tmp ...
        -v PRIVATE_DIR:/sock -w /sock IMAGE python -m agentopt.envs.serve ENV ARGS --uds /sock/server.sock

The server listens on a Unix socket in a private host directory bind-mounted at /sock;
the same loopback relay as the local sandbox (`relay.py`) exposes it to the harness as
127.0.0.1:PORT, so no port is published and `--network none` holds. The container gets
none of the host's environment variables (docker passes none unless told to). A data
file named in the server's arguments (`path=/abs/file.jsonl`) and the files beside it that
share its stem are mounted read-only at the same path; nothing else of the host.

`docker_run_argv` is a pure function (tested without an engine); `engine_problem` says
why no engine answers, or None.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

from agentopt.sandbox import MiB, SandboxConfig
from agentopt.sandbox.environ import scrubbed_environ
from agentopt.sandbox.local import RelayedBox
from agentopt.sandbox.rootfs import named_files

SOCKET_DIR = "/sock"
SOCKET = f"{SOCKET_DIR}/server.sock"
LABEL = "agentopt.env"
DOCKER_RUN_FAILED = 125  # `docker run`'s own error (no such image, a bad option), not the server's
ENGINE_TIMEOUT_S = 10.0


def engine_problem(timeout_s: float = ENGINE_TIMEOUT_S) -> str | None:
    """None when a Docker engine answers; otherwise why not, in one line."""
    docker = shutil.which("docker")
    if docker is None:
        return "the docker client is not installed"
    try:
        done = subprocess.run(
            [docker, "version", "--format", "{{.Server.Version}}"],
            capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return f"`docker version` got no answer within {timeout_s:.0f} s"
    except OSError as exc:
        return f"cannot run docker: {exc.strerror or exc}"
    if done.returncode == 0 and done.stdout.strip():
        return None
    lines = [line.strip() for line in (done.stderr + "\n" + done.stdout).splitlines() if line.strip()]
    return (lines[-1] if lines else f"`docker version` exited with code {done.returncode}")[:300]


def unavailable_message(problem: str) -> str:
    return (
        f"cannot sandbox the environment server with docker: no Docker engine answers ({problem}); "
        "use --sandbox local or --sandbox none"
    )


def container_argv(argv: list[str]) -> list[str]:
    """The server's command as the image runs it: its own `python`, not the host's interpreter."""
    if argv and argv[0] == sys.executable:
        return ["python", *argv[1:]]
    return list(argv)


def data_mounts(argv: list[str]) -> list[str]:
    """The files named in the server's arguments (a dataset file and the schema beside it:
    `rootfs.named_files`), to be mounted read-only at the same path: the files, not their
    folder, which may be the user's working directory with its cache and run folders."""
    files = named_files(argv)
    for path in files:
        if ":" in path or "," in path:
            from agentopt.errors import UsageError

            raise UsageError(f"--sandbox docker cannot mount {path!r} (a ':' or ',' in the path): move the file")
    return files


def docker_run_argv(
    argv: list[str],
    config: SandboxConfig,
    *,
    name: str,
    socket_dir: str,
    uid: int,
    gid: int,
    parent_pid: int | None = None,
    docker: str = "docker",
) -> list[str]:
    """The `docker run` command for one server launch (ARGV is the host's server command)."""
    labels = [f"--label={LABEL}=1"] + ([f"--label={LABEL}.parent={socket.gethostname()}:{parent_pid}"] if parent_pid else [])
    mounts = [f"--volume={socket_dir}:{SOCKET_DIR}"]
    mounts += [f"--volume={path}:{path}:ro" for path in data_mounts(argv)]
    return [
        docker, "run", "--rm", f"--name={name}", *labels,
        "--pull=never",  # never fetch an image from a registry behind the user's back
        "--network=none",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        f"--memory={config.memory_mb}m",
        f"--memory-swap={config.memory_mb}m",  # no swap beyond the memory limit
        f"--pids-limit={config.nproc}",
        f"--ulimit=cpu={config.cpu_s}:{config.cpu_s}",
        f"--ulimit=fsize={config.fsize_mb * MiB}:{config.fsize_mb * MiB}",
        "--ulimit=core=0:0",
        "--read-only",
        "--tmpfs=/tmp:rw,nosuid,nodev,size=256m",
        f"--user={uid}:{gid}",  # our uid: it can write the socket into our private directory
        "--env=HOME=/tmp",  # a constant, not the host's: docker passes no host variable
        *mounts,
        f"--workdir={SOCKET_DIR}",
        config.image,
        *container_argv(argv), "--uds", SOCKET,
    ]


class DockerSandbox:
    """`--sandbox docker`: a container with no network (--sandbox-image)."""

    name = "docker"
    summary = "A Docker container with no network, no capabilities and the same limits (--sandbox-image)."
    confines = True

    def preflight(self, config: SandboxConfig) -> str | None:
        """Fail closed before anything starts: no engine, no server."""
        problem = engine_problem()
        return None if problem is None else unavailable_message(problem)

    def box(self, config: SandboxConfig) -> DockerBox:
        return DockerBox(config)


class DockerBox(RelayedBox):
    """The server in a container whose socket directory is bind-mounted from the host."""

    def __init__(self, config: SandboxConfig):
        super().__init__(config)
        self.docker = shutil.which("docker") or "docker"
        self.name = f"agentopt-env-{uuid.uuid4().hex[:12]}"

    def command(self, argv: list[str], extra_env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str], str]:
        reap_orphans(self.docker)
        run = docker_run_argv(
            argv, self.config, name=self.name, socket_dir=str(self.dir), uid=os.getuid(), gid=os.getgid(),
            parent_pid=os.getpid(), docker=self.docker,
        )
        # The docker *client* needs the host's DOCKER_HOST, DOCKER_CONFIG, ...; the container
        # gets none of it (no --env but HOME).
        return run, scrubbed_environ(), str(self.dir)

    def setup_failure(self, server: str, exit_code: int | None, last_line: str) -> str | None:
        """`docker run` itself failed (no such image, no engine): one line, and how to fix it."""
        if exit_code != DOCKER_RUN_FAILED:
            return None
        reason = last_line or "docker run failed"
        hint = ""
        if "unable to find image" in reason.lower() or "no such image" in reason.lower():
            hint = f" (build it: docker build -t {self.config.image} -f docker/Dockerfile . ; or set --sandbox-image)"
        return f"cannot sandbox the {server} with docker: {reason}{hint}; use --sandbox local or --sandbox none"

    def exit_reason(self, exit_code: int | None, last_line: str, log: Path) -> str | None:
        if exit_code != 137:
            return None
        c = self.config
        return (f"the container was killed by SIGKILL: over its memory limit of {c.memory_mb} MiB or its CPU-time "
                f"limit of {c.cpu_s} s; last log line: {last_line!r}; log: {log}")

    def cleanup(self) -> None:
        try:  # the client is gone; make sure the container is too (a no-op after --rm)
            subprocess.run([self.docker, "rm", "--force", self.name], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            pass
        super().cleanup()


def reap_orphans(docker: str = "docker") -> None:
    """Remove containers an agentopt on this host started and then lost (a `kill -9` of the
    harness leaves its container running): their launcher's pid is gone. Best effort."""
    try:
        listed = subprocess.run(
            [docker, "ps", "--filter", f"label={LABEL}", "--format", f'{{{{.ID}}}} {{{{.Label "{LABEL}.parent"}}}}'],
            capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return
    orphans = []
    for line in listed.stdout.splitlines():
        cid, _, parent = line.partition(" ")
        host, _, pid = parent.strip().rpartition(":")
        if host == socket.gethostname() and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            orphans.append(cid)
    if orphans:
        try:
            subprocess.run([docker, "rm", "--force", *orphans], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            pass
