import json

import pytest

from agentopt.scoring.base import CheckContext, get_check
from agentopt.scoring.templating import TemplateRenderError, render, template_problem
from agentopt.trace import ToolCall

from . import make_trace


async def run(check: str, params: dict, **trace_fields):
    return await get_check(check).score(make_trace(**trace_fields), params, CheckContext())


def answer(**fields) -> str:
    return json.dumps(fields)


# (check, params, trace fields, expected score, expected feedback)
CASES = [
    # env_reward
    ("env_reward", {}, {"reward": 1.0}, 1.0, "The environment's reward was 1 on a scale of 0 to 1."),
    ("env_reward", {"min": -1, "max": 1}, {"reward": 0.0}, 0.5, "The environment's reward was 0 on a scale of -1 to 1."),
    ("env_reward", {"max": 10}, {"reward": 20.0}, 1.0, "The environment's reward was 20 on a scale of 0 to 10."),
    ("env_reward", {}, {"reward": None}, None, "The environment gave no reward, so this criterion does not apply."),
    # ...but an agent that stops before the environment finishes has failed its task: 0, not n/a
    ("env_reward", {}, {"reward": None, "stop_reason": "final_answer"}, 0.0,
     "The episode ended (final_answer) before the environment finished or gave a reward."),
    # contains
    ("contains", {"value": "BILLING"}, {}, 1.0, "answer contains 'BILLING'."),
    ("contains", {"value": ["billing", "refund", "sorry"]}, {}, 1 / 3, "answer is missing 'refund', 'sorry'."),
    ("contains", {"value": "Billing", "case_sensitive": True}, {}, 0.0, "answer is missing 'Billing'."),
    ("contains", {"value": ["nope", "billing"], "mode": "any"}, {}, 1.0, "answer contains 'billing'."),
    ("contains", {"value": ["nope", "never"], "mode": "any"}, {}, 0.0, "answer contains none of 'nope', 'never'."),
    ("contains", {"value": "{{ expected.category }}", "target": "tool:submit.category"}, {}, 1.0, "tool:submit.category contains 'billing'."),
    ("contains", {"value": "x"}, {"final_answer": None}, 0.0, "There is no answer to check."),
    ("contains", {"value": ["a", "b", "c", "d", "e"]}, {"final_answer": "z"}, 0.0, "answer is missing 'a', 'b', 'c' and 2 more."),
    # not_contains
    ("not_contains", {"value": ["password", "ssn"]}, {}, 1.0, "answer contains none of 'password', 'ssn'."),
    ("not_contains", {"value": ["password", "REFUND"], "target": "messages"}, {}, 0.0, "messages contains 'REFUND'."),
    ("not_contains", {"value": "x"}, {"final_answer": None}, 1.0, "answer contains none of 'x'."),
    # regex
    ("regex", {"pattern": r"\"category\": \"(billing|tech)\""}, {}, 1.0,
     "answer matches /\\\"category\\\": \\\"(billing|tech)\\\"/ at '\"category\": \"billing\"'."),
    ("regex", {"pattern": "^ORDER-\\d+$", "flags": ["ignorecase", "multiline"]}, {"final_answer": "ok\norder-12"}, 1.0,
     "answer matches /^ORDER-\\d+$/ at 'order-12'."),
    ("regex", {"pattern": "^ORDER-\\d+$"}, {"final_answer": "ok\norder-12"}, 0.0, "answer does not match /^ORDER-\\d+$/."),
    ("regex", {"pattern": "x", "target": "tool:nope.arg"}, {}, 0.0, "There is no tool:nope.arg to check."),
    # equals
    ("equals", {"target": "answer.category", "value": " Billing "}, {}, 1.0, "answer.category is 'billing' as expected."),
    ("equals", {"target": "answer.category", "value": "technical"}, {}, 0.0, "answer.category was 'billing', expected 'technical'."),
    ("equals", {"target": "answer.category", "value": "Billing", "case_sensitive": True}, {}, 0.0,
     "answer.category was 'billing', expected 'Billing'."),
    ("equals", {"target": "answer.category", "value": "{{ expected.category }}"}, {}, 1.0, "answer.category is 'billing' as expected."),
    ("equals", {"target": "answer.meta.priority", "value": 2.0}, {}, 1.0, "answer.meta.priority is 2 as expected."),
    ("equals", {"target": "answer.meta.priority", "value": "2"}, {}, 1.0, "answer.meta.priority is 2 as expected."),
    ("equals", {"target": "answer.meta.priority", "value": 3}, {}, 0.0, "answer.meta.priority was 2, expected 3."),
    ("equals", {"target": "answer.meta", "value": {"priority": 2, "tags": ["A", "b"]}}, {}, 1.0,
     'answer.meta is {"priority": 2, "tags": ["a", "b"]} as expected.'),
    ("equals", {"target": "answer.flag", "value": "True"}, {"final_answer": answer(flag=True)}, 1.0, "answer.flag is true as expected."),
    ("equals", {"value": "42"}, {"final_answer": "42"}, 1.0, "answer is '42' as expected."),
    ("equals", {"target": "answer.missing", "value": "x"}, {}, 0.0, "answer.missing is missing, expected 'x'."),
    # json_schema
    ("json_schema", {"schema": {"type": "object", "required": ["category"]}}, {}, 1.0, "answer matches the schema."),
    ("json_schema", {"schema": {"properties": {"meta": {"properties": {"tags": {"items": {"enum": ["a"]}}}}}}}, {}, 0.0,
     "answer.meta.tags[1] does not match the schema: 'b' is not one of ['a']."),
    ("json_schema", {"target": "answer.meta.priority", "schema": {"type": "string"}}, {}, 0.0,
     "answer.meta.priority does not match the schema: 2 is not of type 'string'."),
    ("json_schema", {"target": "tool:submit.category", "schema": {"enum": ["billing"]}}, {}, 1.0, "tool:submit.category matches the schema."),
    ("json_schema", {"schema": {}}, {"final_answer": "not json"}, 0.0, "answer is not valid JSON."),
    ("json_schema", {"schema": {}}, {"final_answer": None}, 0.0, "There is no answer to check."),
    # tool_called / tool_not_called
    ("tool_called", {"tool": "search"}, {}, 1.0, "search was called twice."),
    ("tool_called", {"tool": "search", "min_times": 3}, {}, 0.0, "search was called twice, fewer than the 3 expected."),
    ("tool_called", {"tool": "escalate"}, {}, 0.0, "escalate was never called."),
    ("tool_not_called", {"tool": "escalate"}, {}, 1.0, "escalate was never called."),
    ("tool_not_called", {"tool": "submit"}, {}, 0.0, "submit was called once."),
    # tool_args
    ("tool_args", {"tool": "search", "args": {"query": " REFUND "}}, {}, 1.0, "search call 2 of 2 had the expected arguments."),
    ("tool_args", {"tool": "submit", "args": {"category": "{{ expected.category }}"}}, {}, 1.0,
     "submit call 1 of 1 had the expected arguments."),
    ("tool_args", {"tool": "search", "args": {"query": "double charge", "limit": 10}}, {}, 0.0,
     "In the closest of 2 search calls, limit was 5, expected 10."),
    ("tool_args", {"tool": "search", "args": {"query": "x", "limit": 5}, "args_regex": {"query": "^y"}}, {}, 0.0,
     "In the closest of 2 search calls, query was 'double charge', expected 'x'."),
    ("tool_args", {"tool": "search", "args_regex": {"query": "^ref", "limit": "^1"}}, {}, 0.0,
     "In the closest of 2 search calls, limit was missing."),
    ("tool_args", {"tool": "submit", "args": {"category": "tech", "reason": "x"}}, {}, 0.0,
     "In the submit call, category was 'billing', expected 'tech' (and 1 other argument differed)."),
    ("tool_args", {"tool": "submit", "args_regex": {"category": "^tech"}}, {}, 0.0,
     "In the submit call, category was 'billing', which does not match /^tech/."),
    ("tool_args", {"tool": "escalate", "args": {"x": 1}}, {}, 0.0, "escalate was never called."),
    # max_turns / max_tokens
    ("max_turns", {"limit": 4}, {}, 1.0, "The episode used 4 turns, within the limit of 4."),
    ("max_turns", {"limit": 3}, {}, 0.0, "The episode used 4 turns, over the limit of 3."),
    ("max_tokens", {"limit": 1000}, {}, 1.0, "The episode used 1000 tokens, within the limit of 1000."),
    ("max_tokens", {"limit": 999}, {}, 0.0, "The episode used 1000 tokens, over the limit of 999."),
    # max_length
    ("max_length", {"max_words": 3}, {"final_answer": "one two three"}, 1.0, "answer is 3 words and 13 characters long, within the limit."),
    ("max_length", {"max_words": 2, "max_chars": 100}, {"final_answer": "one two three"}, 0.0, "answer is 3 words long, over the limit of 2."),
    ("max_length", {"max_chars": 5}, {"final_answer": "one two"}, 0.0, "answer is 7 characters long, over the limit of 5."),
    ("max_length", {"target": "messages", "max_words": 3}, {}, 0.0, "The longest of messages is 5 words long, over the limit of 3."),
    ("max_length", {"max_words": 3}, {"final_answer": None}, 0.0, "There is no answer to measure."),
]


