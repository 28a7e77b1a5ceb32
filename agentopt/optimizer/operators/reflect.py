"""reflect: an LLM rewrites one component after reading episodes where the agent failed.

GEPA-style reflective mutation. The component is the system prompt, one skill's body, or one
tool's description, whichever `spec.optimize.components` allows. The mutator sees the
current text, a minibatch of failed (and a few passed) episodes with the rubric's feedback,
and what each criterion means; it answers `{"text": "..."}`. The new text is rejected (None,
with the reason logged) when it is empty or unchanged, too long, copies a train input, or,
for the system prompt, does not render with the environment's variables.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from optuna.distributions import IntDistribution

from agentopt.errors import TemplateLimitError, ValidationError
from agentopt.optimizer.guards import check_text
from agentopt.optimizer.prompts import answer_tokens, ask_json, failing_criteria, minibatch, reflective_dataset, render
from agentopt.optimizer.types import Candidate, Proposal, ProposalContext
from agentopt.prompt import render_template
from agentopt.records import Component
from agentopt.spec.agent import AgentSpec, ToolOverride

log = logging.getLogger(__name__)

SYSTEM_PROMPT = "system_prompt"
TEXT_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
    "additionalProperties": False,
}
MAX_COMPONENT_INDEX = 7  # the index is taken modulo the parent's number of components


class ReflectOperator:
    name = "reflect"
    needs_mutator: bool = True  # left out by default when the mutator is the embedded model
    edits: str | None = None
    first_params: dict[str, Any] = {}

    def __init__(self, max_failures: int = 3, max_passes: int = 1, templates_dir: str | None = None):
        self.max_failures = max_failures
        self.max_passes = max_passes
        self.templates_dir = templates_dir

    def search_space(self, parent: Candidate) -> dict[str, Any]:
        # The same distribution for every parent (Optuna requires it); reduced modulo below.
        return {f"{self.name}.component_index": IntDistribution(0, MAX_COMPONENT_INDEX)}

    async def propose(self, ctx: ProposalContext) -> Proposal | None:
        spec = ctx.parent.spec
        names = components(spec, ctx.tools)
        if not names or not ctx.failures():
            return None
        index = ctx.params.get(f"{self.name}.component_index")
        component = names[(index if index is not None else ctx.rng.randrange(len(names))) % len(names)]
        current = current_text(spec, component, ctx.tools)
        records = reflective_dataset(minibatch(ctx, self.max_failures, self.max_passes))
        max_tokens = spec.optimize.max_component_tokens
        prompt = render(
            "reflect.j2",
            templates_dir=self.templates_dir,
            component=component,
            what=describe(component),
            current=current,
            records=records,
            criteria=ctx.rubric.criteria,
            tools=ctx.tools,
            variables=ctx.variables if component == SYSTEM_PROMPT else (),
            max_tokens=max_tokens,
        )
        answer = await ask_json(ctx, prompt, TEXT_SCHEMA, answer_tokens(max_tokens))
        text = answer.get("text") if answer else None
        if not isinstance(text, str):
            _log_rejected(component, "the mutator gave no text")
            return None
        text = text.strip()
        child = with_text(spec, component, text)
        problem = check_text(text, current, ctx, max_tokens)
        if problem is None and component == SYSTEM_PROMPT:
            problem = render_problem(child, ctx.variables)
        if problem:
            _log_rejected(component, problem)
            return None
        failed = ", ".join(failing_criteria(records, ctx.rubric)) or "none"
        return Proposal(child, component, f"reflect rewrote {component} after failures on: {failed}")


def components(spec: AgentSpec, tools: tuple[tuple[str, str], ...]) -> list[str]:
    """The components reflect may rewrite, in a stable order."""
    allowed = spec.optimize.components
    names: list[str] = [SYSTEM_PROMPT] if SYSTEM_PROMPT in allowed else []
    if "skills" in allowed:
        names += [Component.skill(s.name) for s in spec.skills]
    if "tools" in allowed:
        names += [Component.tool(name) for name, _ in tools]
    return names


def current_text(spec: AgentSpec, component: str, tools: tuple[tuple[str, str], ...]) -> str:
    part = Component(component)
    if (skill := part.named("skill")) is not None:
        return next(s.body for s in spec.skills if s.name == skill)
    if (tool := part.named("tool")) is not None:
        return spec.tool_description(tool, dict(tools).get(tool, ""))
    return spec.system_prompt


def with_text(spec: AgentSpec, component: str, text: str) -> AgentSpec:
    """`spec` with `component` set to `text` and nothing else changed."""
    part = Component(component)
    if (skill := part.named("skill")) is not None:
        skills = tuple(replace(s, body=text) if s.name == skill else s for s in spec.skills)
        return replace(spec, skills=skills)
    if (tool := part.named("tool")) is not None:
        others = [t for t in spec.tools if t.name != tool]
        if len(others) == len(spec.tools):
            return replace(spec, tools=(*spec.tools, ToolOverride(tool, text)))
        return replace(spec, tools=tuple(replace(t, description=text) if t.name == tool else t for t in spec.tools))
    # The prompt no longer matches its file, so the child carries it inline.
    return replace(spec, system_prompt=text, system_prompt_file=None)


def describe(component: str) -> str:
    part = Component(component)
    kind, name = part.kind, part.name
    if kind == "skill":
        return f"The body of the skill `{name}`: a markdown procedure the agent follows when it applies."
    if kind == "tool":
        return f"The description of the tool `{name}`: the agent reads it to decide when and how to call the tool."
    return "The agent's system prompt: the instructions it reads before every task."


class _Placeholder(str):
    """A variable's stand-in that also has every attribute and item (`metadata.question`,
    `task["id"]`): the environment's values are not known here, only their names."""

    def __getattr__(self, name: str) -> _Placeholder:
        if name.startswith("_"):
            raise AttributeError(name)
        return _Placeholder(f"{str(self)[:-1]}.{name}>")

    def __getitem__(self, key: object) -> _Placeholder:  # type: ignore[override]
        return _Placeholder(f"{str(self)[:-1]}[{key!r}]>")


def render_problem(spec: AgentSpec, variables: tuple[str, ...]) -> str | None:
    """Why the system prompt cannot render with the environment's variables, or None."""
    try:
        render_template(spec, {v: _Placeholder(f"<{v}>") for v in variables})
    except ValidationError as exc:
        return exc.problems[0].message
    except TemplateLimitError as exc:
        return str(exc)
    return None


def _log_rejected(component: str, reason: str) -> None:
    log.info("reflect: rejected a new %s: %s", component, reason)
