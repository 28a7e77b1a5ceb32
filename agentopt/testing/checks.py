"""The conformance suite every rubric check passes (the `agentopt.checks` extension point).

Subclass `CheckConformance` in a test module and give it the check and the parameters a rubric
would give it (one dict or several); pytest runs every `test_*` method below on them:

    from agentopt.testing.checks import CheckConformance

    class TestStartsWith(CheckConformance):
        @pytest.fixture
        def check(self):
            return StartsWith()

        @pytest.fixture
        def examples(self):
            return [{"value": "Dear"}, {"value": "Hi", "target": "last_message"}]

agentopt's own suite runs it over every registered check (tests/scoring/test_check_conformance.py),
with the examples `agentopt init` writes into a new rubric (agentopt/scaffold/check_examples.yaml).
Each check scores a few typical traces (a JSON answer after tool calls with a reward, a plain
answer, no answer at all) with a judge model that answers any schema (`ScriptedModel`).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from agentopt.scoring.base import Check, CheckContext, CheckResult, check_problem
from agentopt.spec.check_formats import adapter
from agentopt.testing.model import ScriptedModel, schema_answer
from agentopt.trace import ToolCall, Trace


def scaffold_examples() -> dict[str, list[dict[str, Any]]]:
    """The check parameters of every commented example in the scaffold's rubric, by check type."""
    text = resources.files("agentopt.scaffold").joinpath("check_examples.yaml").read_text(encoding="utf-8")
    criteria = yaml.safe_load("\n".join(line[3:] for line in text.splitlines() if line.startswith("#  "))) or []
    examples: dict[str, list[dict[str, Any]]] = {}
    for criterion in criteria:
        params = dict(criterion["check"])
        examples.setdefault(params.pop("type"), []).append(params)
    return examples


def sample_traces() -> list[Trace]:
    """Typical episodes a check meets: a JSON answer after tool calls, with a reward; a plain-text
    answer with no tool call and no reward; no answer at all (the turn limit hit)."""
    task = {"input": "Which cities are capitals? My order 4471 was charged twice.", "expected": {"category": "billing", "answer": "Paris"}}
    system = {"role": "system", "content": "You are a support agent."}
    user = {"role": "user", "content": task["input"]}
    calls = [ToolCall("search", {"query": "refund", "limit": 5}, result="refund policy", reward=0.0),
             ToolCall("submit", {"answer": "Paris", "category": "billing"}, result="ok", reward=1.0, done=True)]
    answer = json.dumps({"answer": "Paris", "category": "billing", "reply": "Thanks, Paris and Rome. Refund issued for 4471."})
    return [
        Trace(episode_id="e1", task_id="t1", split="val", task=task, messages=[system, user, {"role": "assistant", "content": answer}],
              tool_calls=calls, final_answer=answer, reward=1.0, rewards=(0.0, 1.0), done=True, turns=3, prompt_tokens=900,
              completion_tokens=120, info={"resolved": True}),
        Trace(episode_id="e2", task_id="t2", split="val", task=task, messages=[system, user, {"role": "assistant", "content": "I cannot say."}],
              final_answer="I cannot say.", turns=1, prompt_tokens=300, completion_tokens=5, stop_reason="final_answer"),
        Trace(episode_id="e3", task_id="t3", split="val", task=task, messages=[system, user], turns=8, stop_reason="max_turns"),
    ]


class CheckConformance:
    """Properties every check has. Give the `check` and `examples` fixtures."""

    @pytest.fixture
    def check(self) -> Check:
        raise NotImplementedError("give the check under test as the `check` fixture")

    @pytest.fixture
    def examples(self, check: Check) -> list[dict[str, Any]]:
        """Parameters a rubric gives the check (without `type`): the scaffold's for a built-in, else
        the defaults when no field is required."""
        found = scaffold_examples().get(check.name)
        if found:
            return found
        if not check.params_schema.get("required"):
            return [{}]  # every field has its default
        raise NotImplementedError(f"give example parameters of {check.name!r} as the `examples` fixture")

    @pytest.fixture
    def context(self) -> CheckContext:
        return CheckContext(judge=ScriptedModel(schema_answer), judge_model="openai/judge")

    def test_declares_the_check_protocol(self, check: Check) -> None:
        assert check_problem(check) is None, check_problem(check)
        assert check.summary.strip() and "\n" not in check.summary.strip()
        assert 0.0 <= check.default_pass_at <= 1.0

    def test_params_schema_documents_every_field(self, check: Check) -> None:
        schema = check.params_schema
        assert "type" not in schema and "type" not in schema["properties"]  # `type` names the check in a rubric
        assert schema["additionalProperties"] is False  # a misspelt field is an error, not ignored
        assert set(schema.get("required", ())) <= set(schema["properties"])
        undocumented = [name for name, prop in schema["properties"].items() if not prop.get("description")]
        assert not undocumented, f"fields without a description: {undocumented}"
        Draft202012Validator.check_schema({**schema, "type": "object"})

    def test_the_examples_are_valid_parameters(self, check: Check, examples: list[dict[str, Any]]) -> None:
        validator = Draft202012Validator({**check.params_schema, "type": "object"})
        for params in examples:
            assert not list(validator.iter_errors(params)), [e.message for e in validator.iter_errors(params)]
            adapter(check.params).validate_python(params, by_alias=True, by_name=False)  # the typed model agrees
            assert check.validate(params) == [], check.validate(params)
            problems = [*check.validate(params), *check.warnings(params)]
            assert all(isinstance(f, str) and isinstance(m, str) for f, m in problems)

    async def test_scores_are_in_0_1_or_not_applicable_with_one_line_of_feedback(self, check: Check, examples: list[dict[str, Any]],
                                                                                context: CheckContext) -> None:
        for params in examples:
            for trace in sample_traces():
                result = await check.score(trace, params, context)
                assert isinstance(result, CheckResult)
                assert result.score is None or 0.0 <= result.score <= 1.0, result
                assert result.feedback.strip() and "\n" not in result.feedback, result.feedback
                json.dumps(result.details)  # kept in scores.jsonl

    async def test_the_same_trace_gets_the_same_score(self, check: Check, examples: list[dict[str, Any]], context: CheckContext) -> None:
        for params in examples:
            for trace in sample_traces():
                first, again = await check.score(trace, params, context), await check.score(trace, params, context)
                assert (first.score, first.feedback) == (again.score, again.feedback)
