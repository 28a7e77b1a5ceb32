"""agentopt: make LLM agents measurably better at a team's own work.

The data flows one way: a spec and a rubric are loaded (`agentopt.spec`), an OpenEnv
environment plays episodes with the agent (`agentopt.envs`, `agentopt.episode`), each
trace is scored (`agentopt.scoring`), and the run folder keeps everything
(`agentopt.store`). `agentopt.evaluate(...)` and `agentopt.optimize(...)` (`agentopt.api`)
are what a notebook calls: they write the same run folder as `agentopt eval` and `agentopt run`.
"""

import sys
import types
from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "evaluate", "optimize"]


def evaluate(*args: Any, **kwargs: Any) -> Any:
    """Evaluate an agent and write its run folder: see `agentopt.api.evaluate`."""
    from agentopt.api import evaluate as run

    return run(*args, **kwargs)


def optimize(*args: Any, **kwargs: Any) -> Any:
    """Optimize an agent and write its run folder with best/: see `agentopt.api.optimize`."""
    from agentopt.api import optimize as run

    return run(*args, **kwargs)




class _Package(types.ModuleType):
    """`agentopt.evaluate` and `agentopt.optimize` are also submodules. Importing a submodule sets
    it as an attribute of its package, which would replace the functions above once the CLI or
    the API imports them; the functions are kept (the submodules stay in sys.modules, so
    `from agentopt.evaluate import ...` is unchanged). The API is imported on first call,
    so `import agentopt` (and the CLI's start) stays fast."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("evaluate", "optimize") and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
