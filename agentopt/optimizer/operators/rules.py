"""Rules from the rubric itself: the criteria the parent fails most become prompt rules.

No LLM is involved. Each criterion is ranked by weight x failure rate over the parent's scored
train episodes (a gate counts with the rubric's whole weight, since failing it zeroes the
episode). The top `rules.count` criteria not already stated in the prompt are added as rule
lines under a "## Rules" section at the end of the system prompt.

Only the rubric's descriptions are used, never the checks' feedback: feedback quotes per-task
expected values ("expected 'medium'"), and copying those into the prompt would leak answers.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from optuna.distributions import IntDistribution

from agentopt.optimizer.types import Candidate, Proposal, ProposalContext
from agentopt.spec.rubric import Criterion, Rubric

HEADING = "## Rules"
COUNT = (1, 3)
# Descriptions that open with one of these state a property ("The answer is short."); the
# rule turns them into an instruction ("Ensure the answer is short.").
_STATEMENT_OPENERS = {"the", "a", "an", "each", "every", "all", "any", "no", "its", "this", "these", "it"}
_JINJA_OPENER = re.compile(r"\{(?=[{%#])")
_SECTION = re.compile(r"#{1,2} ")  # a heading that ends the Rules section


class RulesOperator:
    name = "rules"
    edits: str | None = "system_prompt"  # the spec component it changes: off unless optimize.components allows it
    first_params: dict[str, Any] = {}
    needs_mutator: bool = False

    def search_space(self, parent: Candidate) -> dict[str, Any]:
        return {"rules.count": IntDistribution(*COUNT)}

    async def propose(self, ctx: ProposalContext) -> Proposal | None:
        count = int(ctx.params.get("rules.count", COUNT[0]))
        parent = ctx.parent.spec
        new = [c for c in ranked_failures(ctx) if not _stated(parent.system_prompt, c)][:count]
        if not new:
            return None
        prompt = add_rules(parent.system_prompt, [rule_line(c.description) for c in new])
        # The prompt no longer matches its file, so the child carries it inline.
        spec = replace(parent, system_prompt=prompt, system_prompt_file=None)
        note = f"rules from the most failed criteria: {', '.join(c.id for c in new)}"
        return Proposal(spec=spec, component="system_prompt", note=note)


def ranked_failures(ctx: ProposalContext) -> list[Criterion]:
    """Criteria that failed at least once, most costly first (weight x failure rate)."""
    scored = [e.score for e in ctx.episodes if e.score.error is None]
    if not scored:
        return []
    failed: dict[str, int] = {}
    for score in scored:
        for criterion in score.criteria:
            if not criterion.passed:
                failed[criterion.id] = failed.get(criterion.id, 0) + 1
    costs = {c.id: _weight(c, ctx.rubric) * failed[c.id] / len(scored) for c in ctx.rubric.criteria if c.id in failed}
    order = {c.id: i for i, c in enumerate(ctx.rubric.criteria)}
    return sorted((c for c in ctx.rubric.criteria if c.id in costs), key=lambda c: (-costs[c.id], order[c.id]))


def rule_line(description: str) -> str:
    """One imperative markdown bullet, safe to put in a Jinja2 template."""
    text = " ".join(description.split())
    first = text.split(" ", 1)[0]
    if first.lower() in _STATEMENT_OPENERS:
        text = "Ensure " + text[0].lower() + text[1:]
    if text and text[-1] not in ".!?":
        text += "."
    return "- " + jinja_literal(text)


def jinja_literal(text: str) -> str:
    """`text` as template source that renders back to itself."""
    if not _JINJA_OPENER.search(text):
        return text
    if "endraw" not in text:
        return "{% raw %}" + text + "{% endraw %}"
    return _JINJA_OPENER.sub("{ ", text)  # cannot be wrapped in raw: break the openers apart


def add_rules(prompt: str, lines: list[str]) -> str:
    """`prompt` with `lines` appended to its "## Rules" section (created at the end if absent)."""
    body = prompt.rstrip("\n").split("\n") if prompt.strip() else []
    try:
        start = next(i for i, line in enumerate(body) if line.strip().lower() == HEADING.lower())
    except StopIteration:
        return "\n".join([*body, *([""] if body else []), HEADING, *lines]) + "\n"
    end = next((i for i in range(start + 1, len(body)) if _SECTION.match(body[i])), len(body))
    while end > start + 1 and not body[end - 1].strip():  # keep the blank line before a next section
        end -= 1
    return "\n".join([*body[:end], *lines, *body[end:]]) + "\n"


def _stated(prompt: str, criterion: Criterion) -> bool:
    """Whether the prompt already says what the rule would (its rule line or the description)."""
    text = _normal(prompt)
    rule = rule_line(criterion.description)[2:]
    return _normal(rule) in text or _normal(criterion.description).rstrip(".") in text


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _weight(criterion: Criterion, rubric: Rubric) -> float:
    return rubric.total_weight if criterion.gate else criterion.weight
