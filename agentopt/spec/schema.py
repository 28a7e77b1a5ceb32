"""JSON Schemas of agent specs and rubrics, and the structural validation they drive.

The schemas are what `agentopt schema agent|rubric` prints for editors, and the very
same schemas check the structure and types of a loaded file (`schema_problems`), so
the two can never disagree. What a schema cannot say (files that must exist, templates
that must parse, names that must be unique) is checked in `agentopt.spec.load`.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError as SchemaError

from agentopt.errors import Problem
from agentopt.scoring import base
from agentopt.spec.agent import AGENT, LOCAL_MODEL
from agentopt.spec.yaml_source import Source, join

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _field(types: str | list[str], description: str, **constraints: Any) -> dict[str, Any]:
    return {"type": types, "description": description, **constraints}


def _object(description: str, properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema = {"type": "object", "description": description, "properties": properties}
    if required:
        schema["required"] = list(required)
    return {**schema, "additionalProperties": False}


def _range(description: str, kind: str, minimum: float, maximum: float | None = None) -> dict[str, Any]:
    """A {low, high} mapping, e.g. a temperature range the optimizer may search."""
    bounds = {"minimum": minimum} | ({"maximum": maximum} if maximum is not None else {})
    return _object(
        f"{description} (low <= high).",
        {"low": _field(kind, "Lowest value.", **bounds), "high": _field(kind, "Highest value.", **bounds)},
        required=("low", "high"),
    )


def _titled(title: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": DIALECT, "title": title, **schema}


def check_schema(name: str, check: base.Check) -> dict[str, Any]:
    """The schema of one check type: `type: NAME` plus the check's own fields."""
    params = check.params_schema
    own = ("type", "title", "description", "properties", "required", "additionalProperties")
    return {
        **{key: value for key, value in params.items() if key not in own},
        "type": "object",
        "title": name,
        "description": check.summary,
        "properties": {
            "type": {"const": name, "description": check.summary},
            **params.get("properties", {}),
        },
        "required": ["type", *params.get("required", [])],
        "additionalProperties": False,
    }


_CHECK_DESCRIPTION = "How the criterion is scored: a check `type` and that check's own fields."
_ANY_CHECK = {  # used while validating; each check's own schema is applied afterwards
    "type": "object",
    "description": _CHECK_DESCRIPTION,
    "properties": {"type": _field("string", "The check type.")},
    "required": ["type"],
}


def _rubric(check: dict[str, Any]) -> dict[str, Any]:
    criterion = _object("One thing the agent must get right.", {
        "id": _field("string", "Unique id: lowercase letters, digits and underscores.", pattern="^[a-z0-9_]+$"),
        "description": _field("string", "What this criterion means, in plain language.", minLength=1),
        "weight": _field("number", "Weight in the episode's score.", minimum=0, default=1),
        "gate": _field("boolean", "When true, failing this criterion zeroes the episode's score.", default=False),
        "pass_at": _field("number", "The criterion passes when its score is at least this (default: the "
                          "check's own).", minimum=0, maximum=1),
        "check": check,
    }, required=("id", "description", "check"))
    return _object(
        "A rubric: the weighted criteria that say what done right means.",
        {
            "name": _field("string", "The rubric's name.", minLength=1),
            "description": _field("string", "What the rubric is for."),
            "pass_threshold": _field("number", "An episode passes when its score is at least this.",
                                     minimum=0, maximum=1, default=0.7),
            "judge_model": _field("string", "Default model for llm_judge checks.", minLength=1,
                                  default=LOCAL_MODEL),
            "criteria": _field("array", "The criteria, at least one.", items=criterion, minItems=1),
        },
        required=("name", "criteria"),
    )


def agent_json_schema() -> dict[str, Any]:
    """Generated from the AgentSpec model: what a file may write."""
    return _titled("agentopt agent spec", AGENT.json_schema(by_alias=True))


def rubric_json_schema() -> dict[str, Any]:
    branches = [check_schema(name, check) for name, check in sorted(base.all_checks().items())]
    return _titled("agentopt rubric", _rubric({"description": _CHECK_DESCRIPTION, "oneOf": branches}))


