"""From pydantic's validation errors to located, one-line problems: `file:line:col: field: message`.

Each error's `loc` is a path through the data the model was given, which is the data the YAML file
holds: a mapping key or a list index, plus the tags pydantic adds for the branches of a union
(`str`, `dict[str,any]`), which name nothing in the data and are dropped. The messages are short and
the same for every format; the words come from the JSON Schema generated from the same models (the
types and values a field allows), so the message says what the schema says.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from agentopt.errors import Problem
from agentopt.spec.yaml_source import Source, join

_UNKNOWN = {"extra_forbidden", "unexpected_keyword_argument"}
_MISSING = {"missing", "missing_argument", "missing_keyword_only_argument", "missing_positional_only_argument"}
_TYPE_NAMES = {"number": "a number", "integer": "an integer", "string": "a string", "object": "a mapping",
               "array": "a list", "boolean": "true or false", "null": "null"}
_BOUNDS = {"greater_than_equal": (">=", "ge"), "less_than_equal": ("<=", "le"),
           "greater_than": (">", "gt"), "less_than": ("<", "lt")}


def problems(error: ValidationError, data: Any, source: Source, schema: dict[str, Any],
             prefix: str = "") -> list[Problem]:
    """One problem per field that is wrong (errors on the branches of one union become one line)."""
    found: dict[str, tuple[list[str | int], list[dict[str, Any]]]] = {}
    for details in error.errors(include_url=False):
        item: dict[str, Any] = dict(details)
        if _only_a_consequence(item):
            continue
        parts = _parts(item["loc"], data)
        path = prefix
        for part in parts:
            path = join(path, part)
        found.setdefault(path, (parts, []))[1].append(item)
    return [_problem(path, parts, items, source, schema, data) for path, (parts, items) in found.items()]


def _only_a_consequence(item: dict[str, Any]) -> bool:
    """pydantic counts a list's items after validation: a list of one wrong item is also "too short".
    That is said by the item's own error."""
    given, ctx = item["input"], item.get("ctx") or {}
    return item["type"] == "too_short" and isinstance(given, list | tuple) and len(given) >= ctx.get("min_length", 0)


def _parts(loc: Iterable[Any], data: Any) -> list[str | int]:
    """The keys and indexes of an error's loc in the data, walking it: union tags are skipped, and an
    index into a mapping (which the model turned into a list) becomes that mapping's key."""
    parts: list[str | int] = []
    value = data
    for part in loc:
        if isinstance(value, dict) and part in value:
            parts.append(part)
            value = value[part]
        elif isinstance(value, dict) and isinstance(part, int) and 0 <= part < len(value):
            key = list(value)[part]
            parts.append(key)
            value = value[key]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            parts.append(part)
            value = value[part]
        elif isinstance(value, dict) and isinstance(part, str):
            parts.append(part)  # a missing key
            value = None
        # else: a union branch's tag, or a position inside a value the data does not hold
    return parts


def _problem(path: str, parts: list[str | int], items: list[dict[str, Any]], source: Source,
             schema: dict[str, Any], data: Any) -> Problem:
    kinds = {item["type"] for item in items}
    if kinds & _UNKNOWN:
        parent = _at(schema, parts[:-1], data)
        known = list(dict.fromkeys(key for branch in _branches(schema, parent) for key in branch.get("properties", {})))
        return source.problem(path, unknown_field(str(parts[-1]) if parts else "", known))
    if kinds & _MISSING:
        return source.problem(path, "missing required field")
    # The specific error of a union branch that had the right type, if any ("must be >= 1" beats
    # "expected null"); else a type error naming every type the schema allows.
    specific = [item for item in items if not item["type"].endswith("_type") and item["type"] != "union_tag_invalid"]
    item = specific[0] if specific else items[0]
    return source.problem(path, _message(item, _at(schema, parts, data), schema))


def _message(item: dict[str, Any], at: dict[str, Any], root: dict[str, Any]) -> str:
    kind, value, ctx = item["type"], item["input"], item.get("ctx") or {}
    got = describe(value)
    if kind == "finite_number" or (_is_number(value) and kind in ("float_type", "int_type") and not _finite(value)):
        return f"must be a finite number, got {got}" if isinstance(value, float) else f"is out of range, got {got}"
    if kind == "out_of_range":
        return f"is out of range, got {got}"
    options = [option for branch in _branches(root, at) for option in branch.get("enum", [])]
    if kind in ("literal_error", "enum") or (kind.endswith("_type") and options):
        return f"expected one of {', '.join(describe(v) for v in options)}, got {got}"
    if kind.endswith("_type") or kind in ("dataclass_args_type", "model_attributes_type"):
        types = _types(root, at)
        if types:
            return f"expected {' or '.join(_TYPE_NAMES.get(t, t) for t in types)}, got {got}"
    if kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind in _BOUNDS:
        sign, key = _BOUNDS[kind]
        return f"must be {sign} {_number_text(ctx.get(key))}, got {got}"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')}, got {got}"
    return item["msg"]


def _number_text(value: Any) -> str:
    """2.0 as 2: the bound as the schema (and the user) writes it."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


# --- the schema at a field path ----------------------------------------------------------------


def _at(schema: dict[str, Any], parts: list[str | int], data: Any) -> dict[str, Any]:
    """The subschema describing the field at `parts`, or {} when the schema has none. Where the
    schema offers one of several mappings (a rubric's check types), the one whose `type` the data
    names is taken."""
    node, value = schema, data
    for part in parts:
        node = _child(schema, _chosen(schema, node, value), part)
        value = _step(value, part)
        if not node:
            return {}
    return _chosen(schema, node, value)


def _step(value: Any, part: str | int) -> Any:
    if isinstance(value, dict):
        return value.get(part)
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return value[part]
    return None


def _chosen(root: dict[str, Any], node: dict[str, Any], value: Any) -> dict[str, Any]:
    node = _resolve(root, node)
    if isinstance(value, dict) and "type" in value:
        for branch in _branches(root, node):
            if branch.get("properties", {}).get("type", {}).get("const") == value["type"]:
                return branch
    return node


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = {**root.get("$defs", {}).get(name, {}), **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _branches(root: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
    node = _resolve(root, node)
    options = node.get("anyOf") or node.get("oneOf")
    if options:
        return [branch for option in options for branch in _branches(root, option)]
    return [node]


def _child(root: dict[str, Any], node: dict[str, Any], part: str | int) -> dict[str, Any]:
    for branch in _branches(root, node):
        if isinstance(part, int) and "items" in branch:
            return branch["items"]
        if isinstance(part, str) and part in branch.get("properties", {}):
            return branch["properties"][part]
        if isinstance(part, str) and isinstance(branch.get("additionalProperties"), dict):
            return branch["additionalProperties"]
    return {}


def _types(root: dict[str, Any], node: dict[str, Any]) -> list[str]:
    types: list[str] = []
    for branch in _branches(root, node):
        kind = branch.get("type")
        for name in [kind] if isinstance(kind, str) else kind or []:
            if name not in types:
                types.append(name)
    return types


# --- shared wording ---------------------------------------------------------------------------


def unknown_field(name: str, known: list[str], what: str = "field", list_known: bool = False) -> str:
    """`unknown field 'x' (did you mean 'y'?)`; with list_known, names them all when none is close."""
    matches = difflib.get_close_matches(name, known, n=3)
    if matches:
        hint = f" (did you mean {' or '.join(repr(m) for m in matches)}?)"
    else:
        hint = f" (known: {', '.join(known)})" if list_known else ""
    return f"unknown {what} '{name}'{hint}"


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
