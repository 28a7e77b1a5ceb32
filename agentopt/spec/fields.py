"""The building blocks of every file format: one pydantic configuration and the field types.

The formats (agent specs, rubrics, check fields, the project file) are pydantic dataclasses:
frozen, unknown fields refused, every field described, so the JSON Schemas are generated
from them. Dataclasses rather than `BaseModel`s because the rest of agentopt derives specs
with `dataclasses.replace`, which re-validates them.

YAML data is validated as written, not coerced: `"3"` is not a number, `1` is not true, and a
number must be one JSON can hold (finite, and an integer small enough for a float).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, Strict
from pydantic_core import PydanticCustomError

CONFIG = ConfigDict(
    extra="forbid",
    allow_inf_nan=False,
    validate_by_name=True,  # Python code writes `params=`, a file writes `model_params:`
    validate_by_alias=True,
)


def json_number(value: Any) -> Any:
    """Refuse an int too large to become a float: JSON (and every later computation) cannot hold it."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            raise PydanticCustomError("out_of_range", "is out of range") from None
    return value


def _json_integer(value: Any) -> Any:
    """JSON Schema's integer: 3.0 is one (and becomes 3)."""
    value = json_number(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _unique(items: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(set(items)) != len(items):
        raise PydanticCustomError("unique_items", "must not list the same item twice")
    return items


# Strict: YAML gives real types, so a quoted "3" or a `yes` string is a mistake to report.
Text = Annotated[str, Strict()]
Name = Annotated[str, Strict(), Field(min_length=1)]  # a string that may not be empty
Bool = Annotated[bool, Strict()]
Int = Annotated[int, Strict(), BeforeValidator(_json_integer)]
Number = Annotated[float, Strict(), BeforeValidator(json_number)]
# Bounds inside the type, before the conversion, so that `X | None` still shows them as JSON Schema's minimum/maximum.
PositiveInt = Annotated[int, Strict(), Field(ge=1), BeforeValidator(_json_integer)]
CountInt = Annotated[int, Strict(), Field(ge=0), BeforeValidator(_json_integer)]
NonNegative = Annotated[float, Strict(), Field(ge=0), BeforeValidator(json_number)]
Fraction = Annotated[float, Strict(), Field(ge=0, le=1), BeforeValidator(json_number)]
UNIQUE = AfterValidator(_unique)
UNIQUE_SCHEMA: dict[str, Any] = {"uniqueItems": True}
