"""OpenEnv without its Gradio web UI unless asked for: seconds saved at every process start.

`openenv.core.env_server`'s `__init__` imports its optional web interface
(`openenv.core.env_server.web_interface`), which imports gradio: 3-5 s of a process's start
on an idle machine, 10-20 s on a loaded one, paid by every environment server and by every
`agentopt eval`/`run` that opens an OpenEnv client. agentopt never serves that interface.
OpenEnv already treats the module as optional (`create_web_interface_app = None` when its
import fails), and imports it again inside `create_app` when `ENABLE_WEB_INTERFACE` is set.

So the finder below refuses only that one import made by that `__init__`, and only when
`ENABLE_WEB_INTERFACE` is off and gradio is not already loaded. An environment that asks for
the web interface (the variable set), or imports it itself later, gets it as before.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

PACKAGE = "openenv.core.env_server"
WEB_UI = f"{PACKAGE}.web_interface"


def web_ui_wanted() -> bool:
    """OpenEnv's own switch (`create_app` reads the same variable, with the same values)."""
    return os.getenv("ENABLE_WEB_INTERFACE", "false").lower() in ("true", "1", "yes")


class SkipWebUI(importlib.abc.MetaPathFinder):
    """Refuses `openenv.core.env_server.web_interface` while its package's `__init__` runs."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname != WEB_UI or web_ui_wanted() or "gradio" in sys.modules:
            return None
        package = sys.modules.get(PACKAGE)
        if package is None or not getattr(package.__spec__, "_initializing", False):
            return None  # imported on purpose after start-up: found as usual
        raise ModuleNotFoundError(f"{WEB_UI} skipped by agentopt (set ENABLE_WEB_INTERFACE=true for it)", name=WEB_UI)


def install() -> None:
    """Once per process, before anything imports `openenv.core`."""
    if not any(isinstance(finder, SkipWebUI) for finder in sys.meta_path):
        sys.meta_path.insert(0, SkipWebUI())
