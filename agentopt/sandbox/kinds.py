"""`SANDBOXES`: the registry of the sandbox extension point (`base.Sandbox`), filled with the
built-ins (local, docker, none) and the `agentopt.sandboxes` entry-point group."""

from __future__ import annotations

from agentopt.registry import Registry
from agentopt.sandbox.base import Sandbox, sandbox_problem


def _builtins() -> list[Sandbox]:
    from agentopt.sandbox.docker import DockerSandbox
    from agentopt.sandbox.local import LocalSandbox
    from agentopt.sandbox.none import NoSandbox

    return [LocalSandbox(), DockerSandbox(), NoSandbox()]


SANDBOXES: Registry[Sandbox] = Registry("agentopt.sandboxes", "sandbox", _builtins, sandbox_problem)


def sandbox_for(mode: str) -> Sandbox:
    """The sandbox named `mode`; a usage error naming the known ones otherwise."""
    known = SANDBOXES.all()
    if mode not in known:
        from agentopt.errors import UsageError

        raise UsageError(f"--sandbox: unknown mode {mode!r}: use {' or '.join(known)}")
    return known[mode]
