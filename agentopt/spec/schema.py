"""The JSON Schemas of the file formats, generated from their models (nothing here is written by hand).

`agentopt schema agent|rubric|project` prints them for editors; the loaders validate with the
models themselves and word their messages from these schemas, so the two cannot disagree
(tests/spec/test_formats.py checks that they accept the same files).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from agentopt.spec.agent import AgentSpec
from agentopt.spec.check_formats import check_formats, params_schema, without_null_defaults
from agentopt.spec.rubric import Rubric

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_CHECK_DESCRIPTION = "How the criterion is scored: a check `type` and that check's own fields."


def titled(title: str, schema: dict[str, Any]) -> dict[str, Any]:
    schema = without_null_defaults(schema)
    return {"$schema": DIALECT, "title": title, **{key: value for key, value in schema.items() if key != "title"}}


def agent_json_schema() -> dict[str, Any]:
    """What an agent spec file may write (generated from AgentSpec)."""
    return copy.deepcopy(_agent_schema())


@cache
def _agent_schema() -> dict[str, Any]:
    return titled("agentopt agent spec", TypeAdapter(AgentSpec).json_schema(by_alias=True))


def rubric_json_schema() -> dict[str, Any]:
    """What a rubric file may write (generated from Rubric and each registered check's fields).

    A file writes a criterion's check as one mapping, so the Python form's `check` (the type) and
    `params` (the fields) become `check`: one of the registered check types' schemas."""
    checks = tuple((name, check.summary, check.params) for name, check in sorted(check_formats().items()))
    return copy.deepcopy(_rubric_schema(checks))


@cache
def _rubric_schema(checks: tuple[tuple[str, str, type], ...]) -> dict[str, Any]:
    """The rubric schema for these registered check types (name, summary, params)."""
    schema = TypeAdapter(Rubric).json_schema(by_alias=True)
    definitions = schema.setdefault("$defs", {})
    criterion = definitions["Criterion"]
    properties = criterion["properties"]
    del properties["params"]
    properties["weight"]["default"] = 1
    branches = []
    for name, summary, params in checks:
        own = params_schema(params)
        definitions.update(own.pop("$defs", {}))
        branches.append({
            "type": "object",
            "title": name,
            "description": summary,
            "properties": {"type": {"const": name, "description": summary}, **own["properties"]},
            "required": ["type", *own["required"]],
            "additionalProperties": False,
        })
    properties["check"] = {"description": _CHECK_DESCRIPTION, "oneOf": branches}
    properties["pass_at"].pop("default", None)  # the check type's own
    criterion["required"] = [key for key in criterion["required"] if key in properties and key != "weight"]
    return titled("agentopt rubric", schema)
