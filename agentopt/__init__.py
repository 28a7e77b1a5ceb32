"""agentopt: make LLM agents measurably better at a team's own work.

The data flows one way: a spec and a rubric are loaded (`agentopt.spec`), an OpenEnv
environment plays episodes with the agent (`agentopt.envs`, `agentopt.episode`), each
trace is scored (`agentopt.scoring`), and the run folder keeps everything
(`agentopt.store`). `agentopt.evaluate(...)` and `agentopt.optimize(...)` (`agentopt.api`)
are what a notebook calls: they write the same run folder as `agentopt eval` and `agentopt run`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "evaluate", "optimize"]

if TYPE_CHECKING:
    from agentopt.api import evaluate, optimize


def __getattr__(name: str) -> Any:
    """`evaluate` and `optimize` are `agentopt.api`'s, imported on first use (PEP 562) so that
    `import agentopt` and the CLI's start stay light. No submodule has either name (the modules
    are `agentopt.evaluation` and `agentopt.optimizer`), so nothing can shadow them."""
    if name in ("evaluate", "optimize"):
        return getattr(import_module("agentopt.api"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "evaluate", "optimize"])
