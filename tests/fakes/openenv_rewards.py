"""Two OpenEnv environments about rewards, built only with OpenEnv's own packages
(`create_app`, `MCPEnvironment` with a fastmcp server, `CallToolAction`/`CallToolObservation`)
and served from the test process over loopback.

- `RewardEnv("penalty")`: a corridor. `move(direction)` costs -0.1 per step; the step that
  reaches the goal (`steps` moves to the right) gives +1.0 and ends the episode. The return
  of an episode that walks straight there is 1.0 - 0.1 * (steps - 1); its last reward is 1.0.
- `RewardEnv("silent")`: `answer(value)` ends the episode and no step ever gives a reward.
- `RewardEnv("coin")`: `answer(value)` ends the episode with reward 1 unless the reset's seed
  is a multiple of 4 (then 0): repeats of one task with distinct seeds pass or fail by seed.

Both publish OpenEnv's Task API (`list_tasks`): split val has `TASKS` tasks.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastmcp import FastMCP
from openenv.core.env_server.http_server import create_app
from openenv.core.env_server.mcp_environment import MCPEnvironment
from openenv.core.env_server.mcp_types import CallToolAction, CallToolObservation
from openenv.core.env_server.types import Action, Observation, State

from tests.fakes.threaded_server import ThreadedServer

STEP_PENALTY = -0.1
GOAL_REWARD = 1.0
TASKS = 2


class PromptObservation(Observation):
    prompt: str = ""


class RewardEnv:
    def __init__(self, kind: str, steps: int = 3):
        assert kind in ("penalty", "silent", "coin")
        self.seeds: list[int | None] = []  # every reset's seed
        self.kind, self.steps = kind, steps
        owner = self

        class Env(MCPEnvironment):
            SUPPORTS_CONCURRENT_SESSIONS = True

            def __init__(self) -> None:
                mcp = FastMCP(owner.kind)
                if owner.kind == "penalty":

                    @mcp.tool
                    def move(direction: str) -> str:
                        """Move one cell: left or right. Each move costs 0.1; the goal is worth 1."""
                        self._position += 1 if direction == "right" else -1
                        self._moved = True
                        return f"You are at {self._position} of {owner.steps}."

                else:

                    @mcp.tool
                    def answer(value: str) -> str:
                        """Give your answer. This ends the episode."""
                        self._answered = True
                        return "Answer received."

                super().__init__(mcp)
                self._position, self._moved, self._answered, self._seed = 0, False, False, None
                self._state = State(episode_id=None, step_count=0)

            def list_tasks(self, split: str) -> list[dict[str, Any]]:
                return [{"id": f"{owner.kind}-{i}"} for i in range(TASKS)] if split == "val" else []

            def reset(self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any) -> PromptObservation:
                self._position, self._moved, self._answered = 0, False, False
                self._seed = seed
                owner.seeds.append(seed)
                self._state = State(episode_id=episode_id or uuid.uuid4().hex, step_count=0)
                prompt = (f"Walk right to cell {owner.steps}." if owner.kind == "penalty" else "Say anything.")
                return PromptObservation(prompt=prompt, done=False, reward=None)

            def _finish(self, observation: Observation) -> Observation:
                self._state.step_count += 1
                if owner.kind == "penalty" and self._moved:
                    self._moved = False
                    reached = self._position >= owner.steps
                    observation.reward = GOAL_REWARD if reached else STEP_PENALTY
                    observation.done = reached
                elif owner.kind == "silent" and self._answered:
                    observation.done, observation.reward = True, None
                elif owner.kind == "coin" and self._answered:
                    observation.done = True
                    observation.reward = 0.0 if self._seed is None or self._seed % 4 == 0 else 1.0
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

        self.app = create_app(Env, CallToolAction, CallToolObservation, env_name=kind, max_concurrent_envs=4)
        self._server = ThreadedServer(f"{kind} reward OpenEnv environment", ws_ping_interval=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    def __enter__(self) -> RewardEnv:
        self._server.start(self.app)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.stop()
