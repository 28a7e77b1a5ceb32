"""Scoring and templates cannot hang: rubric regexes and Jinja2 templates run under limits.

Each case here hung forever (or crashed) before the limits: a regex with catastrophic
backtracking, a nested-loop system prompt, a template writing gigabytes, a dataset field
named `self`. Now each is a one-line error within seconds, and the next episode is scored."""

from __future__ import annotations

import json
import time

import pytest

from agentopt.prompt import render_template, system_prompt
from agentopt.scoring import safe_regex
from agentopt.scoring.aggregate import score_trace
from agentopt.scoring.base import CheckContext
from agentopt.scoring.templating import TemplateLimitError, TemplateRenderError, render, render_limited
from agentopt.spec.agent import AgentSpec
from agentopt.spec.rubric import Criterion, Rubric
from agentopt.trace import ToolCall

from . import make_trace

REDOS = r"^(a|aa)+$"  # exponential in the `regex` engine too (it handles `^(a+)+$` itself)
EVIL = "a" * 40 + "!"
QUICK = 10  # seconds: generous for a shared 2-core machine; the limits are 1 s and 2 s


def rubric(*criteria: Criterion) -> Rubric:
    return Rubric(name="r", criteria=criteria, pass_threshold=0.5)


def elapsed(since: float) -> float:
    return time.monotonic() - since


# --- regexes ---------------------------------------------------------------------------------


async def test_redos_regex_check_is_a_scoring_error_within_seconds_and_the_next_episode_is_scored():
    slow = Criterion("slow", "Backtracks", 1.0, "regex", {"pattern": REDOS})
    start = time.monotonic()
    score = await score_trace(make_trace(final_answer=EVIL), rubric(slow), CheckContext())
    assert elapsed(start) < QUICK
    assert score.error == f"criterion 'slow': regex '{REDOS}' took longer than 1 s on 41 characters"
    fine = await score_trace(make_trace(final_answer="aaaa"), rubric(slow), CheckContext())
    assert fine.error is None and fine.score == 1.0


async def test_the_issue_patterns_finish_fast_now():
    for pattern, text in ((r"^(a+)+$", EVIL), (r"^(\w+\s?)+$", "ab cd ef gh ij kl mn op qr!")):
        check = Criterion("c", "d", 1.0, "regex", {"pattern": pattern})
        start = time.monotonic()
        score = await score_trace(make_trace(final_answer=text), rubric(check), CheckContext())
        assert elapsed(start) < 1, pattern
        assert score.error is None and score.score == 0.0


async def test_one_check_shares_one_time_limit_across_many_texts():
    """Twenty tool results, each slow: the check stops after about 1 s, not 20 s."""
    slow = Criterion("slow", "Backtracks", 1.0, "regex", {"pattern": REDOS, "target": "tool:search.query"})
    calls = [ToolCall("search", {"query": EVIL}) for _ in range(20)]
    start = time.monotonic()
    score = await score_trace(make_trace(tool_calls=calls), rubric(slow), CheckContext())
    assert elapsed(start) < 5
    assert "took longer than 1 s" in score.error


async def test_tool_args_regex_is_limited_too():
    slow = Criterion("args", "Backtracks", 1.0, "tool_args", {"tool": "search", "args_regex": {"query": REDOS}})
    start = time.monotonic()
    score = await score_trace(make_trace(tool_calls=[ToolCall("search", {"query": EVIL})]), rubric(slow), CheckContext())
    assert elapsed(start) < QUICK
    assert score.error == f"criterion 'args': regex '{REDOS}' took longer than 1 s on 41 characters"


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"x": {"type": "string", "pattern": REDOS}}},
        {"type": "object", "patternProperties": {REDOS: {"type": "string"}}},
        {"type": "object", "patternProperties": {REDOS: {"type": "string"}}, "additionalProperties": False},
    ],
)
async def test_json_schema_patterns_are_limited_too(schema):
    key_or_value = {"x": EVIL} if "properties" in schema else {EVIL: "v"}
    check = Criterion("shape", "Has the shape", 1.0, "json_schema", {"schema": schema})
    start = time.monotonic()
    score = await score_trace(make_trace(final_answer=json.dumps(key_or_value)), rubric(check), CheckContext())
    assert elapsed(start) < QUICK
    assert score.error == f"criterion 'shape': regex '{REDOS}' took longer than 1 s on 41 characters"


async def test_json_schema_patterns_still_judge_as_before():
    schema = {
        "type": "object",
        "properties": {"id": {"type": "string", "pattern": "^ORD-\\d+$"}},
        "patternProperties": {"^x-": {"type": "integer"}},
        "additionalProperties": False,
    }
    check = Criterion("shape", "Has the shape", 1.0, "json_schema", {"schema": schema})
    good = await score_trace(make_trace(final_answer='{"id": "ORD-1", "x-n": 2}'), rubric(check), CheckContext())
    assert good.error is None and good.score == 1.0
    for bad in ('{"id": "ord-1"}', '{"x-n": "two"}', '{"other": 1}'):
        score = await score_trace(make_trace(final_answer=bad), rubric(check), CheckContext())
        assert score.error is None and score.score == 0.0, bad


