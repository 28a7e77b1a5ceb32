"""Rubric: what "done right" means, in rubrics/*.yaml, owned by a PM.

These pydantic dataclasses are the one definition of the format: `agentopt.spec.load` validates
files with them (errors located as file:line:col) and `agentopt schema rubric` prints the JSON
Schema generated from them. A file writes a criterion's check as one mapping, `check: {type: NAME,
...its fields}`; in Python the criterion holds the type in `check` and the fields, as written, in
`params`. Each check type's fields are validated by its own typed model (`check_formats`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, Strict, ValidationError, model_validator
from pydantic.dataclasses import dataclass
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import ArgsKwargs, InitErrorDetails, PydanticCustomError

from agentopt.spec.agent import LOCAL_MODEL
from agentopt.spec.check_formats import adapter, check_formats
from agentopt.spec.fields import CONFIG, Bool, Fraction, Name, Number, Text
from agentopt.spec.problems import unknown_field

CriterionId = Annotated[str, Strict(), Field(pattern=r"^[a-z0-9_]+$")]


@dataclass(frozen=True, config=CONFIG)
class Criterion:
    """One thing the agent must get right."""

    id: CriterionId = Field(description="Unique id: lowercase letters, digits and underscores.")
    description: Name = Field(description="What this criterion means, in plain language; also shown to the "
                                          "optimizer's mutator.")
    weight: Number = Field(ge=0, description="Weight in the episode's score (a file's default: 1).")
    check: Text = Field(description="How the criterion is scored: a check `type` and that check's own fields.")
    params: dict[str, Any] = Field(default_factory=dict, description="The check's own fields, as written.")
    gate: Bool = Field(default=False, description="When true, failing this criterion zeroes the episode's score.")
    pass_at: Fraction = Field(default=1.0, description="The criterion passes when its score is at least this (default: "
                                               "the check's own).")

    @model_validator(mode="wrap")
    @classmethod
    def _from_file(cls, data: Any, handler: Any) -> Any:
        """A file's criterion: `check: {type, ...fields}` split into `check` and `params`, the fields
        validated by the check type's model; weight and pass_at defaulted."""
        if isinstance(data, ArgsKwargs) or not isinstance(data, dict):
            return handler(data)
        errors: list[InitErrorDetails] = []
        if "params" in data:  # the Python name: a file writes the fields inside `check`
            errors.append(InitErrorDetails(type="extra_forbidden", loc=("params",), input=data["params"]))
        data = {key: value for key, value in data.items() if key != "params"}
        if "check" in data:
            name, params, default_pass_at, found = _check(data["check"])
            errors += found
            data = {"weight": 1.0, "pass_at": default_pass_at, **data, "check": name, "params": params}
        try:
            result = handler(data)
        except ValidationError as error:
            errors += [_detail(item) for item in error.errors(include_url=False)]
            result = None
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return result


def _check(check: Any) -> tuple[str, dict[str, Any], float, list[InitErrorDetails]]:
    """(type, fields, default pass_at, errors) of a file's `check` mapping."""
    placeholder: tuple[str, dict[str, Any], float] = ("", {}, 1.0)
    if not isinstance(check, dict):
        return *placeholder, [InitErrorDetails(type="dict_type", loc=("check",), input=check)]
    if "type" not in check:
        return *placeholder, [InitErrorDetails(type="missing", loc=("check", "type"), input=check)]
    name = check["type"]
    if not isinstance(name, str):
        return *placeholder, [InitErrorDetails(type="string_type", loc=("check", "type"), input=name)]
    formats = check_formats()
    if name not in formats:
        message = unknown_field(name, sorted(formats), "check type", list_known=True)
        error = PydanticCustomError("unknown_check_type", "{message}", {"message": message})
        return *placeholder, [InitErrorDetails(type=error, loc=("check", "type"), input=name)]
    params = {key: value for key, value in check.items() if key != "type"}
    form = formats[name]
    try:
        adapter(form.params).validate_python(params, by_alias=True, by_name=False)
    except ValidationError as error:
        return name, params, form.default_pass_at, [_detail(item, ("check",)) for item in error.errors(include_url=False)]
    return name, params, form.default_pass_at, []


def _detail(item: Any, prefix: tuple[Any, ...] = ()) -> InitErrorDetails:
    """An error of a nested validation, re-raised at its place in the criterion."""
    ctx = {**(item.get("ctx") or {}), "message": item["msg"]}
    return InitErrorDetails(type=PydanticCustomError(item["type"], "{message}", ctx),
                            loc=(*prefix, *item["loc"]), input=item["input"], ctx=ctx)


@dataclass(frozen=True, config=CONFIG)
class Rubric:
    """A rubric: the weighted criteria that say what done right means."""

    name: Name = Field(description="The rubric's name.")
    criteria: tuple[Criterion, ...] = Field(min_length=1, description="The criteria, at least one.")
    pass_threshold: Fraction = Field(default=0.7, description="An episode passes when its score is at least this.")
    description: Text = Field(default="", description="What the rubric is for.")
    judge_model: Name = Field(default=LOCAL_MODEL, description="Default model for llm_judge checks.")
    source: SkipJsonSchema[str] = ""  # the file it was loaded from; not a field of the file

    @property
    def total_weight(self) -> float:
        return sum(c.weight for c in self.criteria)
