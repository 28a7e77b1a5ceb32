"""The built-in checks a rubric names in `check.type`.

Each check is a small registered class: its `params` (a typed model of the check's own rubric
fields, beside it) documents and validates them, `validate` catches what a model cannot (bad
regex, bad template, bad target), and `score` returns a score in [0, 1] with one short sentence
saying why. Shared pieces (field types, quoting, value comparison) live at the top.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Annotated, Any, ClassVar, Literal

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.exceptions import ValidationError as SchemaViolation
from pydantic import Field
from pydantic.dataclasses import dataclass

from agentopt.scoring import safe_regex
from agentopt.scoring.base import Check, CheckContext, CheckResult, register
from agentopt.scoring.targets import TARGET_HELP, TEXT_TARGETS, as_text, select, select_value, validate_target
from agentopt.scoring.templating import render, template_problem
from agentopt.spec.fields import CONFIG, UNIQUE, UNIQUE_SCHEMA, Bool, Name, Number, PositiveInt, Text
from agentopt.trace import ToolCall, Trace

FEEDBACK_CHARS = 80  # longest quoted value in a feedback sentence

# --- field types shared by the checks' params models ------------------------------------


def target_field() -> Any:
    return Field(default="answer", description=f"Where to look: {TARGET_HELP}.")


def case_sensitive_field() -> Any:
    return Field(default=False, description="Compare letter case too.")


def tool_field() -> Any:
    return Field(description="The tool's name.")


Texts = Text | Annotated[list[Text], Field(min_length=1)]
TEXTS_HELP = "A string or a list of strings; each may be a Jinja2 template (task, expected, trace)."


# --- feedback helpers --------------------------------------------------------------


def shorten(text: str, limit: int = FEEDBACK_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quote(value: Any) -> str:
    """A value as feedback shows it: strings in single quotes, others as JSON; shortened."""
    return f"'{shorten(value)}'" if isinstance(value, str) else shorten(as_text(value))


def quote_all(values: list[Any], most: int = 3) -> str:
    shown = ", ".join(quote(v) for v in values[:most])
    return shown if len(values) <= most else f"{shown} and {len(values) - most} more"


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def nothing_to_check(target: str, verb: str = "check") -> CheckResult:
    return CheckResult(0.0, f"There is no {target} to {verb}.")


def verdict(passed: bool, feedback: str, **details: Any) -> CheckResult:
    return CheckResult(1.0 if passed else 0.0, feedback, details)


# --- value helpers -----------------------------------------------------------------


def fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else as_text(value)


def same_value(actual: Any, expected: Any, case_sensitive: bool = False) -> bool:
    """Equal as a person would judge: strings trimmed (and case-folded), numbers numerically."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            same_value(actual[k], expected[k], case_sensitive) for k in actual
        )
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(
            same_value(a, e, case_sensitive) for a, e in zip(actual, expected)
        )
    either_number = not (isinstance(actual, str) and isinstance(expected, str))
    a, e = _number(actual), _number(expected)
    if either_number and a is not None and e is not None:
        return math.isclose(a, e, rel_tol=1e-9, abs_tol=1e-12)
    return fold(_scalar_text(actual).strip(), case_sensitive) == fold(_scalar_text(expected).strip(), case_sensitive)


def found_and_missing(values: list[str], texts: list[str], case_sensitive: bool) -> tuple[list[str], list[str]]:
    haystacks = [fold(t, case_sensitive) for t in texts]
    found = [v for v in values if any(fold(v, case_sensitive) in h for h in haystacks)]
    return found, [v for v in values if v not in found]


def regex_problem(pattern: Any) -> str | None:
    return safe_regex.compile_problem(pattern)


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(field path, string) for every string in a value, lists and mappings included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")


