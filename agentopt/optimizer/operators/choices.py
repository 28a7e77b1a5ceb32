"""Discrete and numeric choices from `optimize.search_space`: model, temperature, max_tokens,
how many examples to keep, which skills are on, and which environment tools the agent is offered.

The distributions come only from the parent's `optimize.search_space`, which no operator
changes, so every parent of a run gets the same ones (Optuna rejects a categorical whose
choices change between trials).

Switching a skill back on needs its body. It is looked up, first match wins, in the parent's
skills, then the skills given to the constructor (e.g. the baseline's), then the skills of the
other frontier candidates (`ctx.others`). A skill found nowhere stays off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from agentopt.optimizer.types import Candidate, Proposal, ProposalContext
from agentopt.spec.agent import AgentSpec, Skill, ToolOverride

TEMPERATURE_DIGITS = 2  # sampled temperatures are rounded: 0.7, not 0.7034...


class ChoicesOperator:
    name = "choices"
    edits: str | None = None
    first_params: dict[str, Any] = {}
    needs_mutator: bool = False

    def __init__(self, skills: Iterable[Skill] = ()):
        self.skills = tuple(skills)  # extra source of skill bodies for switching skills back on

    def search_space(self, parent: Candidate) -> dict[str, Any]:
        space = parent.spec.optimize.search_space
        dists: dict[str, Any] = {}
        if space.models:
            dists["choices.model"] = CategoricalDistribution(list(space.models))
        if space.temperature:
            low, high = space.temperature
            dists["choices.temperature"] = FloatDistribution(float(low), float(high))
        if space.max_examples:
            least, most = space.max_examples
            dists["choices.max_examples"] = IntDistribution(int(least), int(most))
        if space.max_tokens:
            least, most = space.max_tokens
            dists["choices.max_tokens"] = IntDistribution(int(least), int(most))
        for skill in space.skills:
            dists[f"choices.skill.{skill}"] = CategoricalDistribution([True, False])
        for tool in space.tools:
            dists[f"choices.tool.{tool}"] = CategoricalDistribution([True, False])  # True: offered
        return dists

    async def propose(self, ctx: ProposalContext) -> Proposal | None:
        parent = ctx.parent.spec
        spec, changes = parent, []
        params = ctx.params

        model = params.get("choices.model", parent.model)
        if model != parent.model:
            spec = replace(spec, model=model)
            changes.append(f"model {parent.model} -> {model}")

        if "choices.temperature" in params:
            temperature = round(float(params["choices.temperature"]), TEMPERATURE_DIGITS)
            if temperature != parent.params.temperature:
                spec = replace(spec, params=replace(spec.params, temperature=temperature))
                changes.append(f"temperature {parent.params.temperature:g} -> {temperature:g}")

        if "choices.max_tokens" in params:
            tokens = int(params["choices.max_tokens"])
            if tokens != parent.params.max_tokens:
                spec = replace(spec, params=replace(spec.params, max_tokens=tokens))
                changes.append(f"max_tokens {parent.params.max_tokens} -> {tokens}")

        limit = params.get("choices.max_examples")
        if limit is not None and parent.loop.example_pick == "similar":
            shown = parent.loop.examples_shown
            if int(limit) != shown and parent.examples:  # the pool stays; fewer or more are shown
                spec = replace(spec, loop=replace(spec.loop, examples_shown=int(limit)))
                changes.append(f"examples shown {'all' if shown is None else shown} -> {int(limit)}")
        elif limit is not None and 0 <= int(limit) < len(parent.examples):
            spec = replace(spec, examples=parent.examples[: int(limit)])
            changes.append(f"examples {len(parent.examples)} -> {int(limit)}")

        skills, skill_changes = self._toggle_skills(ctx)
        if skill_changes:
            spec = replace(spec, skills=skills)
            changes += skill_changes

        tools, tool_changes = _toggle_tools(parent, params)
        if tool_changes:
            spec = replace(spec, tools=tools)
            changes += tool_changes

        if not changes:
            return None
        return Proposal(spec=spec, component="choices", note="; ".join(changes))

    def _toggle_skills(self, ctx: ProposalContext) -> tuple[tuple[Skill, ...], list[str]]:
        """The parent's skills with the sampled switches applied, and what changed."""
        skills = list(ctx.parent.spec.skills)
        changes = []
        pool = _skill_pool(ctx.parent.spec, self.skills, ctx.others)
        for name in ctx.parent.spec.optimize.search_space.skills:
            wanted = ctx.params.get(f"choices.skill.{name}")
            present = any(s.name == name for s in skills)
            if wanted is None or bool(wanted) == present:
                continue
            if not wanted:
                skills = [s for s in skills if s.name != name]
                changes.append(f"skill {name} off")
            elif name in pool:
                skills.append(pool[name])
                changes.append(f"skill {name} on")
        return tuple(skills), changes


def _toggle_tools(parent: AgentSpec, params: dict[str, Any]) -> tuple[tuple[ToolOverride, ...], list[str]]:
    """The parent's tool overrides with the sampled switches applied (a description is kept
    whether the tool is hidden or offered), and what changed."""
    tools = list(parent.tools)
    changes = []
    for name in parent.optimize.search_space.tools:
        offered = params.get(f"choices.tool.{name}")
        if offered is None or bool(offered) == (name not in parent.hidden_tools):
            continue
        at = next((i for i, t in enumerate(tools) if t.name == name), None)
        if at is None:
            tools.append(ToolOverride(name, None, hidden=not offered))
        else:
            tools[at] = replace(tools[at], hidden=not offered)
        changes.append(f"tool {name} {'offered' if offered else 'hidden'}")
    return tuple(t for t in tools if t.description is not None or t.hidden), changes


def _skill_pool(parent: AgentSpec, extra: tuple[Skill, ...], others: tuple[Candidate, ...]) -> dict[str, Skill]:
    pool: dict[str, Skill] = {}
    for skill in [*parent.skills, *extra, *(s for other in others for s in other.spec.skills)]:
        pool.setdefault(skill.name, skill)
    return pool