@pytest.mark.parametrize(("check", "params", "trace_fields", "score", "feedback"), CASES)
async def test_score_and_feedback(check, params, trace_fields, score, feedback):
    assert get_check(check).validate(params) == []
    result = await run(check, params, **trace_fields)
    assert result.score == (None if score is None else pytest.approx(score))
    assert result.feedback == feedback


async def test_contains_details_list_found_and_missing():
    result = await run("contains", {"value": ["billing", "refund"]})
    assert result.details == {"found": ["billing"], "missing": ["refund"]}


async def test_feedback_quotes_are_shortened():
    result = await run("equals", {"value": "short"}, final_answer="word " * 50)
    assert result.feedback == "answer was '" + ("word " * 16)[:79] + "…', expected 'short'."


async def test_json_schema_checks_formats():
    result = await run("json_schema", {"target": "answer.email", "schema": {"format": "email"}}, final_answer=answer(email="nope"))
    assert result.feedback == "answer.email does not match the schema: 'nope' is not a 'email'."


async def test_tool_args_details_name_the_closest_call():
    trace_fields = {"tool_calls": [ToolCall("s", {"a": 1, "b": 1}), ToolCall("s", {"a": 1, "b": 2}), ToolCall("s", {"a": 9, "b": 9})]}
    result = await run("tool_args", {"tool": "s", "args": {"a": 1, "b": 3}}, **trace_fields)
    assert result.details == {"call": 0, "differences": ["b was 1, expected 3"]}


