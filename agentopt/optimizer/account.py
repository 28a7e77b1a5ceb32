"""An honest account when nothing can be learned: stop early, say why and what would help.

Every operator learns from something that scored: few-shot from successes, corrected and
sampled demonstrations from answers that pass, rules and rewrites from a child that then has to
score better. When no episode of the run has scored above 0 (baseline, children, sampled
attempts) and every operator has had its turn, more iterations would only spend the budget and
ship the baseline as a "winner". The run stops with one line instead (`NOTHING` starts it), and
the report puts that line at its top.
"""

from __future__ import annotations

from typing import Any

from agentopt.records import Status
from agentopt.spec.agent import LOCAL_MODEL, AgentSpec

NOTHING = "nothing to learn from"
# The decisions in which an operator proposed no child (a duplicate is a child: the same spec as an earlier one).
NO_CHILD = frozenset({Status.BASELINE, Status.INVALID, Status.ERROR, Status.SKIPPED})


def nothing_to_learn(journal: Any, operators: dict[str, Any], spec: AgentSpec, mutator_model: str) -> str | None:
    """The one-line account, or None while something scored above 0 or an operator is untried."""
    scored = [e for e in journal.episodes.values() if e.score.error is None]
    if not scored or any(e.score.score > 0 for e in scored):
        return None
    tried = {d.operator for d in journal.decisions if d.status is not Status.BASELINE}
    if not set(operators) <= tried:
        return None
    proposed = [name for name in operators if any(d.operator == name and d.status not in NO_CHILD for d in journal.decisions)]
    idle = [name for name in operators if name not in proposed]
    which = [f"{', '.join(idle)} had nothing to propose"] if idle else []
    which += [f"{', '.join(proposed)} proposed only children that scored 0 too"] if proposed else []
    return f"{NOTHING}: no episode scored above 0; {'; '.join(which)}; what would help: {'; '.join(helps(operators, spec, mutator_model))}"


def helps(operators: dict[str, Any], spec: AgentSpec, mutator_model: str) -> list[str]:
    out = []
    if mutator_model == LOCAL_MODEL:
        out.append("a capable --mutator (e.g. openai/gpt-4o-mini) so reflect and skill can rewrite the instructions")
    if not spec.examples:
        out.append("worked examples in the spec (examples: input and answer) for the agent to follow")
    if "sample" in operators:
        out.append("a larger --max-rollouts so sample can try more attempts per task at higher temperatures")
    else:
        out.append("the sample operator (--operators sample; it needs examples in optimize.components) with a larger --max-rollouts")
    return out


def is_account(stopped: str | None) -> bool:
    return stopped is not None and stopped.startswith(NOTHING)
