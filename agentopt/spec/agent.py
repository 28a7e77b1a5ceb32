"""AgentSpec: the agent a team writes in agents/*.yaml.

The dataclasses below are the loaded, validated form. Loading (with file:line:col
errors) lives in `agentopt.spec.load`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LOCAL_MODEL = "local"  # the embedded model, served on loopback, no API key
TOOL_MODES = ("auto", "native", "structured")
SKILL_MODES = ("inline", "on_demand")
EXAMPLE_PICKS = ("first", "similar")
COMPONENTS = ("system_prompt", "skills", "tools", "examples")


@dataclass(frozen=True)
class ModelParams:
    temperature: float = 0.0
    max_tokens: int = 512  # per model call
    seed: int | None = 0
    top_p: float | None = None
    api_base: str | None = None  # any OpenAI-compatible URL (vLLM, a gateway, ...)
    timeout_s: float = 120.0  # per model call


@dataclass(frozen=True)
class Skill:
    """A named markdown procedure the harness offers to the model."""

    name: str
    description: str  # one line, from the file's front matter
    body: str  # the markdown after the front matter
    path: str  # as written in the spec (relative to the spec file)


@dataclass(frozen=True)
class ToolOverride:
    """What the agent sees of one environment tool: a description replacing the env's own, or
    nothing at all (`hidden`: not offered, and a call to it is refused as an unknown tool)."""

    name: str
    description: str | None = None  # None: the environment's own
    hidden: bool = False


@dataclass(frozen=True)
class Example:
    """A few-shot example: an input and the answer the agent should give."""

    input: str
    output: Any  # a string, or a mapping rendered as JSON


@dataclass(frozen=True)
class LoopSettings:
    max_turns: int = 8  # model turns per episode
    max_tokens: int | None = None  # total tokens per episode; None = no limit
    tool_mode: str = "auto"  # auto: structured for the local model, native otherwise
    final_answer: bool = True  # the agent may end with a text answer instead of a tool call
    skills: str = "inline"  # inline: bodies in the system prompt; on_demand: a load_skill tool
    example_pick: str = "first"  # first: examples in order; similar: those most like the task input
    examples_shown: int | None = None  # how many examples a prompt shows; None = all
    max_observation_chars: int | None = 20_000  # longest tool result the model sees and the trace keeps; None = no cap
    observation_template: str | None = None  # Jinja2 over an observation's fields: what the agent reads of it; None = its fields as lines


@dataclass(frozen=True)
class SearchSpace:
    """Discrete and numeric choices the optimizer may search (used by `agentopt run`)."""

    models: tuple[str, ...] = ()
    temperature: tuple[float, float] | None = None  # (low, high)
    max_examples: tuple[int, int] | None = None  # (low, high)
    skills: tuple[str, ...] = ()  # skill names that may be switched on or off


@dataclass(frozen=True)
class OptimizeSpec:
    components: tuple[str, ...] = COMPONENTS  # which parts the optimizer may rewrite
    max_component_tokens: int = 800
    search_space: SearchSpace = field(default_factory=SearchSpace)


@dataclass(frozen=True)
class AgentSpec:
    name: str
    model: str = LOCAL_MODEL
    params: ModelParams = field(default_factory=ModelParams)
    system_prompt: str = ""  # Jinja2 template rendered with the episode's variables
    system_prompt_file: str | None = None  # set when the prompt came from a file
    skills: tuple[Skill, ...] = ()
    tools: tuple[ToolOverride, ...] = ()
    examples: tuple[Example, ...] = ()
    loop: LoopSettings = field(default_factory=LoopSettings)
    optimize: OptimizeSpec = field(default_factory=OptimizeSpec)
    source: str = ""  # the file it was loaded from

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
