"""skill: an LLM writes one new skill, or revises one, from passed and failed episodes.

A skill is a named markdown procedure (name, one-line description, body with steps). The
mutator answers `{"name", "description", "body"}`; a name the agent already has revises that
skill (its file path is kept), a new name adds `skills/<name>.md`. Only offered when
`spec.optimize.components` includes "skills". Rejected (None, the reason logged) on the same
guards as reflect: empty or unchanged, too long, or copying a train input.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

from agentopt.optimizer.guards import check_text
from agentopt.optimizer.prompts import answer_tokens, ask_json, failing_criteria, minibatch, reflective_dataset, render
from agentopt.optimizer.types import Candidate, Proposal, ProposalContext
from agentopt.records import Component
from agentopt.spec.agent import AgentSpec, Skill

log = logging.getLogger(__name__)

NAME_PATTERN = r"^[a-z0-9_-]+$"
MAX_NAME_CHARS = 48
SKILL_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN, "maxLength": MAX_NAME_CHARS},
        "description": {"type": "string"},
        "body": {"type": "string"},
    },
    "required": ["name", "description", "body"],
    "additionalProperties": False,
}


class SkillOperator:
    name = "skill"
    needs_mutator: bool = True  # left out by default when the mutator is the embedded model
    edits: str | None = None
    first_params: dict[str, Any] = {}

    def __init__(self, max_failures: int = 3, max_passes: int = 2, templates_dir: str | None = None):
        self.max_failures = max_failures
        self.max_passes = max_passes
        self.templates_dir = templates_dir

    def search_space(self, parent: Candidate) -> dict[str, Any]:
        return {}

    async def propose(self, ctx: ProposalContext) -> Proposal | None:
        spec = ctx.parent.spec
        if "skills" not in spec.optimize.components or not ctx.failures():
            return None
        records = reflective_dataset(minibatch(ctx, self.max_failures, self.max_passes))
        max_tokens = spec.optimize.max_component_tokens
        prompt = render(
            "skill.j2",
            templates_dir=self.templates_dir,
            skills=spec.skills,
            records=records,
            criteria=ctx.rubric.criteria,
            tools=ctx.tools,
            max_tokens=max_tokens,
        )
        answer = await ask_json(ctx, prompt, SKILL_SCHEMA, answer_tokens(max_tokens))
        skill = parse_skill(answer, spec) if answer else None
        if skill is None:
            _log_rejected("the mutator gave no valid skill")
            return None
        old = next((s for s in spec.skills if s.name == skill.name), None)
        current = f"{old.description}\n\n{old.body}" if old else ""
        if problem := check_text(f"{skill.description}\n\n{skill.body}", current, ctx, max_tokens):
            _log_rejected(f"skill {skill.name!r}: {problem}")
            return None
        failed = ", ".join(failing_criteria(records, ctx.rubric)) or "none"
        verb = "revised" if old else "added"
        return Proposal(with_skill(spec, skill), Component.skill(skill.name), f"skill {verb} {skill.name!r} after failures on: {failed}")


def parse_skill(answer: dict[str, Any], spec: AgentSpec) -> Skill | None:
    """The answer as a Skill, or None when a field is missing or empty or the name is invalid."""
    name, description, body = (answer.get(k) for k in ("name", "description", "body"))
    if not (isinstance(name, str) and isinstance(description, str) and isinstance(body, str)):
        return None
    name = name.strip()
    if len(name) > MAX_NAME_CHARS or not re.match(NAME_PATTERN, name):
        return None
    description = " ".join(description.split())  # one line
    if not description or not body.strip():
        return None
    old = next((s for s in spec.skills if s.name == name), None)
    path = old.path if old else f"skills/{name}.md"
    return Skill(name=name, description=description, body=body.strip(), path=path)


def with_skill(spec: AgentSpec, skill: Skill) -> AgentSpec:
    """`spec` with `skill` replacing the same-named one, or appended."""
    if any(s.name == skill.name for s in spec.skills):
        return replace(spec, skills=tuple(skill if s.name == skill.name else s for s in spec.skills))
    return replace(spec, skills=(*spec.skills, skill))


def _log_rejected(reason: str) -> None:
    log.info("skill: rejected: %s", reason)