class BuiltinCheck(Check):
    """A check whose `validate` covers its target, templates, regexes and limits by declaration."""

    template_fields: ClassVar[tuple[str, ...]] = ()
    regex_fields: ClassVar[tuple[str, ...]] = ()
    positive_fields: ClassVar[tuple[str, ...]] = ()

    def validate(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        problems = []
        if "target" in params and (problem := validate_target(params["target"])):
            problems.append(("target", problem))
        for fields, check in ((self.template_fields, template_problem), (self.regex_fields, regex_problem)):
            for name in fields:
                for path, text in _strings(params.get(name), name):
                    if problem := check(text):
                        problems.append((path, problem))
        for name in self.positive_fields:
            value = params.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                problems.append((name, "must be a whole number of at least 1"))
        return problems

    def warnings(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        """Regexes that can backtrack catastrophically (scoring stops them, but they cost a second each)."""
        found = []
        for name in self.regex_fields:
            for path, text in _strings(params.get(name), name):
                if warning := safe_regex.nested_quantifier(text):
                    found.append((path, warning))
        return found


# --- the checks --------------------------------------------------------------------


AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "last": lambda rewards: rewards[-1],
    "sum": sum,
    "max": max,
    "mean": lambda rewards: sum(rewards) / len(rewards),
}


@dataclass(frozen=True, config=CONFIG)
class EnvRewardParams:
    min: Number = Field(default=0, description="The reward that scores 0.")
    max: Number = Field(default=1, description="The reward that scores 1.")
    aggregate: Literal["last", "sum", "max", "mean"] = Field(default="last", description=(
        "Which reward counts when the environment gives one per step: last (the final step's), "
        "sum (the return: use it for per-step rewards such as a step penalty), max or mean. "
        "Steps that gave no reward are left out. An episode with no reward at all is not applicable."))


@register
class EnvReward(BuiltinCheck):
    name = "env_reward"
    summary = "The environment's own reward (its last, or the sum/max/mean of every step's), scaled from [min, max] to [0, 1]."
    params = EnvRewardParams

    def validate(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        low, high = params.get("min", 0), params.get("max", 1)
        if _number(low) is not None and _number(high) is not None and high <= low:
            return [("max", "must be greater than min")]
        return []

    async def score(self, trace: Trace, params: dict[str, Any], ctx: CheckContext) -> CheckResult:
        rewards = trace.step_rewards()
        if not rewards and trace.stop_reason == "done":
            return CheckResult.not_applicable("The environment gave no reward, so this criterion does not apply.")
        if not rewards:  # the agent stopped (an answer, its turn or token limit) before the environment finished
            return CheckResult(0.0, f"The episode ended ({trace.stop_reason}) before the environment finished or gave a reward.")
        how = params.get("aggregate", "last")
        reward = AGGREGATES[how](rewards)
        low, high = params.get("min", 0), params.get("max", 1)
        score = min(1.0, max(0.0, (reward - low) / (high - low)))
        scale = f"on a scale of {low:g} to {high:g}"
        if how == "last" or len(rewards) == 1:
            feedback = f"The environment's reward was {reward:g} {scale}."
        else:
            feedback = f"The {how} of the environment's {len(rewards)} step rewards was {reward:g} {scale}."
        return CheckResult(score, feedback, {"reward": reward, "aggregate": how, "steps": len(rewards)})


@dataclass(frozen=True, config=CONFIG)
class ContainsParams:
    value: Texts = Field(description=TEXTS_HELP)
    target: Text = target_field()
    mode: Literal["all", "any"] = Field(default="all", description="all: score is the share of values found; any: 1 when "
                                                            "one is found.")
    case_sensitive: Bool = case_sensitive_field()


@register
class Contains(BuiltinCheck):
    name = "contains"
    summary = "The target contains the given text(s), ignoring case unless case_sensitive."
    params = ContainsParams
    template_fields = ("value",)

    async def score(self, trace: Trace, params: dict[str, Any], ctx: CheckContext) -> CheckResult:
        target = params.get("target", "answer")
        texts = select(trace, target)
        if not texts:
            return nothing_to_check(target)
        values = as_list(render(params["value"], trace))
        found, missing = found_and_missing(values, texts, params.get("case_sensitive", False))
        details = {"found": found, "missing": missing}
        if params.get("mode", "all") == "any":
            if found:
                return CheckResult(1.0, f"{target} contains {quote(found[0])}.", details)
            return CheckResult(0.0, f"{target} contains none of {quote_all(values)}.", details)
        if missing:
            return CheckResult(len(found) / len(values), f"{target} is missing {quote_all(missing)}.", details)
        return CheckResult(1.0, f"{target} contains {quote_all(values)}.", details)


@dataclass(frozen=True, config=CONFIG)
class NotContainsParams:
    value: Texts = Field(description=TEXTS_HELP)
    target: Text = target_field()
    case_sensitive: Bool = case_sensitive_field()


@register
class NotContains(BuiltinCheck):
    name = "not_contains"
    summary = "The target contains none of the given text(s), ignoring case unless case_sensitive."
    params = NotContainsParams
    template_fields = ("value",)

    async def score(self, trace: Trace, params: dict[str, Any], ctx: CheckContext) -> CheckResult:
        target = params.get("target", "answer")
        values = as_list(render(params["value"], trace))
        found, _ = found_and_missing(values, select(trace, target), params.get("case_sensitive", False))
        if found:
            return verdict(False, f"{target} contains {quote_all(found)}.", found=found)
        return verdict(True, f"{target} contains none of {quote_all(values)}.", found=[])


FLAGS = {"ignorecase": safe_regex.IGNORECASE, "multiline": safe_regex.MULTILINE, "dotall": safe_regex.DOTALL}


@dataclass(frozen=True, config=CONFIG)
class RegexParams:
    pattern: Text = Field(description="A Python regular expression, searched anywhere (at most 1 s per trace).")
    target: Text = target_field()
    flags: Annotated[tuple[Literal["ignorecase", "multiline", "dotall"], ...], UNIQUE] = Field(default=
        (), json_schema_extra=UNIQUE_SCHEMA, description="Regex flags: ignorecase, multiline, dotall.")


@register
class Regex(BuiltinCheck):
    name = "regex"
    summary = "A regular expression (Python syntax) matches somewhere in the target."
    params = RegexParams
    regex_fields = ("pattern",)

    async def score(self, trace: Trace, params: dict[str, Any], ctx: CheckContext) -> CheckResult:
        target, pattern = params.get("target", "answer"), params["pattern"]
        texts = select(trace, target)
        if not texts:
            return nothing_to_check(target)
        flags = 0
        for flag in params.get("flags", []):
            flags |= FLAGS[flag]
        matcher = safe_regex.Matcher()
        for text in texts:
            if match := matcher.search(pattern, text, flags):
                return verdict(True, f"{target} matches /{shorten(pattern)}/ at {quote(match.group(0))}.")
        return verdict(False, f"{target} does not match /{shorten(pattern)}/.")


@dataclass(frozen=True, config=CONFIG)
class EqualsParams:
    value: Any = Field(description="Any JSON value; strings may be Jinja2 templates (task, expected, trace).")
    target: Text = target_field()
    case_sensitive: Bool = case_sensitive_field()


@register
class Equals(BuiltinCheck):
    name = "equals"
    summary = "The target equals a value: strings trimmed and case-insensitive, numbers numerically."
    params = EqualsParams
    template_fields = ("value",)

    async def score(self, trace: Trace, params: dict[str, Any], ctx: CheckContext) -> CheckResult:
        target = params.get("target", "answer")
        expected = render(params["value"], trace)
        actual = select_value(trace, target)
        if actual is None:
            return verdict(False, f"{target} is missing, expected {quote(expected)}.")
        if same_value(actual, expected, params.get("case_sensitive", False)):
            return verdict(True, f"{target} is {quote(actual)} as expected.")
        return verdict(False, f"{target} was {quote(actual)}, expected {quote(expected)}.")


@dataclass(frozen=True, config=CONFIG)
class JsonSchemaParams:
    schema: dict[str, Any] = Field(description="A JSON Schema (draft 2020-12).")
    target: Text = target_field()


@register
class JsonSchema(BuiltinCheck):
    name = "json_schema"
    summary = "The target, as JSON, is valid against a JSON Schema (draft 2020-12)."
    params = JsonSchemaParams

    def validate(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        problems = super().validate(params)
        schema = params.get("schema")
        if not isinstance(schema, dict | bool):  # only a direct call: a file's typed fields require a mapping
            problems.append(("schema", "must be a JSON Schema (a mapping)"))
            return problems
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            problems.append(("schema", f"not a valid JSON Schema: {exc.message}"))
        return problems

    async def score(self, trace: Trace, params: dict[str, Any], ctx: CheckContext) -> CheckResult:
        target = params.get("target", "answer")
        instance = select_value(trace, target)
        if instance is None:
            return nothing_to_check(target)
        if target in TEXT_TARGETS:  # text as the agent wrote it
            try:
                instance = json.loads(instance)
            except ValueError:
                return verdict(False, f"{target} is not valid JSON.")
        validator = _timed_validator(safe_regex.Matcher())(
            params["schema"], format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        error = best_match(validator.iter_errors(instance))
        if error is None:
            return verdict(True, f"{target} matches the schema.")
        where = target + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        feedback = f"{where} does not match the schema: {shorten(error.message, 2 * FEEDBACK_CHARS)}."
        return verdict(False, feedback, error=error.message, path=list(error.absolute_path))


def _timed_validator(matcher: safe_regex.Matcher) -> Any:
    """Draft 2020-12 with the schema's own regexes (`pattern`, `patternProperties`) under the time limit."""
    plain_additional = Draft202012Validator.VALIDATORS["additionalProperties"]

    def pattern(validator: Any, regex: str, instance: Any, schema: dict[str, Any]) -> Any:
        if validator.is_type(instance, "string") and not matcher.search(regex, instance):
            yield SchemaViolation(f"{instance!r} does not match {regex!r}")

    def pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: dict[str, Any]) -> Any:
        if not validator.is_type(instance, "object"):
            return
        for regex, subschema in patterns.items():
            for key, value in instance.items():
                if matcher.search(regex, key):
                    yield from validator.descend(value, subschema, path=key, schema_path=regex)

    def additional_properties(validator: Any, allowed: Any, instance: Any, schema: dict[str, Any]) -> Any:
        patterns = schema.get("patternProperties")
        if not patterns or not validator.is_type(instance, "object"):
            yield from plain_additional(validator, allowed, instance, schema)
            return
        named = schema.get("properties", {})
        extras = [k for k in instance if k not in named and not any(matcher.search(r, k) for r in patterns)]
        if validator.is_type(allowed, "object"):
            for extra in extras:
                yield from validator.descend(instance[extra], allowed, path=extra)
        elif not allowed and extras:
            shown = ", ".join(repr(extra) for extra in sorted(extras))
            yield SchemaViolation(f"{shown} do(es) not match any of the regexes: {', '.join(map(repr, sorted(patterns)))}")

    return validators.extend(
        Draft202012Validator,
        {"pattern": pattern, "patternProperties": pattern_properties, "additionalProperties": additional_properties},
    )


def calls_of(trace: Trace, tool: str) -> list[ToolCall]:
    return [call for call in trace.tool_calls if call.name == tool]


@dataclass(frozen=True, config=CONFIG)
class ToolCalledParams:
    tool: Name = tool_field()
    min_times: PositiveInt = Field(default=1, description="Fewest calls that pass.")


@register
class ToolCalled(BuiltinCheck):
    name = "tool_called"
    summary = "The agent called a tool at least min_times times."
    params = ToolCalledParams
    positive_fields = ("min_times",)

    async def score(self, trace: Trace, params: dict[str, Any], ctx: CheckContext) -> CheckResult:
        tool, least = params["tool"], params.get("min_times", 1)
        n = len(calls_of(trace, tool))
        if n >= least:
            return verdict(True, f"{tool} was called {times(n)}.", calls=n)
        if n == 0:
            return verdict(False, f"{tool} was never called.", calls=0)
        return verdict(False, f"{tool} was called {times(n)}, fewer than the {least} expected.", calls=n)


@dataclass(frozen=True, config=CONFIG)
class ToolNotCalledParams:
    tool: Name = tool_field()


@register
class ToolNotCalled(BuiltinCheck):
    name = "tool_not_called"
    summary = "The agent never called a tool."
    params = ToolNotCalledParams

    async def score(self, trace: Trace, params: dict[str, Any], ctx: CheckContext) -> CheckResult:
        tool = params["tool"]
        n = len(calls_of(trace, tool))
        if n:
            return verdict(False, f"{tool} was called {times(n)}.", calls=n)
        return verdict(True, f"{tool} was never called.", calls=0)


@dataclass(frozen=True, config=CONFIG)
class ToolArgsParams:
    tool: Name = tool_field()
    args: dict[str, Any] | None = Field(default=None, description="Argument name -> expected value (strings: templates, "
                                                          "compared trimmed, any case).")
    args_regex: dict[str, Text] | None = Field(default=None, description="Argument name -> a regex the argument's text must "
                                                                 "match (searched).")


@register
class ToolArgs(BuiltinCheck):
    name = "tool_args"
    summary = "Some call of a tool had the expected arguments (values and/or regexes)."
    params = ToolArgsParams
    template_fields = ("args",)
    regex_fields = ("args_regex",)

    def validate(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        problems = super().validate(params)
        if not params.get("args") and not params.get("args_regex"):
            problems.append(("args", "give args, args_regex or both"))
        return problems

    async def score(self, trace: Trace, params: dict[str, Any], ctx: CheckContext) -> CheckResult:
        tool = params["tool"]
        calls = calls_of(trace, tool)
        if not calls:
            return verdict(False, f"{tool} was never called.")
        expected = render(params.get("args") or {}, trace)  # null: not given
        patterns = params.get("args_regex") or {}
        matcher = safe_regex.Matcher()
        differences = [self._differences(call, expected, patterns, matcher) for call in calls]
        best = min(range(len(calls)), key=lambda i: len(differences[i]))
        if not differences[best]:
            return verdict(True, f"{tool} call {best + 1} of {len(calls)} had the expected arguments.", call=best)
        first, rest = differences[best][0], len(differences[best]) - 1
        which = f"the {tool} call" if len(calls) == 1 else f"the closest of {len(calls)} {tool} calls"
        more = f" (and {count(rest, 'other argument')} differed)" if rest else ""
        return verdict(False, f"In {which}, {first}{more}.", call=best, differences=differences[best])

    @staticmethod
    def _differences(
        call: ToolCall, expected: dict[str, Any], patterns: dict[str, str], matcher: safe_regex.Matcher
    ) -> list[str]:
        differences = []
        for name in dict.fromkeys([*expected, *patterns]):
            if name not in call.arguments:
                differences.append(f"{name} was missing")
                continue
            got = call.arguments[name]
            if name in expected and not same_value(got, expected[name]):
                differences.append(f"{name} was {quote(got)}, expected {quote(expected[name])}")
            elif name in patterns and not matcher.search(patterns[name], as_text(got)):
                differences.append(f"{name} was {quote(got)}, which does not match /{shorten(patterns[name])}/")
        return differences


class LimitCheck(BuiltinCheck):
    """Pass when a count the trace measures stays within `limit`."""

    unit: ClassVar[str]
    positive_fields = ("limit",)

    def measure(self, trace: Trace) -> int:
        raise NotImplementedError

    async def score(self, trace: Trace, params: dict[str, Any], ctx: CheckContext) -> CheckResult:
        used, most = self.measure(trace), params["limit"]
        relation = "within" if used <= most else "over"
        return verdict(used <= most, f"The episode used {count(used, self.unit)}, {relation} the limit of {most}.")


@dataclass(frozen=True, config=CONFIG)
class MaxTurnsParams:
    limit: PositiveInt = Field(description="Most model turns that pass.")


@register
class MaxTurns(LimitCheck):
    name = "max_turns"
    summary = "The agent took at most `limit` model turns."
    params = MaxTurnsParams
    unit = "turn"

    def measure(self, trace: Trace) -> int:
        return trace.turns


@dataclass(frozen=True, config=CONFIG)
class MaxTokensParams:
    limit: PositiveInt = Field(description="Most tokens (prompt + completion) that pass.")


@register
class MaxTokens(LimitCheck):
    name = "max_tokens"
    summary = "The episode used at most `limit` tokens (prompt + completion)."
    params = MaxTokensParams
    unit = "token"

    def measure(self, trace: Trace) -> int:
        return trace.total_tokens


@dataclass(frozen=True, config=CONFIG)
class MaxLengthParams:
    target: Text = target_field()
    max_words: PositiveInt | None = Field(default=None, description="Most words (whitespace-separated) allowed.")
    max_chars: PositiveInt | None = Field(default=None, description="Most characters allowed.")


@register
class MaxLength(BuiltinCheck):
    name = "max_length"
    summary = "Every selected text is at most max_words words and/or max_chars characters."
    params = MaxLengthParams
    positive_fields = ("max_words", "max_chars")

    def validate(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        problems = super().validate(params)
        if params.get("max_words") is None and params.get("max_chars") is None:
            problems.append(("max_words", "give max_words, max_chars or both"))
        return problems

    async def score(self, trace: Trace, params: dict[str, Any], ctx: CheckContext) -> CheckResult:
        target = params.get("target", "answer")
        texts = select(trace, target)
        if not texts:
            return nothing_to_check(target, "measure")
        subject = target if len(texts) == 1 else f"The longest of {target}"
        words = max(len(t.split()) for t in texts)
        chars = max(len(t) for t in texts)
        details = {"words": words, "chars": chars}
        limits = ((words, params.get("max_words"), "word"), (chars, params.get("max_chars"), "character"))
        for size, most, unit in limits:
            if most is not None and size > most:
                return verdict(False, f"{subject} is {count(size, unit)} long, over the limit of {most}.", **details)
        sizes = f"{count(words, 'word')} and {count(chars, 'character')}"
        return verdict(True, f"{subject} is {sizes} long, within the limit.", **details)

