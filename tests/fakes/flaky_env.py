"""A `dataset` environment served from the test process, that crashes mid-episode on chosen
tasks: while a task id is in `broken`, the step that runs the agent's tool call fails on
the server, so the agent's session sees the environment fail after its model turn (an
infrastructure error, with the cause). Empty `broken` and the environment is fixed.

`with FlakyDataset(path) as env:` then `--env env.url` (a running OpenEnv server).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from agentopt.envs.builtin.common import make_app
from agentopt.envs.builtin.dataset.server import DatasetEnvironment, load_dataset, load_schema
from agentopt.servers import free_port


class FlakyDataset:
    def __init__(self, path: Path):
        self.broken: set[str] = set()
        self.crashes: list[str] = []  # task ids, one per crash
        self.port = free_port()
        tasks, schema = load_dataset(Path(path)), load_schema(Path(path))
        owner = self

        class Flaky(DatasetEnvironment):
            async def step_async(self, action: Any, timeout_s: float | None = None, **kwargs: Any) -> Any:
                task_id = str(self.task.get("id"))
                if task_id in owner.broken:
                    owner.crashes.append(task_id)
                    raise RuntimeError(f"simulated environment crash on task {task_id}")
                return await super().step_async(action, timeout_s=timeout_s, **kwargs)

        self.app = make_app(lambda: Flaky(tasks, schema), "dataset")
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "FlakyDataset":
        self._server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="error", ws_ping_interval=None))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("flaky environment server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)