def rubric_structure_schema() -> dict[str, Any]:
    """The rubric schema with `check` reduced to `{type: string}`, for precise messages."""
    return _rubric(_ANY_CHECK)


# --- From schema errors to problems -------------------------------------------------------


def _is_json_number(checker: Any, value: Any) -> bool:
    """A number JSON can hold: YAML's .nan and .inf are not, nor an int too large for a float
    (which would overflow where the loader turns it into one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _is_json_integer(checker: Any, value: Any) -> bool:
    """Also a JSON number: `minimum` and `maximum` skip values that are not "number"s."""
    return _is_json_number(checker, value) and (isinstance(value, int) or value.is_integer())


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Any:
    """`pattern` as JSON Schema (ECMA-262) reads it, as editors do: a final `$` ends the string.
    Python's `$` also matches before a final newline, which let `id: "abc\\n"` through."""
    if not validator.is_type(instance, "string"):
        return
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    if not re.search(pattern, instance):
        yield SchemaError(f"{instance!r} does not match {pattern!r}")


_Validator = validators.extend(
    Draft202012Validator,
    validators={"pattern": _pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"number": _is_json_number, "integer": _is_json_integer}
    ),
)


def schema_problems(schema: dict[str, Any], data: Any, source: Source, prefix: str = "") -> list[Problem]:
    """Every way `data` breaks `schema`, as located problems with short messages."""
    validator = _Validator(schema)
    return [problem for error in validator.iter_errors(data) for problem in _problems(error, source, prefix)]


def _problems(error: SchemaError, source: Source, prefix: str) -> list[Problem]:
    path = prefix
    for part in error.absolute_path:
        path = join(path, part)
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        return [source.problem(join(path, key), unknown_field(key, known)) for key in value if key not in known]
    if kind == "required":
        return [source.problem(join(path, key), "missing required field") for key in expected if key not in value]
    if kind in ("anyOf", "oneOf"):
        # The value has the right type for some option, but breaks it: say how.
        specific = [sub for sub in error.context if sub.validator != "type"]
        if specific:
            return _problems(specific[0], source, prefix)
    return [source.problem(path, _message(kind, expected, value) or error.message)]


def unknown_field(name: str, known: list[str], what: str = "field", list_known: bool = False) -> str:
    """`unknown field 'x' (did you mean 'y'?)`; with list_known, names them all when none is close."""
    matches = difflib.get_close_matches(name, known, n=3)
    if matches:
        hint = f" (did you mean {' or '.join(repr(m) for m in matches)}?)"
    else:
        hint = f" (known: {', '.join(known)})" if list_known else ""
    return f"unknown {what} '{name}'{hint}"


_TYPE_NAMES = {"number": "a number", "integer": "an integer", "string": "a string", "object": "a mapping",
               "array": "a list", "boolean": "true or false", "null": "null"}


def _message(kind: str, expected: Any, value: Any) -> str | None:
    got = describe(value)
    if kind == "type":
        types = [expected] if isinstance(expected, str) else expected
        numeric = {"number", "integer"} & set(types)
        if numeric and isinstance(value, int | float) and not _is_json_number(None, value):
            # a number, yet not a JSON one (see _is_json_number)
            return f"must be a finite number, got {got}" if isinstance(value, float) else f"is out of range, got {got}"
        names = [_TYPE_NAMES.get(t, t) for t in types]
        return f"expected {' or '.join(names)}, got {got}"
    if kind in ("anyOf", "oneOf") and all("type" in option for option in expected):
        return _message("type", [option["type"] for option in expected], value)
    if kind == "enum":
        return f"expected one of {', '.join(describe(v) for v in expected)}, got {got}"
    if kind in ("minLength", "minItems") and expected == 1:
        return "must not be empty"
    bounds = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if kind in bounds:
        return f"must be {bounds[kind]} {expected}, got {got}"
    if kind == "pattern":
        return f"must match {expected}, got {got}"
    if kind == "uniqueItems":
        return "must not list the same item twice"
    return None


def describe(value: Any) -> str:
    """A short, YAML-flavoured rendering of a value for messages."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
