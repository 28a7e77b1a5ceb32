"""OpenEnv servers as their authors write them, built only with OpenEnv's own packages
(`create_app`, `MCPEnvironment`, its types), served from the test process over loopback.

`PlainEnv(kind)`:
- "seeded": an MCP environment without the Task API whose reset uses the seed: the
  question is "What is SEED plus one?" and `answer(value)` gets reward 1 when right;
- "random": the same, but its reset ignores the seed (a random number each time);
- "tasks": takes the task in reset (`reset(task_id=...)`), ignores split and index.

`task_api=False` also removes OpenEnv's Task API routes, as a server built with
openenv-core 0.3 has none (`/list_environments` answers 404 with a dict).
`max_sessions` is create_app's `max_concurrent_envs` (None: OpenEnv's default, 1).

Every reset is recorded in `resets` (seed, the other reset arguments) for the tests.
"""

from __future__ import annotations

import random
import threading
import uuid
from typing import Any

from fastmcp import FastMCP
from openenv.core.env_server.http_server import create_app
from openenv.core.env_server.mcp_environment import MCPEnvironment
from openenv.core.env_server.mcp_types import CallToolAction, CallToolObservation
from openenv.core.env_server.types import Action, Observation, State

from tests.fakes.threaded_server import ThreadedServer

TASKS = {"t1": ("Capital of France?", "Paris"), "t2": ("Two plus two?", "4"), "t3": ("Color of the sky?", "blue")}


class QuestionObservation(Observation):
    question: str = ""
    request_id: str = ""  # a volatile field: differs on every reset


class PlainEnv:
    def __init__(self, kind: str = "seeded", task_api: bool = True, max_sessions: int | None = None):
        self.kind = kind
        self.resets: list[dict[str, Any]] = []
        # Sessions in play: from a reset until the episode is over (answered) or its environment
        # closes. Not from the environment's creation: OpenEnv's server frees a session's slot
        # before it calls the old environment's close(), so a client may rightly open the next
        # session while the last environment is still closing; a reset comes a round trip later.
        self.active = 0
        self.most_active = 0  # the most ever in play at once
        self._lock = threading.Lock()
        owner = self

        class Env(MCPEnvironment):
            SUPPORTS_CONCURRENT_SESSIONS = True

            def __init__(self) -> None:
                mcp = FastMCP("plain")

                @mcp.tool
                def answer(value: str) -> str:
                    """Give your answer. This ends the episode."""
                    self._reward = 1.0 if value.strip().lower() == self._expected.lower() else 0.0
                    self._leave_play()
                    return "Answer received."

                super().__init__(mcp)
                self._expected = ""
                self._reward: float | None = None
                self._state = State(episode_id=None, step_count=0)
                self._in_play = False

            def _leave_play(self) -> None:
                with owner._lock:
                    if self._in_play:
                        self._in_play = False
                        owner.active -= 1

            def close(self) -> None:
                self._leave_play()
                super().close()

            def reset(self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any) -> QuestionObservation:
                with owner._lock:
                    owner.resets.append({"seed": seed, **kwargs})
                    if not self._in_play:
                        self._in_play = True
                        owner.active += 1
                        owner.most_active = max(owner.most_active, owner.active)
                self._reward = None
                self._state = State(episode_id=episode_id or uuid.uuid4().hex, step_count=0)
                if owner.kind == "tasks":
                    question, self._expected = TASKS[str(kwargs.get("task_id"))]
                else:
                    n = seed if owner.kind == "seeded" and seed is not None else random.randrange(10**9)
                    question, self._expected = f"What is {n} plus one?", str(n + 1)
                return QuestionObservation(question=question, request_id=uuid.uuid4().hex, metadata={"episode_id": self._state.episode_id}, done=False, reward=None)

            def _finish(self, observation: Observation) -> Observation:
                self._state.step_count += 1
                if self._reward is not None:
                    observation.done, observation.reward = True, self._reward
                return observation

            def step(self, action: Action, timeout_s: float | None = None, **kwargs: Any) -> Observation:
                return self._finish(super().step(action, timeout_s=timeout_s, **kwargs))

            async def step_async(self, action: Action, timeout_s: float | None = None, **kwargs: Any) -> Observation:
                return self._finish(await super().step_async(action, timeout_s=timeout_s, **kwargs))

            def _step_impl(self, action: Action, timeout_s: float | None = None, **kwargs: Any) -> Observation:
                return Observation(done=False, reward=None, metadata={"error": "call a tool"})

            @property
            def state(self) -> State:
                return self._state

        self.app = create_app(Env, CallToolAction, CallToolObservation, env_name="plain", max_concurrent_envs=max_sessions)
        if not task_api:
            self.app.router.routes = [r for r in self.app.router.routes if "Task API" not in (getattr(r, "tags", None) or [])]
        self._server = ThreadedServer("plain OpenEnv environment", ws_ping_interval=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    def seeds(self) -> list[int]:
        return [r["seed"] for r in self.resets]

    def __enter__(self) -> PlainEnv:
        self._server.start(self.app)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.stop()
