"""AgentSpec: the agent a team writes in agents/*.yaml.

These pydantic dataclasses are the one definition of the format: `agentopt.spec.load` validates
files with them (errors located as file:line:col) and `agentopt schema agent` prints the JSON
Schema generated from them. What a file writes differently from the Python form is converted on
the way in: `tools` is a mapping by tool name, a search range is `{low, high}`, and `skills` are
file paths the loader reads into `Skill`s.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Field, TypeAdapter, ValidationError, ValidationInfo, WrapValidator, model_validator
from pydantic.dataclasses import dataclass
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError

from agentopt.spec.fields import (
    CONFIG,
    UNIQUE,
    UNIQUE_SCHEMA,
    Bool,
    CountInt,
    Fraction,
    Int,
    Name,
    Number,
    PositiveInt,
    Text,
)

LOCAL_MODEL = "local"  # the embedded model, served on loopback, no API key
ToolMode = Literal["auto", "native", "structured"]
SkillMode = Literal["inline", "on_demand"]
ExamplePick = Literal["first", "similar"]
Component = Literal["system_prompt", "skills", "tools", "examples"]
TOOL_MODES: tuple[str, ...] = get_args(ToolMode)
SKILL_MODES: tuple[str, ...] = get_args(SkillMode)
EXAMPLE_PICKS: tuple[str, ...] = get_args(ExamplePick)
COMPONENTS: tuple[Component, ...] = get_args(Component)


@dataclass(frozen=True, config=CONFIG)
class ModelParams:
    """Sampling and connection settings for every model call."""

    temperature: Number = Field(default=0.0, ge=0, le=2, description="Sampling temperature, 0 to 2.")
    max_tokens: Int = Field(default=512, ge=1, description="Most tokens the model may write per call.")
    seed: Int | None = Field(default=0, description="Sampling seed; null for none.")
    top_p: Fraction | None = Field(default=None, description="Nucleus sampling, 0 to 1; null for the provider default.")
    api_base: Text | None = Field(default=None, description="URL of an OpenAI-compatible server (vLLM, a gateway, ...); "
                                                    "null for the provider's own.")
    timeout_s: Number = Field(default=120.0, gt=0, description="Seconds to wait for one model call.")


@dataclass(frozen=True, config=CONFIG)
class Skill:
    """A named markdown procedure the harness offers to the model (read from a skill file)."""

    name: str  # from the file's front matter
    description: str  # one line, from the file's front matter
    body: str  # the markdown after the front matter
    path: str  # as written in the spec (relative to the spec file)


@dataclass(frozen=True, config=CONFIG)
class ToolOverride:
    """What the agent sees of one environment tool: a description replacing the env's own, or
    nothing at all (`hidden`: not offered, and a call to it is refused as an unknown tool)."""

    name: SkipJsonSchema[str] = Field(description="The tool's name (the key in `tools`).")
    description: Text | None = Field(default=None, description="What the tool does, as the agent sees it.")
    hidden: Bool = Field(default=False, description="true: the agent is not offered this tool, and a call to it is refused.")


@dataclass(frozen=True, config=CONFIG)
class Example:
    """A few-shot example: an input and the answer the agent should give."""

    input: Text = Field(description="The task input.")
    output: Text | dict[str, Any] = Field(description="The answer the agent should give: text or a mapping "
                                                      "(rendered as JSON).")


@dataclass(frozen=True, config=CONFIG)
class LoopSettings:
    """How the harness runs an episode."""

    max_turns: Int = Field(default=8, ge=1, description="Most model turns per episode.")
    max_tokens: PositiveInt | None = Field(default=None, description="Most tokens per episode, all calls together; "
                                                           "null for no limit.")
    tool_mode: ToolMode = Field(default="auto", description="auto: structured JSON for the local model, native tool calls "
                                                    "otherwise.")
    final_answer: Bool = Field(default=True, description="Whether the agent may end with a text answer instead of a "
                                                 "tool call.")
    skills: SkillMode = Field(default="inline", description="inline: skill bodies in the system prompt; on_demand: a "
                                                    "load_skill tool.")
    example_pick: ExamplePick = Field(default="first", description="first: show the examples in order; similar: show those "
                                      "most like the task's input (TF-IDF), most similar first.")
    examples_shown: CountInt | None = Field(default=None, description="How many examples a prompt shows; null for all.")
    max_observation_chars: PositiveInt | None = Field(default=20_000, description=(
        "Longest tool result, in characters, the model sees and the trace keeps; a longer one is cut and ends with "
        "a note saying so. null for no limit."))
    observation_template: Text | None = Field(default=None, description=(
        "Jinja2 template over an observation's fields (reset and step): what the agent reads of each observation. "
        "null: its non-empty fields as `field: value` lines."))


# --- search ranges: {low, high} in a file, a (low, high) tuple in Python ----------------------------


def _ordered(low: float, high: float) -> None:
    if low > high:
        shown = {key: int(value) if float(value).is_integer() else value for key, value in (("low", low), ("high", high))}
        raise PydanticCustomError("range_order", "low ({low}) is above high ({high})", shown)


@dataclass(frozen=True, config=CONFIG)
class TemperatureRange:
    """Temperatures to try (low <= high)."""

    low: Number = Field(ge=0, le=2, description="Lowest value.")
    high: Number = Field(ge=0, le=2, description="Highest value.")

    @model_validator(mode="after")
    def _check(self) -> TemperatureRange:
        _ordered(self.low, self.high)
        return self


@dataclass(frozen=True, config=CONFIG)
class ExamplesRange:
    """How many few-shot examples to keep (low <= high)."""

    low: Int = Field(ge=0, description="Lowest value.")
    high: Int = Field(ge=0, description="Highest value.")

    @model_validator(mode="after")
    def _check(self) -> ExamplesRange:
        _ordered(self.low, self.high)
        return self


@dataclass(frozen=True, config=CONFIG)
class TokensRange:
    """Per-call max_tokens to try (low <= high)."""

    low: Int = Field(ge=1, description="Lowest value.")
    high: Int = Field(ge=1, description="Highest value.")

    @model_validator(mode="after")
    def _check(self) -> TokensRange:
        _ordered(self.low, self.high)
        return self


def _range(kind: type) -> WrapValidator:
    adapter: TypeAdapter[Any] = TypeAdapter(kind)

    def convert(value: Any, handler: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict) and (info.context or {}).get("file"):  # (low, high) and None are Python's
            raise PydanticCustomError("dict_type", "expected a mapping")
        if isinstance(value, dict):
            bounds = adapter.validate_python(value)
            return bounds.low, bounds.high
        return handler(value)

    return WrapValidator(convert, json_schema_input_type=kind)


@dataclass(frozen=True, config=CONFIG)
class SearchSpace:
    """Discrete and numeric choices the optimizer may search (used by `agentopt run`)."""

    models: tuple[Name, ...] = Field(default=(), description="Models to try.")
    temperature: Annotated[tuple[float, float] | None, _range(TemperatureRange)] = Field(
        default=None, description="Temperatures to try, {low, high}, 0 to 2.")
    max_examples: Annotated[tuple[int, int] | None, _range(ExamplesRange)] = Field(
        default=None, description="How many few-shot examples to keep, {low, high}.")
    skills: tuple[Text, ...] = Field(default=(), description="Names of skills (from `skills`) that may be switched on or off.")
    max_tokens: Annotated[tuple[int, int] | None, _range(TokensRange)] = Field(
        default=None, description="Per-call max_tokens to try (model_params.max_tokens), {low, high}: raise it when replies are cut short.")
    tools: tuple[Name, ...] = Field(default=(), description="Names of environment tools the optimizer may hide from the agent or "
                                                            "offer (as `tools: {NAME: {hidden: true}}` does).")


@dataclass(frozen=True, config=CONFIG)
class OptimizeSpec:
    """What the optimizer may change (used by `agentopt run`)."""

    components: Annotated[tuple[Component, ...], UNIQUE] = Field(default=
        COMPONENTS, json_schema_extra=UNIQUE_SCHEMA, description="Parts of the agent the optimizer may rewrite.")
    max_component_tokens: Int = Field(default=800, ge=1, description="Longest a rewritten component may get, in tokens.")
    search_space: SearchSpace = Field(default_factory=SearchSpace, description="Discrete and numeric choices the "
                                                                               "optimizer may search.")


# --- tools and skills: as a file writes them ------------------------------------------------------


def _tools_by_name(value: Any, handler: Any, info: ValidationInfo) -> Any:
    """`tools: {NAME: {description, hidden}}` in a file; a tuple of ToolOverride in Python."""
    if not isinstance(value, dict) and (info.context or {}).get("file"):
        raise PydanticCustomError("dict_type", "expected a mapping")
    if isinstance(value, dict):
        named = []
        for name, fields in value.items():
            if isinstance(fields, dict) and "name" in fields:  # the key is the name: `name:` inside is not a field
                raise ValidationError.from_exception_data("tools", [InitErrorDetails(
                    type="extra_forbidden", loc=(name, "name"), input=fields["name"])])
            named.append({**fields, "name": name} if isinstance(fields, dict) else fields)
        value = named
    return handler(value)


class SkillNotRead(Exception):
    """A skill path reached the model unread: only `agentopt.spec.load` turns paths into skills."""


def _skill_files(value: Any, handler: Any) -> Any:
    """`skills: [PATH, ...]` in a file, which the loader has already read into Skills."""
    if isinstance(value, list):
        errors = [_skill_item_error(i, item) for i, item in enumerate(value) if not isinstance(item, Skill)]
        if errors:
            raise ValidationError.from_exception_data("skills", errors)
    return handler(value)


def _skill_item_error(index: int, item: Any) -> InitErrorDetails:
    if not isinstance(item, str):
        return InitErrorDetails(type="string_type", loc=(index,), input=item)
    if not item:
        return InitErrorDetails(type="string_too_short", loc=(index,), input=item, ctx={"min_length": 1})
    return InitErrorDetails(type=PydanticCustomError("skill_not_read", "a skill file is read by agentopt.spec.load"),
                            loc=(index,), input=item)


@dataclass(frozen=True, config=CONFIG)
class AgentSpec:
    """An agent: its model, prompt, skills, tool descriptions and loop settings."""

    name: Name = Field(description="The agent's name.")
    model: Name = Field(default=LOCAL_MODEL, description='"local" for the embedded model, or a litellm model string such as '
                                                 "openai/gpt-4o-mini.")
    # validation_alias + serialization_alias, not alias: a type checker takes `alias` as the
    # __init__ parameter's name (PEP 681), and Python code writes `params=`.
    params: ModelParams = Field(default_factory=ModelParams, validation_alias="model_params",
                                serialization_alias="model_params",
                                description="Sampling and connection settings for every model call.")
    system_prompt: Text = Field(default="", description="System prompt, a Jinja2 template rendered with the episode's "
                                                "variables. Give this or system_prompt_file.")
    system_prompt_file: Name | None = Field(default=None, description="File holding the system prompt (a Jinja2 template), "
                                                              "relative to this file. Give this or system_prompt.")
    skills: Annotated[tuple[Skill, ...], WrapValidator(_skill_files, json_schema_input_type=list[Name])] = Field(default=
        (), description="Markdown skill files, relative to this file; each starts with front matter giving `name` "
                        "and a one-line `description`.")
    tools: Annotated[tuple[ToolOverride, ...], WrapValidator(_tools_by_name, json_schema_input_type=dict[
        str, ToolOverride])] = Field(default=(), description="Tool descriptions the agent sees, by tool name (override the "
                                                     "environment's), or `hidden: true`.")
    examples: tuple[Example, ...] = Field(default=(), description="Few-shot examples shown to the agent.")
    loop: LoopSettings = Field(default_factory=LoopSettings, description="How the harness runs an episode.")
    optimize: OptimizeSpec = Field(default_factory=OptimizeSpec, description="What the optimizer may change "
                                                                             "(used by `agentopt run`).")
    source: SkipJsonSchema[str] = ""  # the file it was loaded from; not a field of the file

    @property
    def is_local(self) -> bool:
        return self.model == LOCAL_MODEL

    @property
    def structured_tools(self) -> bool:
        """Whether the agent acts through grammar-constrained JSON instead of native tool calls."""
        if self.loop.tool_mode == "auto":
            return self.is_local
        return self.loop.tool_mode == "structured"

    def tool_description(self, name: str, default: str) -> str:
        for tool in self.tools:
            if tool.name == name and tool.description is not None:
                return tool.description
        return default

    @property
    def hidden_tools(self) -> frozenset[str]:
        """Environment tools the agent never sees nor may call."""
        return frozenset(t.name for t in self.tools if t.hidden)

