"""What every built-in environment shares: tasks by split (OpenEnv's Task API), a
reset that selects a task, and an episode that ends when a tool says so.

OpenEnv pitfalls handled here once:
- the WebSocket handler calls `step_async` when an env overrides it, so we override
  both `step` and `step_async` and finish the episode in one place (`_finish_step`);
- sessions are concurrent-safe (no shared mutable state), so we declare
  SUPPORTS_CONCURRENT_SESSIONS and the server sets `max_concurrent_envs`.
"""

from __future__ import annotations

import uuid
from typing import Any

from openenv.core.env_server.mcp_environment import MCPEnvironment
from openenv.core.env_server.mcp_types import CallToolAction
from openenv.core.env_server.types import Action, Observation, State

from agentopt.envs.builtin.jsonl import SPLITS  # noqa: F401 - re-exported for environments

MAX_CONCURRENT_SESSIONS = 64


class TaskObservation(Observation):
    """What reset returns: the text the agent sees first, and the variables for its prompt."""

    prompt: str = ""
    context: dict[str, Any] = {}


class TaskState(State):
    task_id: str | None = None
    split: str | None = None
    finished: bool = False



class TaskEnvironment(MCPEnvironment):
    """Base class: subclasses register tools on `self.mcp` and implement `start_task`.

    A tool that ends the episode calls `self.finish(reward)`; the step that ran it then
    reports done=True with that reward.
    """

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, mcp_server: Any, tasks: dict[str, list[dict[str, Any]]], rubric: Any = None):
        super().__init__(mcp_server)
        # An OpenEnv rubric that replaces the environment's reward (agentopt.openenv.rubric: a YAML rubric)
        self.rubric = rubric
        self._tasks = tasks
        self._task: dict[str, Any] | None = None
        self._state = TaskState(episode_id=None, step_count=0)
        self._reward: float | None = None

    # --- OpenEnv Task API (discovery only, side-effect free) ---
    def list_splits(self) -> list[dict[str, str]]:
        kinds = {"train": "train", "val": "validation", "test": "test"}
        return [{"name": s, "type": kinds.get(s, "validation")} for s in self._tasks]

    def list_tasks(self, split: str) -> list[dict[str, Any]]:
        return list(self._split(split))

    def num_tasks(self, split: str) -> int:
        return len(self._split(split))

    def get_task(self, split: str, index: int) -> dict[str, Any]:
        return self._split(split)[index]

    def get_task_range(self, split: str, start: int | None = None, stop: int | None = None):
        return self._split(split)[start:stop]

    def _split(self, split: str) -> list[dict[str, Any]]:
        if split not in self._tasks:
            raise IndexError(f"unknown split {split!r}; this environment has {sorted(self._tasks)}")
        return self._tasks[split]

    # --- episode ---
    def reset(
        self,
        seed: int | None = None,
        episode_id: str | None = None,
        split: str = "train",
        index: int = 0,
        **kwargs: Any,
    ) -> TaskObservation:
        task = self.get_task(split, int(index))
        self._task = task
        self._reward = None
        self._state = TaskState(
            episode_id=episode_id or uuid.uuid4().hex, step_count=0, task_id=str(task.get("id", index)), split=split
        )
        if self.rubric is not None:
            self._reset_rubric()
            self.rubric.task = task  # what the rubric's checks read as `task` and `expected`
        prompt, context = self.start_task(task)
        return TaskObservation(prompt=prompt, context=context, done=False, reward=None)

    def start_task(self, task: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Set up the episode's world for `task`; return (first user message, prompt variables)."""
        raise NotImplementedError

    @property
    def task(self) -> dict[str, Any]:
        if self._task is None:
            raise RuntimeError("call reset before using a tool")
        return self._task

    def finish(self, reward: float | None) -> None:
        self._reward = None if reward is None else float(reward)
        self._state.finished = True

    @property
    def state(self) -> TaskState:
        return self._state

    def _finish_step(self, action: Action, observation: Observation) -> Observation:
        if isinstance(action, CallToolAction):
            self._state.step_count += 1
            if self._state.finished:
                observation.done = True
                observation.reward = self._reward
        return observation

    def step(self, action: Action, timeout_s: float | None = None, **kwargs: Any) -> Observation:
        observation = self._finish_step(action, super().step(action, timeout_s=timeout_s, **kwargs))
        if self.rubric is not None and isinstance(action, CallToolAction):
            return self._rewarded(self._apply_rubric(action, observation), observation)
        return observation

    async def step_async(self, action: Action, timeout_s: float | None = None, **kwargs: Any) -> Observation:
        observation = self._finish_step(action, await super().step_async(action, timeout_s=timeout_s, **kwargs))
        if self.rubric is not None and isinstance(action, CallToolAction):
            return self._rewarded(await self._apply_rubric_async(action, observation), observation)
        return observation

    def _rewarded(self, reward: float, observation: Observation) -> Observation:
        """The rubric's reward replaces the environment's; at the end, its criteria go in the metadata."""
        observation.reward = reward
        if observation.done and hasattr(self.rubric, "summary"):
            observation.metadata = {**(observation.metadata or {}), "rubric": self.rubric.summary()}
        return observation

    def _step_impl(self, action: Action, timeout_s: float | None = None, **kwargs: Any) -> Observation:
        return Observation(
            done=False,
            reward=None,
            metadata={"error": f"unsupported action {type(action).__name__}: call a tool (call_tool)"},
        )


def make_app(factory: Any, name: str) -> Any:
    """An OpenEnv FastAPI app for an environment factory, with concurrent sessions enabled."""
    from openenv.core.env_server.http_server import create_app
    from openenv.core.env_server.mcp_types import CallToolObservation

    return create_app(
        factory,
        CallToolAction,
        CallToolObservation,
        env_name=name,
        max_concurrent_envs=MAX_CONCURRENT_SESSIONS,
        state_cls=TaskState,
        reset_observation_cls=TaskObservation,
    )
