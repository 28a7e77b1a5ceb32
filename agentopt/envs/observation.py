"""An observation as the agent reads it, when the spec gives no `loop.observation_template`.

An observation is a mapping of fields (OpenEnv's `Observation` model dumped: the
environment's own fields, `metadata`, `done`, `reward`). The agent sees its non-empty fields
as `field: value` lines, without `done` and `reward` (the harness reads those); a mapping
value (e.g. `metadata`) shows one indented line per key. An observation whose only field is
the task's text (`prompt`, `question`, ...: agentopt's own environments) shows that text
alone. Nothing ever shows as `{}`.

A session's reset and step give a `ResetOutcome` and a `StepOutcome`; `ToolSpec` is a tool it
offers. They live here, below the session and its MCP and typed action modules, which all use them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PROMPT_FIELDS = ("prompt", "message", "text", "question", "instruction", "input")
HARNESS_FIELDS = ("done", "reward")  # read by the harness, not shown
EMPTY_RESET = "(the environment's first observation is empty)"
EMPTY_STEP = "(the environment returned an empty observation)"


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class StepOutcome:
    text: str  # what the agent sees as the tool's result (without loop.observation_template)
    error: str | None
    reward: float | None
    done: bool
    metadata: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)  # the observation, for loop.observation_template


@dataclass(frozen=True)
class ResetOutcome:
    prompt: str  # the first user message (without loop.observation_template)
    context: dict[str, Any]  # variables for the system prompt template: the observation's fields and its `context`
    fields: dict[str, Any] = field(default_factory=dict)  # the reset observation, for loop.observation_template


def observation_fields(result: Any) -> dict[str, Any]:
    """An OpenEnv StepResult's observation as a mapping of its fields, with `metadata`,
    `reward` and `done` (from the result when the observation leaves them out)."""
    obs = result.observation
    if hasattr(obs, "model_dump"):
        obs = obs.model_dump()
    fields = dict(obs) if isinstance(obs, dict) else {"observation": obs}
    if not fields.get("metadata") and result.metadata:
        fields["metadata"] = dict(result.metadata)
    fields.setdefault("metadata", {})
    fields["reward"] = result.reward
    fields["done"] = bool(result.done)
    return fields


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, (dict, list, tuple)) and not value)


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def readable(fields: dict[str, Any], skip: tuple[str, ...] = ()) -> str:
    """Non-empty fields as `field: value` lines ("" when there are none)."""
    lines = []
    for key, value in fields.items():
        if key in HARNESS_FIELDS or key in skip or _empty(value):
            continue
        if isinstance(value, dict):
            inner = [f"  {k}: {_value(v)}" for k, v in value.items() if not _empty(v)]
            lines += [f"{key}:", *inner]
        else:
            lines.append(f"{key}: {_value(value)}")
    return "\n".join(lines)


def reset_text(fields: dict[str, Any]) -> str:
    """The first user message. `context` is left out: agentopt's environments give the system
    prompt's variables there, not something for the agent to read."""
    shown = {k: v for k, v in fields.items() if k not in HARNESS_FIELDS and k != "context" and not _empty(v)}
    if len(shown) == 1:
        (key, value), = shown.items()
        if key in PROMPT_FIELDS and isinstance(value, str):
            return value
    return readable(shown) or EMPTY_RESET


def step_text(fields: dict[str, Any]) -> str:
    return readable(fields) or EMPTY_STEP
