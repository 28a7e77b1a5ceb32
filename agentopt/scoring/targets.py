"""Where a check looks: a rubric's `target` string, resolved against a trace.

Targets:
- `answer`: the final answer (nothing when the agent gave none);
- `answer.KEY[.KEY...]`: a field of the final answer parsed as JSON (a digit key
  indexes a list);
- `last_message`: the last assistant message with text in it;
- `messages`: every assistant message's text, and each tool call's arguments as JSON;
- `tool:NAME.ARG`: argument ARG of every call to tool NAME;
- `info.KEY[.KEY...]`: a field of the environment's metadata from its last step
  (e.g. `info.policy_violations` in the support environment).

`select` gives the texts a text check (contains, regex, ...) searches; `select_value`
gives the one raw value a value check (equals, json_schema) compares.
"""

from __future__ import annotations

import json
from typing import Any

from agentopt.trace import Trace

# Targets whose value is text as the agent wrote it (json_schema parses it as JSON).
TEXT_TARGETS = ("answer", "last_message", "messages")
TARGET_HELP = "answer, answer.KEY, last_message, messages, tool:NAME.ARG or info.KEY"

_MISSING = object()


def validate_target(target: Any) -> str | None:
    """The problem with a target string, or None when it is valid."""
    if not isinstance(target, str):
        return f"target must be a string ({TARGET_HELP})"
    if target in TEXT_TARGETS:
        return None
    if target.startswith(("answer.", "info.")):
        if any(not key for key in target.split(".")[1:]):
            return f"target {target!r} has an empty key"
        return None
    if target.startswith("tool:"):
        tool, _, arg = target[len("tool:") :].rpartition(".")
        if not tool or not arg:
            return f"target {target!r} must look like tool:NAME.ARG"
        return None
    return f"unknown target {target!r}: use {TARGET_HELP}"


def select(trace: Trace, target: str) -> list[str]:
    """The texts `target` points at in this trace ([] when there are none)."""
    return [as_text(value) for value in _values(trace, target)]


def select_value(trace: Trace, target: str) -> Any:
    """The raw value `target` points at, or None when absent.

    For targets with several values (`messages`, `tool:NAME.ARG`) this is the last one:
    the agent's latest word.
    """
    values = _values(trace, target)
    return values[-1] if values else None


def as_text(value: Any) -> str:
    """Strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _values(trace: Trace, target: str) -> list[Any]:
    problem = validate_target(target)
    if problem:
        raise ValueError(problem)
    if target == "answer":
        return [] if trace.final_answer is None else [trace.final_answer]
    if target.startswith("answer."):
        value = _follow(trace.answer_json(), target.split(".")[1:])
        return [] if value is _MISSING else [value]
    if target.startswith("info."):
        value = _follow(trace.info, target.split(".")[1:])
        return [] if value is _MISSING else [value]
    if target == "last_message":
        texts = _assistant_texts(trace)
        return texts[-1:]
    if target == "messages":
        return _assistant_texts(trace) + [as_text(call.arguments) for call in trace.tool_calls]
    tool, _, arg = target[len("tool:") :].rpartition(".")
    return [c.arguments[arg] for c in trace.tool_calls if c.name == tool and arg in c.arguments]


def _follow(value: Any, keys: list[str]) -> Any:
    for key in keys:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return _MISSING
    return value


def _assistant_texts(trace: Trace) -> list[str]:
    texts = (message_text(m) for m in trace.messages if m.get("role") == "assistant")
    return [t for t in texts if t.strip()]


def message_text(message: dict[str, Any]) -> str:
    """A chat message's text, whether its content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = (p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
        return "".join(parts)
    return ""
