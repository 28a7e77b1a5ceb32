"""From an agent spec and an episode's variables to the system prompt the model reads.

The spec's `system_prompt` is a Jinja2 template rendered with the variables the
environment returned at reset: every field of the reset observation, `metadata` included
(`{{ question }}`, `{{ metadata.question }}`), and the keys of its `context` (agentopt's
own environments, e.g. `{{ policy }}`). `loop.observation_template`, when given, is what
the agent reads of each observation (`render_observation`). Skills (inline mode) and few-shot
examples follow as markdown sections; in structured mode the tools are described in the
prompt too, since the model does not receive them through a tools API.
"""

from __future__ import annotations

import json
from typing import Any

from jinja2 import TemplateError

from agentopt.errors import ValidationError
from agentopt.retrieval import shown_examples
from agentopt.scoring.templating import TemplateLimitError, render_limited
from agentopt.spec.agent import AgentSpec
from agentopt.spec.load import problem_at

LOAD_SKILL = "load_skill"
OBSERVATION_TEMPLATE = "loop.observation_template"


def render_template(spec: AgentSpec, variables: dict[str, Any]) -> str:
    """The spec's system prompt rendered with `variables`, within the template limits.

    A template that cannot render (a variable the environment does not give) is a
    ValidationError; one past a time or size limit is a TemplateLimitError naming the
    field, which fails the episode, not the run (the optimizer writes prompts too)."""
    field = "system_prompt_file" if spec.system_prompt_file else "system_prompt"
    try:
        return render_limited(spec.system_prompt, variables)
    except TemplateLimitError as exc:
        where = str(problem_at(spec.source, field, str(exc))) if spec.source else f"{field}: {exc}"
        raise TemplateLimitError(where) from None
    except TemplateError as exc:
        known = ", ".join(sorted(variables)) or "none"
        raise ValidationError(problem_at(spec.source, field, f"cannot render: {exc} (the environment provides: {known})")) from None


def render_observation(spec: AgentSpec, fields: dict[str, Any], which: str) -> str:
    """An observation as the agent reads it through `loop.observation_template` (rendered
    with the observation's fields). `which` names it in errors ("reset", "step"). A field
    the observation lacks is a spec error naming the fields it has; a template past a limit
    fails the episode, as for the system prompt."""
    template = spec.loop.observation_template or ""
    try:
        return render_limited(template, fields)
    except TemplateLimitError as exc:
        where = str(problem_at(spec.source, OBSERVATION_TEMPLATE, str(exc))) if spec.source else f"{OBSERVATION_TEMPLATE}: {exc}"
        raise TemplateLimitError(where) from None
    except TemplateError as exc:
        known = ", ".join(sorted(fields)) or "none"
        message = f"cannot render the {which} observation: {exc} (the observation has: {known})"
        raise ValidationError(problem_at(spec.source, OBSERVATION_TEMPLATE, message)) from None


def skills_section(spec: AgentSpec) -> str:
    if not spec.skills:
        return ""
    if spec.loop.skills == "on_demand":
        lines = [f"- {s.name}: {s.description}" for s in spec.skills]
        return "## Skills\nCall `load_skill` with a skill's name to read its procedure.\n" + "\n".join(lines)
    parts = [f"### {s.name}\n{s.description}\n\n{s.body.strip()}" for s in spec.skills]
    return "## Skills\nFollow these procedures when they apply.\n\n" + "\n\n".join(parts)


def examples_section(spec: AgentSpec, task_input: str | None = None) -> str:
    examples = shown_examples(spec, task_input)
    if not examples:
        return ""
    parts = []
    for example in examples:
        output = example.output if isinstance(example.output, str) else json.dumps(example.output)
        parts.append(f"Input: {example.input}\nAnswer: {output}")
    return "## Examples\n" + "\n\n".join(parts)


def tools_section(tools: list[dict[str, Any]]) -> str:
    """Tool list for structured mode: name, description and argument names."""
    lines = []
    for tool in tools:
        function = tool["function"]
        args = ", ".join(function.get("parameters", {}).get("properties", {}))
        lines.append(f"- {function['name']}({args}): {function.get('description', '').strip()}")
    return "## Tools\nAnswer with one tool call at a time.\n" + "\n".join(lines)


def system_prompt(
    spec: AgentSpec, variables: dict[str, Any], tools: list[dict[str, Any]] | None = None, task_input: str | None = None
) -> str:
    """The system prompt; `task_input` (the episode's first user message) picks similar examples."""
    sections = [render_template(spec, variables).strip(), skills_section(spec), examples_section(spec, task_input)]
    if tools is not None:
        sections.append(tools_section(tools))
    return "\n\n".join(s for s in sections if s)
