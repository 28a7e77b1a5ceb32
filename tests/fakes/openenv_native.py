"""OpenEnv environments written the way their authors write them: only OpenEnv's own
packages (`create_app`, `Environment`, `Action`/`Observation`/`State`, `MCPEnvironment` with
fastmcp), none of agentopt's helpers, no Task API. Each module attribute ending in `_app`
is an ASGI app, as published environments export it (`--env tests.fakes.openenv_native:grid_app`).

- `grid_app`: a typed-action grid world. The action is `GridAction{direction}`; the reset
  observation carries the task in its own fields (`instructions`, `position`, `goal`); the goal
  is drawn from the reset's seed. Reaching the goal ends the episode with reward 1; five
  moves without it end it with reward 0; going left from column 0 raises (OpenEnv answers
  an EXECUTION_ERROR and keeps the session). Each step is appended to `GRID_LOG` (a file named
  by that environment variable) so a test sees which actions reached the server.
- `quiz_app`: an MCP tool environment (`answer(value)`) that puts its question in the reset
  observation's `metadata`; the right answer ends the episode with reward 1, else 0.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal
from uuid import uuid4

from fastmcp import FastMCP
from openenv.core.env_server.http_server import create_app
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.mcp_environment import MCPEnvironment
from openenv.core.env_server.mcp_types import CallToolAction, CallToolObservation
from openenv.core.env_server.types import Action, Observation, State
from pydantic import Field

MOVES = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
GOALS = [(0, 2), (2, 0), (1, 1)]


class GridAction(Action):
    """Move one square on the grid."""

    direction: Literal["up", "down", "left", "right"] = Field(..., description="Which way to move")


class GridObservation(Observation):
    instructions: str = Field(default="", description="What to do")
    position: list[int] = Field(default_factory=list, description="Where you are: [row, column]")
    goal: list[int] = Field(default_factory=list, description="Where to go: [row, column]")
    last_move: str = Field(default="", description="What the last move did")


class GridEnvironment(Environment):
    SUPPORTS_CONCURRENT_SESSIONS: bool = True

    def __init__(self) -> None:
        super().__init__()
        self._state = State(episode_id=str(uuid4()), step_count=0)
        self._pos = [0, 0]
        self._goal = [0, 2]

    def reset(self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any) -> GridObservation:
        self._goal = list(GOALS[(seed or 0) % len(GOALS)])
        self._pos = [0, 0]
        self._state = State(episode_id=episode_id or str(uuid4()), step_count=0)
        return GridObservation(
            instructions=f"Walk from [0, 0] to the goal at row {self._goal[0]}, column {self._goal[1]} on a 3x3 grid.",
            position=list(self._pos), goal=list(self._goal),
        )

    def step(self, action: GridAction, timeout_s: float | None = None, **kwargs: Any) -> GridObservation:  # type: ignore[override]
        if action.direction == "left" and self._pos[1] == 0:
            raise ValueError("cannot go left from column 0: the grid has no column -1")  # OpenEnv answers EXECUTION_ERROR
        self._state.step_count += 1
        dr, dc = MOVES[action.direction]
        row, col = self._pos[0] + dr, self._pos[1] + dc
        moved = 0 <= row < 3 and 0 <= col < 3
        if moved:
            self._pos = [row, col]
        reached = self._pos == self._goal
        if os.environ.get("GRID_LOG"):
            with open(os.environ["GRID_LOG"], "a", encoding="utf-8") as log:
                log.write(json.dumps({"direction": action.direction, "position": self._pos, "reached": reached}) + "\n")
        done = reached or self._state.step_count >= 5
        return GridObservation(
            position=list(self._pos), goal=list(self._goal),
            last_move=f"moved {action.direction}" if moved else f"bumped into the wall going {action.direction}",
            done=done, reward=(1.0 if reached else 0.0) if done else None,
        )

    @property
    def state(self) -> State:
        return self._state


QUESTIONS = [("What is 6 times 7?", "42"), ("What is the capital of Italy?", "Rome"), ("How many legs has a spider?", "8")]


class QuizEnvironment(MCPEnvironment):
    """The question is in the reset observation's metadata; `answer` ends the episode."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self) -> None:
        mcp = FastMCP("quiz")
        self._expected = ""
        self._reward: float | None = None

        @mcp.tool
        def answer(value: str) -> str:
            """Give your final answer to the question."""
            self._reward = 1.0 if value.strip().lower() == self._expected.lower() else 0.0
            return "recorded"

        super().__init__(mcp)
        self._state = State(episode_id=str(uuid4()), step_count=0)

    def reset(self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any) -> Observation:
        question, self._expected = QUESTIONS[(seed or 0) % len(QUESTIONS)]
        self._reward = None
        self._state = State(episode_id=episode_id or str(uuid4()), step_count=0)
        return Observation(metadata={"question": question, "topic": "general knowledge"})

    def _finish(self, observation: Observation) -> Observation:
        if self._reward is not None:
            observation.done, observation.reward = True, self._reward
        return observation

    def step(self, action: Action, timeout_s: float | None = None, **kwargs: Any) -> Observation:
        return self._finish(super().step(action, timeout_s=timeout_s, **kwargs))

    async def step_async(self, action: Action, timeout_s: float | None = None, **kwargs: Any) -> Observation:
        return self._finish(await super().step_async(action, timeout_s=timeout_s, **kwargs))

    def _step_impl(self, action: Action, timeout_s: float | None = None, **kwargs: Any) -> Observation:
        return Observation(metadata={"error": "call the answer tool"})

    @property
    def state(self) -> State:
        return self._state


grid_app = create_app(GridEnvironment, GridAction, GridObservation, env_name="grid", max_concurrent_envs=8)
quiz_app = create_app(QuizEnvironment, CallToolAction, CallToolObservation, env_name="quiz", max_concurrent_envs=8)
