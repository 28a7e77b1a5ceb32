"""Jinja2 templates in check values, e.g. `value: "{{ expected.category }}"`.

Templates run sandboxed with StrictUndefined, so a misspelled variable fails loudly
instead of rendering as an empty string. Variables: `task`, `expected` (the task's
`expected` field) and `trace` (the whole trace as a dict); callers may add more.
"""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from agentopt.errors import AgentoptError
from agentopt.trace import Trace

_ENV = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)


class TemplateRenderError(AgentoptError):
    """A check's template failed on a trace (e.g. it names a field this task lacks)."""


def template_variables(trace: Trace, **extra: Any) -> dict[str, Any]:
    return {"task": trace.task, "expected": trace.task.get("expected"), "trace": trace.to_dict(), **extra}


def render(value: Any, trace: Trace, **extra: Any) -> Any:
    """Render every string in `value` (a string, or lists/mappings of them); others pass through."""
    return _render_value(value, template_variables(trace, **extra))


def _render_value(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return _render_text(value, variables)
    if isinstance(value, list):
        return [_render_value(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: _render_value(item, variables) for key, item in value.items()}
    return value


def template_problem(text: str) -> str | None:
    """Why `text` does not parse as a template, or None when it does."""
    try:
        _ENV.parse(text)
    except TemplateSyntaxError as exc:
        return f"template does not parse (line {exc.lineno}): {exc.message}"
    return None


def _render_text(text: str, variables: dict[str, Any]) -> str:
    if "{" not in text:  # every Jinja2 delimiter starts with "{"
        return text
    try:
        return _ENV.from_string(text).render(**variables)
    except TemplateError as exc:
        raise TemplateRenderError(f"template {text[:60]!r} failed: {exc}") from exc
