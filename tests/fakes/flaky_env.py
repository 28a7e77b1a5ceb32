"""A `dataset` environment served from the test process, that crashes mid-episode on chosen
tasks: while a task id is in `broken`, the step that runs the agent's tool call fails on
the server, so the agent's session sees the environment fail after its model turn (an
infrastructure error, with the cause). Empty `broken` and the environment is fixed.

`with FlakyDataset(path) as env:` then `--env env.url` (a running OpenEnv server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openenv.core.env_server.mcp_types import CallToolAction

from agentopt.envs.builtin.common import make_app
from agentopt.envs.builtin.dataset.server import DatasetEnvironment, load_dataset, load_schema
from tests.fakes.threaded_server import ThreadedServer


class FlakyDataset:
    def __init__(self, path: Path):
        self.broken: set[str] = set()
        self.crashes: list[str] = []  # task ids, one per crash
        self._server = ThreadedServer("flaky environment", ws_ping_interval=None)
        self.port = self._server.port
        tasks, schema = load_dataset(Path(path)), load_schema(Path(path))
        owner = self

        class Flaky(DatasetEnvironment):
            async def step_async(self, action: Any, timeout_s: float | None = None, **kwargs: Any) -> Any:
                # A tool call crashes (after the episode's model turn); listing tools does not.
                task_id = str(self.task.get("id")) if isinstance(action, CallToolAction) else None
                if task_id in owner.broken:
                    owner.crashes.append(task_id)
                    raise RuntimeError(f"simulated environment crash on task {task_id}")
                return await super().step_async(action, timeout_s=timeout_s, **kwargs)

        self.app = make_app(lambda: Flaky(tasks, schema), "dataset")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FlakyDataset:
        self._server.start(self.app)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.stop()
