"""An OpenEnv environment written against `openenv-core` 0.3's own API, as most published
environments still are: a typed action (`ArithmeticAction{answer}`), the task in a field
of the reset observation (`question`), no Task API, no MCP tools. The question is drawn
from the reset's `seed`, so the same seed gives the same episode. With `--mcp` the same task
is an `MCPEnvironment` (0.3's) whose one tool is `submit(answer)`.

Run by the python of a virtualenv with `openenv-core==0.3.*` (never agentopt's venv):

    <oldvenv>/bin/python tests/fakes/old_core_env.py --port 8123 [--log resets.jsonl] [--max-sessions 8] [--mcp]

Each reset and step is appended to `--log` as one JSON line, so a test can compare what the
server handed out with what the agent saw and how it was scored.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
from typing import Any
from uuid import uuid4

from openenv.core.env_server.http_server import create_app
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.mcp_environment import MCPEnvironment
from openenv.core.env_server.mcp_types import CallToolAction, CallToolObservation
from openenv.core.env_server.types import Action, Observation, State
from pydantic import Field

LOG_PATH: str | None = None
_LOG_LOCK = threading.Lock()


def record(event: dict[str, Any]) -> None:
    if LOG_PATH:
        with _LOG_LOCK, open(LOG_PATH, "a", encoding="utf-8") as log:
            log.write(json.dumps(event) + "\n")


class ArithmeticAction(Action):
    """Answer the question in the observation."""

    answer: int = Field(..., description="The sum asked for in the question")


class ArithmeticObservation(Observation):
    question: str = Field(default="", description="The question to answer")
    feedback: str = Field(default="", description="Whether the last answer was right")


class ArithmeticEnvironment(Environment):
    """One question per episode; one answer ends it with reward 1 (right) or 0 (wrong)."""

    SUPPORTS_CONCURRENT_SESSIONS: bool = True

    def __init__(self) -> None:
        super().__init__()
        self._state = State(episode_id=str(uuid4()), step_count=0)
        self._a = self._b = 0
        self._seed: int | None = None

    def reset(self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any) -> ArithmeticObservation:
        rng = random.Random(seed)
        self._a, self._b = rng.randint(1000, 9999), rng.randint(1000, 9999)
        self._seed = seed
        self._state = State(episode_id=episode_id or str(uuid4()), step_count=0)
        question = f"What is {self._a} + {self._b}?"
        record({"event": "reset", "seed": seed, "kwargs": sorted(kwargs), "question": question, "sum": self._a + self._b})
        return ArithmeticObservation(question=question, done=False, reward=None)

    def step(self, action: ArithmeticAction, timeout_s: float | None = None, **kwargs: Any) -> ArithmeticObservation:  # type: ignore[override]
        self._state.step_count += 1
        right = action.answer == self._a + self._b
        record({"event": "step", "seed": self._seed, "answer": action.answer, "right": right})
        return ArithmeticObservation(
            question=f"What is {self._a} + {self._b}?",
            feedback="correct" if right else f"wrong: {self._a} + {self._b} = {self._a + self._b}",
            done=True,
            reward=1.0 if right else 0.0,
        )

    @property
    def state(self) -> State:
        return self._state


class ArithmeticMCPEnvironment(MCPEnvironment):
    """The same episodes with an MCP tool `submit(answer)`; the reward is set on the tool's
    step (a 0.3 `CallToolObservation` carries none by itself)."""

    SUPPORTS_CONCURRENT_SESSIONS: bool = True

    def __init__(self) -> None:
        from fastmcp import FastMCP

        mcp = FastMCP("arithmetic")
        self._task = ArithmeticEnvironment()
        self._reward: float | None = None

        @mcp.tool
        def submit(answer: int) -> str:
            """Submit the sum asked for in the question. Ends the episode."""
            observation = self._task.step(ArithmeticAction(answer=answer))
            self._reward = observation.reward
            return observation.feedback

        super().__init__(mcp)

    def reset(self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any) -> ArithmeticObservation:
        self._reward = None
        return self._task.reset(seed=seed, episode_id=episode_id, **kwargs)

    def _finish(self, observation: Observation) -> Observation:
        if self._reward is not None:
            observation.reward, observation.done = self._reward, True
        return observation

    def step(self, action: Action, timeout_s: float | None = None, **kwargs: Any) -> Observation:
        return self._finish(super().step(action, timeout_s=timeout_s, **kwargs))

    async def step_async(self, action: Action, timeout_s: float | None = None, **kwargs: Any) -> Observation:
        return self._finish(await super().step_async(action, timeout_s=timeout_s, **kwargs))

    def _step_impl(self, action: Action, timeout_s: float | None = None, **kwargs: Any) -> Observation:
        raise ValueError(f"unknown action {type(action).__name__}: use the submit tool")

    @property
    def state(self) -> State:
        return self._task.state


def main() -> None:
    global LOG_PATH
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", default=None)
    parser.add_argument("--max-sessions", type=int, default=8)
    parser.add_argument("--mcp", action="store_true", help="serve the MCP tool version")
    args = parser.parse_args()
    LOG_PATH = args.log
    if args.mcp:
        app = create_app(ArithmeticMCPEnvironment, CallToolAction, CallToolObservation,
                         env_name="arithmetic", max_concurrent_envs=args.max_sessions)
    else:
        app = create_app(ArithmeticEnvironment, ArithmeticAction, ArithmeticObservation,
                         env_name="arithmetic", max_concurrent_envs=args.max_sessions)
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
