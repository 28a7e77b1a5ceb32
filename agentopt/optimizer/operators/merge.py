"""merge: combine the parent with another candidate that improved a different component. No LLM.

Both descend from the baseline. Start from the parent; for each component where the other
candidate differs from the parent, take the other's version only if the parent's version is
still the baseline's (the parent left it alone, the other changed it). When both changed the
same component, the parent's version stays. Components: the system prompt, each skill, each
tool description, the examples, the model, its params and the loop settings.

The baseline is the `baseline` spec given to the constructor, else the candidate with id
"c0" among the parent and `ctx.others`; without one there is nothing to merge against.
The other candidate is chosen with ctx.rng among those whose merge gives a spec different
from both parents; None when there is none.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agentopt.optimizer.types import Candidate, Proposal, ProposalContext
from agentopt.records import Component
from agentopt.spec.agent import AgentSpec, ToolOverride

BASELINE_ID = "c0"


class MergeOperator:
    name = "merge"
    edits: str | None = None
    first_params: dict[str, Any] = {}
    needs_mutator: bool = False

    def __init__(self, baseline: AgentSpec | None = None):
        self.baseline = baseline

    def search_space(self, parent: Candidate) -> dict[str, Any]:
        return {}

    async def propose(self, ctx: ProposalContext) -> Proposal | None:
        baseline = self.baseline or _find_baseline(ctx)
        if baseline is None:
            return None
        merges = []
        for other in ctx.others:
            if other.id == ctx.parent.id:
                continue
            merged = merge(ctx.parent.spec, other.spec, baseline)
            if merged is not None:
                merges.append((other, *merged))
        if not merges:
            return None
        other, child, taken = ctx.rng.choice(merges)
        note = f"merged {', '.join(taken)} from {other.id} into {ctx.parent.id}"
        return Proposal(child, "merge", note)


def _find_baseline(ctx: ProposalContext) -> AgentSpec | None:
    for candidate in (ctx.parent, *ctx.others):
        if candidate.id == BASELINE_ID:
            return candidate.spec
    return None


def merge(parent: AgentSpec, other: AgentSpec, baseline: AgentSpec) -> tuple[AgentSpec, list[str]] | None:
    """The parent with the other's changes where the parent kept the baseline, and which
    components were taken; None when the result would equal the parent or the other."""
    mine, theirs, base = components(parent), components(other), components(baseline)
    keys = list(dict.fromkeys([*mine, *theirs]))  # the parent's order, then the other's new ones
    taken = [k for k in keys if theirs.get(k) != mine.get(k) and mine.get(k) == base.get(k)]
    chosen = {**mine, **{k: theirs.get(k) for k in taken}}
    if not taken or _present(chosen) == _present(theirs):
        return None
    child = _assemble(parent, keys, chosen)
    if "system_prompt" in taken:
        child = replace(child, system_prompt_file=other.system_prompt_file)
    return child, taken


def components(spec: AgentSpec) -> dict[str, Any]:
    """Every part a merge may take, by component name; an absent skill or tool is missing."""
    parts: dict[str, Any] = {
        "system_prompt": spec.system_prompt,
        "examples": spec.examples,
        "model": spec.model,
        "params": spec.params,
        "loop": spec.loop,
    }
    parts.update({Component.skill(s.name): s for s in spec.skills})
    parts.update({Component.tool(t.name): t.description for t in spec.tools if t.description is not None})
    return parts


def _present(parts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in parts.items() if v is not None}


def _assemble(parent: AgentSpec, keys: list[str], chosen: dict[str, Any]) -> AgentSpec:
    named = [(k, Component(k)) for k in keys if ":" in k]  # skill:NAME and tool:NAME (the rest are whole parts)
    skills = tuple(chosen[k] for k, c in named if c.kind == "skill" and chosen.get(k) is not None)
    tools = tuple(ToolOverride(tool, chosen[k]) for k, c in named
                  if (tool := c.named("tool")) is not None and chosen.get(k) is not None)
    described = {t.name for t in tools}
    tools += tuple(t for t in parent.tools if t.hidden and t.name not in described)  # hidden stays hidden
    tools = tuple(replace(t, hidden=t.hidden or t.name in parent.hidden_tools) for t in tools)
    return replace(
        parent,
        system_prompt=chosen["system_prompt"],
        examples=chosen["examples"],
        model=chosen["model"],
        params=chosen["params"],
        loop=chosen["loop"],
        skills=skills,
        tools=tools,
    )
