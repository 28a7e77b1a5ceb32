"""What one episode leaves behind: the trace every check scores and every report shows."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Why an episode stopped. "error" means an infrastructure error: never scored as a 0.
STOP_REASONS = ("done", "final_answer", "max_turns", "max_tokens", "error")


@dataclass(frozen=True)
class ToolCall:
    """One tool call the agent made and what the environment answered."""

    name: str
    arguments: dict[str, Any]
    result: str | None = None  # the tool's text result
    error: str | None = None  # the tool's error (unknown tool, bad arguments, exception)
    reward: float | None = None  # the environment's reward after this step
    done: bool = False  # the environment ended the episode after this step


@dataclass(frozen=True)
class Trace:
    """Everything an episode did, in a form that serializes to one JSON line."""

    episode_id: str
    task_id: str  # per repeat when a task is played more than once
    split: str
    task: dict[str, Any]  # the task spec from the environment's Task API ({} when it has none)
    messages: list[dict[str, Any]]  # OpenAI-format chat messages, system prompt first
    tool_calls: list[ToolCall] = field(default_factory=list)
    final_answer: str | None = None  # the agent's final text, or the JSON arguments of the ending call
    reward: float | None = None  # the environment's last reward
    # Every environment step's reward in order, None for a step that gave none. Records written
    # before this field existed are read back with the rewards of their tool calls.
    rewards: tuple[float | None, ...] = ()
    done: bool = False  # the environment said the episode is over
    turns: int = 0  # model turns taken
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0  # wall time of the whole episode
    model_calls: int = 0  # calls that reached the provider (cache hits excluded)
    cached_calls: int = 0  # calls answered from the on-disk cache
    stop_reason: str = "done"
    error: str | None = None  # infrastructure error (provider, environment, protocol), with its cause
    info: dict[str, Any] = field(default_factory=dict)  # the environment's metadata from its last step
    variables: list[str] = field(default_factory=list)  # the prompt variables the environment gave at reset
    base_task_id: str | None = None  # the task this episode is a repeat of (None: not repeated, task_id is the task)
    repeat: int = 0  # which repeat of base_task_id (0 for the first)
    truncated_turns: int = 0  # model turns cut at model_params.max_tokens (finish_reason "length")

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def is_infra_error(self) -> bool:
        return self.stop_reason == "error"

    def answer_json(self) -> Any:
        """The final answer parsed as JSON, or None when it is not JSON."""
        if self.final_answer is None:
            return None
        try:
            return json.loads(self.final_answer)
        except (TypeError, ValueError):
            return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        data = dict(data)
        data["tool_calls"] = [ToolCall(**c) for c in data.get("tool_calls", [])]
        if "rewards" in data:
            data["rewards"] = tuple(data["rewards"] or ())
        else:  # an older record: each step's reward is on its tool call
            data["rewards"] = tuple(c.reward for c in data["tool_calls"])
        return cls(**data)

    def step_rewards(self) -> list[float]:
        """The rewards the environment gave, in order (steps without one left out). A trace that
        only knows its last reward (built by hand, or by an older agentopt) gives that one."""
        given = [r for r in self.rewards if r is not None]
        if not given and self.reward is not None:
            return [self.reward]
        return given
