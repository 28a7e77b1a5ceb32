"""Serve an ASGI app with uvicorn on a thread of the test process, on a free loopback port."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from agentopt.servers import free_port


class ThreadedServer:
    """`start()` returns once uvicorn listens; `stop()` shuts it down and joins the thread."""

    def __init__(self, name: str, **config: Any):
        self.name = name
        self.port = free_port()
        self.config = config  # extra uvicorn.Config options
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, app: Any) -> None:
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error", **self.config))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)
