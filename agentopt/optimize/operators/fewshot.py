"""Few-shot bootstrapping: the parent's own successful train episodes become its examples.

No LLM is involved: an episode that passed is a worked example of the task done right, so its
input (the first user message) and its answer (the ending tool call's arguments, or the final
text) are copied into `spec.examples`. Answers are picked round-robin over distinct outputs
(e.g. one per category) so the examples do not all show the same answer.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from optuna.distributions import IntDistribution

from agentopt.evaluate import Episode
from agentopt.optimize.types import Candidate, Proposal, ProposalContext
from agentopt.spec.agent import Example

DEFAULT_K = (1, 4)


class FewShotOperator:
    """Replace `spec.examples` with k examples bootstrapped from successful train episodes.

    `min_score`: an episode counts as a success when its score reaches it; None (the default)
    means "the episode passed the rubric". Higher-scoring episodes are preferred either way.
    """

    name = "fewshot"

    def __init__(self, min_score: float | None = None):
        self.min_score = min_score

    def search_space(self, parent: Candidate) -> dict[str, Any]:
        low, high = _k_bounds(parent)
        return {"fewshot.k": IntDistribution(low, high)}

    async def propose(self, ctx: ProposalContext) -> Proposal | None:
        k = int(ctx.params.get("fewshot.k", _k_bounds(ctx.parent)[1]))
        picked = select(self._candidates(ctx), k)
        if not picked:
            return None
        examples = tuple(example for example, _ in picked)
        parent = ctx.parent.spec
        if examples == parent.examples:
            return None
        tasks = ", ".join(episode.trace.task_id for _, episode in picked)
        noun = "example" if len(examples) == 1 else "examples"
        note = f"{len(examples)} {noun} bootstrapped from successful train episodes {tasks}"
        return Proposal(spec=replace(parent, examples=examples), component="examples", note=note)

    def _candidates(self, ctx: ProposalContext) -> list[tuple[Example, Episode]]:
        """(example, episode) per usable success, one per distinct input, best score first."""
        if self.min_score is None:
            episodes = [e for e in ctx.episodes if e.score.error is None and e.score.passed]
        else:
            episodes = ctx.successes(self.min_score)
        episodes = [e for e in episodes if e.trace.error is None]
        ctx.rng.shuffle(episodes)  # ties in score are broken at random, the rest by score
        episodes.sort(key=lambda e: -e.score.score)
        found: dict[str, tuple[Example, Episode]] = {}
        for episode in episodes:
            example = to_example(episode)
            if example is not None and example.input not in found:
                found[example.input] = (example, episode)
        return list(found.values())


def to_example(episode: Episode) -> Example | None:
    """The episode as an Example, or None when it has no task input or no answer."""
    trace = episode.trace
    task_input = next((m.get("content") for m in trace.messages if m.get("role") == "user"), None)
    if not isinstance(task_input, str) or not task_input.strip() or trace.final_answer is None:
        return None
    answer = trace.answer_json()
    return Example(input=task_input, output=answer if isinstance(answer, dict) else trace.final_answer)


def select(candidates: list[tuple[Example, Episode]], k: int) -> list[tuple[Example, Episode]]:
    """Up to k candidates, round-robin over groups of equal output (groups by their best score).

    `candidates` are already in preference order, so each group's head is its best episode and
    groups appear in the order of their best episode.
    """
    groups: dict[str, list[tuple[Example, Episode]]] = {}
    for candidate in candidates:
        groups.setdefault(_output_key(candidate[0].output), []).append(candidate)
    picked: list[tuple[Example, Episode]] = []
    queues = list(groups.values())
    while queues and len(picked) < k:
        for queue in queues:
            if len(picked) < k:
                picked.append(queue.pop(0))
        queues = [q for q in queues if q]
    return picked


def _output_key(output: Any) -> str:
    return json.dumps(output, sort_keys=True, default=str)


def _k_bounds(parent: Candidate) -> tuple[int, int]:
    low, high = parent.spec.optimize.search_space.max_examples or DEFAULT_K
    low = max(1, int(low))
    return low, max(low, int(high))
