"""What a rubric may write in a criterion's `check`: the check types, each with its typed fields.

The spec layer defines the rubric format but not the checks, which live in the scoring layer
(above it): `agentopt.scoring` registers a provider here when it is imported, and the rubric model
validates each check's fields through it. Loading a rubric before anything imported the scoring
layer imports it then, by name (`PROVIDER`): the spec layer never imports it in its code, so the
layers stay as the import-linter contract says, and `load_rubric` works on its own. A check type gives:

- `name`, as a rubric writes it in `check.type`, and a one-line `summary`;
- `params`: a pydantic dataclass of the check's own fields (frozen, unknown fields refused, each
  field described), from which the rubric's JSON Schema is generated;
- `default_pass_at`, and `validate(params)` / `warnings(params)`: what a schema cannot say
  (a regex that does not compile, a template that does not parse), as (field, message) pairs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Protocol

from pydantic import TypeAdapter


class CheckFormat(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def summary(self) -> str: ...

    @property
    def params(self) -> type: ...

    @property
    def default_pass_at(self) -> float: ...

    def validate(self, params: dict[str, Any]) -> list[tuple[str, str]]: ...

    def warnings(self, params: dict[str, Any]) -> list[tuple[str, str]]: ...


_provider: Callable[[], Mapping[str, CheckFormat]] | None = None
PROVIDER = "agentopt.scoring"  # the module that calls provide() when imported


def provide(formats: Callable[[], Mapping[str, CheckFormat]]) -> None:
    """Called by the scoring layer: where the registered check types come from."""
    global _provider
    _provider = formats


def check_formats() -> dict[str, CheckFormat]:
    """Every registered check type by name."""
    if _provider is None:
        importlib.import_module(PROVIDER)
    if _provider is None:
        raise RuntimeError(f"{PROVIDER} registered no check types")
    return dict(_provider())


@cache
def adapter(params: type) -> TypeAdapter[Any]:
    """The validator of one check type's fields (built once per type)."""
    return TypeAdapter(params)


def params_schema(params: type) -> dict[str, Any]:
    """The JSON Schema of a check's own fields, without `type` (the rubric adds it): properties,
    required, additionalProperties and any $defs."""
    schema = without_null_defaults(adapter(params).json_schema())
    keep = ("properties", "required", "additionalProperties", "$defs")
    return {"required": [], **{key: schema[key] for key in keep if key in schema}}


def without_null_defaults(schema: Any) -> Any:
    """The schema without `"default": null` on fields that may not be null: such a field's None only
    means "not given" (the check's own behaviour applies), and an editor must not write it."""
    if isinstance(schema, list):
        return [without_null_defaults(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned = {key: without_null_defaults(value) for key, value in schema.items()}
    kinds = cleaned.get("type")
    if cleaned.get("default", ...) is None and kinds is not None and "null" not in ([kinds] if isinstance(kinds, str) else kinds):
        del cleaned["default"]
    if cleaned.get("default", ...) is None and "$ref" in cleaned:
        del cleaned["default"]
    return cleaned
