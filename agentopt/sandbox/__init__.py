"""Sandboxing of the environment servers agentopt launches (see docs/sandbox.md).

An environment may run code a model wrote, so every environment server we launch runs,
by default, in its own Linux user, network, PID and mount namespaces (no network at all:
the harness reaches it over a Unix socket through a loopback relay, `relay.py`), in a new
root where the host is read-only and mostly absent (`rootfs.py`), with an allow-listed
environment (`environ.py`), a private writable tmpfs, and resource limits, all set by a
small launcher (`launch.py`) before the server's code starts. With
`--sandbox docker` it runs in a container instead (`docker.py`), reached the same way.

Each mode is a `Sandbox` (`base.py`: the Protocol; `kinds.py`: the `SANDBOXES` registry that
installed packages extend through the `agentopt.sandboxes` entry-point group); `servers.py`
stays the one place that starts processes and only talks to a sandbox's `Box`. Kept free of heavy imports: `launch.py` runs in front of every server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MiB = 1024 * 1024


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        from agentopt.errors import UsageError

        raise UsageError(f"{name}={raw!r} is not a whole number") from None
    if value <= 0:
        from agentopt.errors import UsageError

        raise UsageError(f"{name} must be positive (got {value})")
    return value


def _env_paths(name: str) -> tuple[str, ...]:
    paths = tuple(p for p in os.environ.get(name, "").split(os.pathsep) if p.strip())
    for path in paths:
        if not os.path.isabs(path) or not os.path.exists(path):
            from agentopt.errors import UsageError

            raise UsageError(f"{name}: {path!r} is not an existing absolute path")
    return paths


@dataclass(frozen=True)
class SandboxConfig:
    """How an environment server is confined. `mode="none"` launches it as a plain child.

    memory_mb: the server is killed when its resident memory passes this; its address
        space is capped at twice this, so one huge allocation fails at once.
    cpu_s: CPU seconds the server may use in its lifetime (start-up included); it is
        killed at the limit and restarted for the next episode.
    nproc: processes and threads (RLIMIT_NPROC; not enforced for root, see docs).
    fsize_mb: largest file it may write.
    disk_mb: size of its private writable folder (a tmpfs: cwd, HOME, TMPDIR, /tmp).
    mounts: more host paths it may read (AGENTOPT_SANDBOX_MOUNT, `:`-separated), read-only.
    image: with mode="docker", the image the server runs in (sandbox/docker.py).
    """

    mode: str = "local"
    memory_mb: int = 2048
    cpu_s: int = 3600
    nproc: int = 256
    fsize_mb: int = 1024
    disk_mb: int = 1024
    mounts: tuple[str, ...] = ()
    image: str = "agentopt-env:latest"

    @classmethod
    def from_env(cls, mode: str = "local", image: str | None = None) -> SandboxConfig:
        """The defaults, overridden by AGENTOPT_SANDBOX_{MEMORY_MB,CPU_S,NPROC,FSIZE_MB,DISK_MB,MOUNT}; the
        docker image is `image` (--sandbox-image), else AGENTOPT_SANDBOX_IMAGE, else the default."""
        d = cls()
        return cls(
            mode=mode,
            memory_mb=_env_int("AGENTOPT_SANDBOX_MEMORY_MB", d.memory_mb),
            cpu_s=_env_int("AGENTOPT_SANDBOX_CPU_S", d.cpu_s),
            nproc=_env_int("AGENTOPT_SANDBOX_NPROC", d.nproc),
            fsize_mb=_env_int("AGENTOPT_SANDBOX_FSIZE_MB", d.fsize_mb),
            disk_mb=_env_int("AGENTOPT_SANDBOX_DISK_MB", d.disk_mb),
            mounts=_env_paths("AGENTOPT_SANDBOX_MOUNT"),
            image=(image or os.environ.get("AGENTOPT_SANDBOX_IMAGE", "").strip() or d.image),
        )


NO_SANDBOX = SandboxConfig(mode="none")
