"""Jinja2 templates, with limits: check values (`value: "{{ expected.category }}"`) and the system prompt.

Templates run sandboxed with StrictUndefined, so a misspelled variable fails loudly
instead of rendering as an empty string. Variables of a check's template: `task`,
`expected` (the task's `expected` field) and `trace` (the whole trace as a dict); callers
may add more. The system prompt (`agentopt.prompt`) renders in the same environment.

A template is code, and the LLM mutator writes system prompts: one `render_limited` call
stops after `RENDER_SECONDS` or once the output passes `MAX_OUTPUT_CHARS`, raising
`TemplateLimitError` with one line. Time is checked where a template spends it: at every
step of every `{% for %}` loop (each loop's iterable is wrapped), at every call (macros,
methods, `loop()`), and between output chunks; `range()` is capped at `MAX_RANGE` items,
and `*` / `**` refuse results past the output cap. Variables are passed as a mapping, so
a dataset field may be named `self` or `kwargs`.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Iterable, Iterator
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from agentopt.errors import TemplateLimitError
from agentopt.scoring.base import CheckError
from agentopt.trace import Trace

RENDER_SECONDS = 2.0  # the most one template may take to render
MAX_OUTPUT_CHARS = 1_000_000  # the most one template may write (about 1 MB)
MAX_RANGE = 100_000  # the longest `range()` a template may build (as Jinja's own sandbox)
MAX_POWER_BITS = 1_000_000  # `**` refuses integers larger than this


class TemplateRenderError(CheckError):
    """A check's template failed on a trace (e.g. it names a field this task lacks)."""


_DEADLINE: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar("template_deadline", default=None)


def _check_time() -> None:
    budget = _DEADLINE.get()
    if budget is not None and time.monotonic() > budget[0]:
        raise TemplateLimitError(f"template rendering took longer than {budget[1]:g} s")


def _too_big() -> TemplateLimitError:
    return TemplateLimitError(f"template produced more than {_size(MAX_OUTPUT_CHARS)}")


def _size(chars: int) -> str:
    return f"{chars // 1_000_000} MB" if chars % 1_000_000 == 0 else f"{chars} characters"


def _timed(iterable: Iterable[Any]) -> Iterator[Any]:
    """A `{% for %}` loop's iterable, checking the clock at every step (empty loops included)."""
    for item in iterable:
        _check_time()
        yield item


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateLimitError(f"template asked for range() of {len(numbers)} items, more than {MAX_RANGE}")
    return numbers


def _multiply(left: Any, right: Any) -> Any:
    for seq, n in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple, bytes)) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT_CHARS:
            raise _too_big()
    return left * right


def _power(left: Any, right: Any) -> Any:
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and right > 0
        and abs(left) > 1
        and right * abs(left).bit_length() > MAX_POWER_BITS
    ):
        raise TemplateLimitError(f"template computes {left} ** {right}, a number too large")
    return left**right


class LimitedEnvironment(SandboxedEnvironment):
    """The sandbox, plus the time and size limits `render_limited` enforces."""

    intercepted_binops = frozenset({"*", "**"})
    _LOOP_FILTER = "agentopt_timed_loop"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = _range
        self.filters[self._LOOP_FILTER] = _timed
        self.binop_table = {**self.binop_table, "*": _multiply, "**": _power}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Parse, then wrap every loop's iterable so each step checks the clock."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, self._LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
        return tree

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's signature
        _check_time()
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_time()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _check_time()
        return super().getitem(obj, argument)


ENV = LimitedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)


@functools.lru_cache(maxsize=512)
def _compiled(text: str) -> Any:
    """A template compiled once: the system prompt and every rubric template are rendered
    again for each episode (compiling was ~4% of the harness's CPU per step)."""
    return ENV.from_string(text)


def render_limited(
    text: str, variables: dict[str, Any], seconds: float = RENDER_SECONDS, max_chars: int = MAX_OUTPUT_CHARS
) -> str:
    """`text` rendered with `variables` (a mapping: any key works, `self` included).

    Raises TemplateLimitError past a limit, jinja2.TemplateError (or the template's own
    Python error, e.g. ZeroDivisionError) when the template fails."""
    token = _DEADLINE.set((time.monotonic() + seconds, seconds))
    try:
        chunks, total = [], 0
        for chunk in _compiled(text).generate(variables):
            total += len(chunk)
            if total > max_chars:
                raise TemplateLimitError(f"template produced more than {_size(max_chars)}")
            _check_time()
            chunks.append(chunk)
        return "".join(chunks)
    except RecursionError:
        raise TemplateLimitError("template recursion went too deep") from None
    finally:
        _DEADLINE.reset(token)


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
        ENV.parse(text)
    except TemplateSyntaxError as exc:
        return f"template does not parse (line {exc.lineno}): {exc.message}"
    return None


def _render_text(text: str, variables: dict[str, Any]) -> str:
    if "{" not in text:  # every Jinja2 delimiter starts with "{"
        return text
    shown = text[:60]
    try:
        return render_limited(text, variables)
    except TemplateLimitError as exc:
        raise TemplateRenderError(f"template {shown!r}: {exc}") from None
    except TemplateError as exc:
        raise TemplateRenderError(f"template {shown!r} failed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the template's own error, e.g. {{ 1 / 0 }}
        raise TemplateRenderError(f"template {shown!r} failed: {type(exc).__name__}: {exc}") from None