async def test_undefined_template_variable_fails_loudly():
    with pytest.raises(TemplateRenderError, match="expected.nope"):
        await run("contains", {"value": "{{ expected.nope }}"})


def test_render_passes_non_strings_through():
    trace = make_trace()
    assert render([1, "{{ task.input }}", {"k": "{{ expected.category }}"}, None], trace) == [
        1, "My card was charged twice", {"k": "billing"}, None,
    ]
    assert render("{{ trace.task_id }}", trace) == "t1"
    assert render("plain {text}", trace) == "plain {text}"


def test_template_problem():
    assert template_problem("{{ expected.category }}") is None
    assert template_problem("{{ expected.category") == "template does not parse (line 1): unexpected end of template, expected 'end of print statement'."


VALIDATION_CASES = [
    ("env_reward", {"min": 1, "max": 1}, [("max", "must be greater than min")]),
    ("contains", {"value": "x", "target": "answer."}, [("target", "target 'answer.' has an empty key")]),
    ("contains", {"value": ["ok", "{{ oops"]}, [("value[1]", "template does not parse (line 1): unexpected end of template, expected 'end of print statement'.")]),
    ("not_contains", {"value": "{% if %}"}, [("value", "template does not parse (line 1): Expected an expression, got 'end of statement block'")]),
    ("regex", {"pattern": "(unclosed", "target": "nowhere"}, [
        ("target", "unknown target 'nowhere': use answer, answer.KEY, last_message, messages, tool:NAME.ARG or info.KEY"),
        ("pattern", "regex does not compile: missing ), unterminated subpattern at position 0"),
    ]),
    ("equals", {"value": "{{ }}"}, [("value", "template does not parse (line 1): Expected an expression, got 'end of print statement'")]),
    ("json_schema", {"schema": {"type": "nonsense"}}, [("schema", "not a valid JSON Schema: 'nonsense' is not valid under any of the given schemas")]),
    ("json_schema", {}, [("schema", "must be a JSON Schema (a mapping)")]),  # a direct call: a file's fields require it
    ("tool_called", {"tool": "s", "min_times": 0}, [("min_times", "must be a whole number of at least 1")]),
    ("tool_args", {"tool": "s"}, [("args", "give args, args_regex or both")]),
    ("tool_args", {"tool": "s", "args": {"q": "{{"}, "args_regex": {"q": "["}}, [
        ("args.q", "template does not parse (line 1): unexpected 'end of template'"),
        ("args_regex.q", "regex does not compile: unterminated character set at position 0"),
    ]),
    ("max_turns", {"limit": 0}, [("limit", "must be a whole number of at least 1")]),
    ("max_tokens", {"limit": 2.5}, [("limit", "must be a whole number of at least 1")]),
    ("max_length", {}, [("max_words", "give max_words, max_chars or both")]),
    ("max_length", {"max_chars": -3}, [("max_chars", "must be a whole number of at least 1")]),
]


@pytest.mark.parametrize(("check", "params", "problems"), VALIDATION_CASES)
def test_validate_reports_problems(check, params, problems):
    assert get_check(check).validate(params) == problems
