"""Sandboxing of the environment servers agentopt launches (see docs/sandbox.md).

An environment may run code a model wrote, so every environment server we launch runs,
by default, in its own Linux user, network and PID namespaces (no network at all: the
harness reaches it over a Unix socket through a loopback relay, `relay.py`), with an
allow-listed environment (`environ.py`), a private temporary directory, and resource
limits set by a small launcher (`launch.py`) before the server's code starts. With
`--sandbox docker` it runs in a container instead (`docker.py`), reached the same way.

`servers.py` stays the one place that starts processes; this package supplies the
pieces. Kept free of heavy imports: `launch.py` runs in front of every server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MODES = ("local", "docker", "none")
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


@dataclass(frozen=True)
class SandboxConfig:
    """How an environment server is confined. `mode="none"` launches it as a plain child.

    memory_mb: the server is killed when its resident memory passes this; its address
        space is capped at twice this, so one huge allocation fails at once.
    cpu_s: CPU seconds the server may use in its lifetime (start-up included); it is
        killed at the limit and restarted for the next episode.
    nproc: processes and threads (RLIMIT_NPROC; not enforced for root, see docs).
    fsize_mb: largest file it may write.
    image: with mode="docker", the image the server runs in (sandbox/docker.py).
    """

    mode: str = "local"
    memory_mb: int = 2048
    cpu_s: int = 3600
    nproc: int = 256
    fsize_mb: int = 1024
    image: str = "agentopt-env:latest"

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    @classmethod
    def from_env(cls, mode: str = "local", image: str | None = None) -> "SandboxConfig":
        """The defaults, overridden by AGENTOPT_SANDBOX_{MEMORY_MB,CPU_S,NPROC,FSIZE_MB}; the
        docker image is `image` (--sandbox-image), else AGENTOPT_SANDBOX_IMAGE, else the default."""
        if mode not in MODES:
            from agentopt.errors import UsageError

            raise UsageError(f"--sandbox: unknown mode {mode!r}: use {' or '.join(MODES)}")
        d = cls()
        return cls(
            mode=mode,
            memory_mb=_env_int("AGENTOPT_SANDBOX_MEMORY_MB", d.memory_mb),
            cpu_s=_env_int("AGENTOPT_SANDBOX_CPU_S", d.cpu_s),
            nproc=_env_int("AGENTOPT_SANDBOX_NPROC", d.nproc),
            fsize_mb=_env_int("AGENTOPT_SANDBOX_FSIZE_MB", d.fsize_mb),
            image=(image or os.environ.get("AGENTOPT_SANDBOX_IMAGE", "").strip() or d.image),
        )


NO_SANDBOX = SandboxConfig(mode="none")