@pytest.mark.parametrize(
    "pattern", [r"^(a+)+$", r"^(\w+\s?)+$", r"(a*)*", r"(a|aa)+", r"(x+x+)+y", r"(a.|ab)+", r"(\d+\s*)+$"]
)
def test_nested_quantifiers_are_flagged(pattern):
    warning = safe_regex.nested_quantifier(pattern)
    assert warning and warning.startswith(f"regex {pattern!r} nests quantifiers")


@pytest.mark.parametrize(
    "pattern",
    [r"ORD-\d+", r"(cat|dog)+", r"(\d{3}-)+", r"(\d+,)+", r"(ab?)+", r"(a|ab)+", r"(?>a+)+", r"(a++)+", r"[a-z]+@\w+", "("],
)
def test_ordinary_patterns_are_not_flagged(pattern):
    assert safe_regex.nested_quantifier(pattern) is None


# --- templates -------------------------------------------------------------------------------

NESTED_LOOPS = "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}"
SILENT_LOOPS = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"


@pytest.mark.parametrize(
    ("template", "variables", "message"),
    [
        (SILENT_LOOPS, {}, "template rendering took longer than 2 s"),
        ("{% for a in xs %}{% for b in xs %}{% for c in xs %}{% endfor %}{% endfor %}{% endfor %}",
         {"xs": list(range(5000))}, "template rendering took longer than 2 s"),
        ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}", {},
         "template rendering took longer than 2 s"),
        (NESTED_LOOPS, {}, "template produced more than 1 MB"),
        ("{{ 'x' * 10000000000 }}", {}, "template produced more than 1 MB"),
        ("{% for i in range(100000) %}{{ text }}{% endfor %}", {"text": "y" * 100}, "template produced more than 1 MB"),
        ("{{ range(10000000) | list }}", {}, "template asked for range() of 10000000 items, more than 100000"),
        ("{{ 7 ** 100000000 }}", {}, "template computes 7 ** 100000000, a number too large"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", {}, "template recursion went too deep"),
    ],
)
def test_templates_past_a_limit_fail_quickly_with_one_line(template, variables, message):
    start = time.monotonic()
    with pytest.raises(TemplateLimitError) as raised:
        render_limited(template, variables)
    assert elapsed(start) < QUICK
    assert str(raised.value) == message


def test_templates_within_the_limits_render_as_before():
    template = "{% for x in xs %}{{ loop.index }}:{{ x.name | upper }} {% endfor %}{{ 'ab' * 3 }} {{ 2 ** 10 }}"
    assert render_limited(template, {"xs": [{"name": "a"}, {"name": "b"}]}) == "1:A 2:B ababab 1024"


def test_a_nested_loop_system_prompt_is_a_one_line_error_naming_the_field(tmp_path):
    spec_file = tmp_path / "agent.yaml"
    spec_file.write_text("name: a\nsystem_prompt: \"" + NESTED_LOOPS + "\"\n", encoding="utf-8")
    spec = AgentSpec(name="a", system_prompt=NESTED_LOOPS, source=str(spec_file))
    start = time.monotonic()
    with pytest.raises(TemplateLimitError) as raised:
        system_prompt(spec, {"input": "hi"})
    assert elapsed(start) < QUICK
    assert str(raised.value) == f"{spec_file}:2:1: system_prompt: template produced more than 1 MB"
    silent = AgentSpec(name="a", system_prompt=SILENT_LOOPS)
    with pytest.raises(TemplateLimitError, match="^system_prompt: template rendering took longer than 2 s$"):
        render_template(silent, {})


async def test_a_slow_check_template_is_a_scoring_error():
    slow = Criterion("slow", "Loops", 1.0, "equals", {"value": SILENT_LOOPS})
    start = time.monotonic()
    score = await score_trace(make_trace(), rubric(slow), CheckContext())
    assert elapsed(start) < QUICK
    assert score.error.startswith("criterion 'slow': template '{% for a in range(100000)")
    assert score.error.endswith(": template rendering took longer than 2 s")


def test_a_failing_check_template_is_a_render_error_not_a_crash():
    with pytest.raises(TemplateRenderError, match="ZeroDivisionError: division by zero"):
        render("{{ 1 / 0 }}", make_trace())


@pytest.mark.parametrize("name", ["self", "kwargs", "args", "context", "environment"])
def test_dataset_fields_named_like_python_parameters_render(name):
    spec = AgentSpec(name="a", system_prompt="Question: {{ input }}")
    assert render_template(spec, {name: "x", "input": "hi"}) == "Question: hi"
    assert render_limited("{{ kwargs }} {{ args }}", {"kwargs": "k", "args": "a", "self": "s"}) == "k a"
