"""The `lowercase` operator: asks the agent, in its system prompt, to answer in lower case."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agentopt.optimizer.types import Candidate, Proposal, ProposalContext

RULE = "Write the answer in lowercase."


class Lowercase:
    name = "lowercase"
    edits: str | None = "system_prompt"  # off when the spec's optimize.components keeps the prompt fixed
    first_params: dict[str, Any] = {}
    needs_mutator = False

    def search_space(self, parent: Candidate) -> dict[str, Any]:
        return {}

    async def propose(self, ctx: ProposalContext) -> Proposal | None:
        spec = ctx.parent.spec
        if RULE in spec.system_prompt:
            return None  # already asked: nothing to offer
        prompt = f"{spec.system_prompt.rstrip()}\n{RULE}\n"
        return Proposal(replace(spec, system_prompt=prompt, system_prompt_file=None), "system_prompt", "asks for a lowercase answer")
