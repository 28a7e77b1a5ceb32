"""Few-shot bootstrapping: successful train episodes become the agent's examples.

No LLM is involved: an episode that passed is a worked example of the task done right, so its
input (the first user message) and its answer (the ending tool call's arguments, or the final
text) are copied into `spec.examples`. Sources are the parent's minibatch episodes and the
best episode per train task of every candidate decided so far. A failed episode whose only
faults are fields the rubric states the right value of is corrected and used too, after the
corrected answer passes the rubric (see `optimizer/repair.py`); real successes come first.

Two ways to show them, chosen by Optuna (`fewshot.pick`):
- `first`: k fixed examples, picked round-robin over distinct outputs (e.g. one per category)
  so they do not all show the same answer;
- `similar`: every success joins a pool (kept from the parent, up to POOL_MAX) and each episode
  shows the k most like its task (`loop.example_pick: similar`). Small models copy the answer
  of the example they see first, which then is the nearest solved task.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from optuna.distributions import CategoricalDistribution, IntDistribution

from agentopt.episode_record import Episode
from agentopt.optimizer.demos import PICKS, POOL_MAX, Cleaning, k_bounds, to_example
from agentopt.optimizer.repair import corrected
from agentopt.optimizer.types import Candidate, Proposal, ProposalContext
from agentopt.spec.agent import Example

TRAIN_TASKS = 16  # train tasks it reads episodes of: the loop plays the parent on more than the minibatch (lazily, once)


class FewShotOperator:
    """Replace `spec.examples` with k examples bootstrapped from successful train episodes, or
    grow a pool of them from which each episode is shown the k most similar.

    `min_score`: an episode counts as a success when its score reaches it; None (the default)
    means "the episode passed the rubric". Higher-scoring episodes are preferred either way.
    """

    name = "fewshot"
    edits: str | None = "examples"  # the spec component it changes: off unless optimize.components allows it
    first_params: dict[str, Any] = {"fewshot.pick": "similar"}  # what a new run tries first (measured best for small models)
    needs_mutator: bool = False
    train_tasks: int = TRAIN_TASKS

    def __init__(self, min_score: float | None = None, correct: bool = True):
        self.min_score = min_score
        self.correct = correct

    def search_space(self, parent: Candidate) -> dict[str, Any]:
        low, high = k_bounds(parent)
        return {"fewshot.k": IntDistribution(low, high), "fewshot.pick": CategoricalDistribution(PICKS)}

    async def propose(self, ctx: ProposalContext) -> Proposal | None:
        k = int(ctx.params.get("fewshot.k", k_bounds(ctx.parent)[1]))
        found, fixed, cleaning = await self._candidates(ctx)
        if ctx.params.get("fewshot.pick", "first") == "similar":
            return self._pool(ctx, found, fixed, k, cleaning)
        picked = select(found, k)
        if not picked:
            return None
        examples = tuple(example for example, _ in picked)
        parent = ctx.parent.spec
        loop = replace(parent.loop, example_pick="first", examples_shown=None)
        if examples == parent.examples and loop == parent.loop:
            return None
        tasks = ", ".join(episode.trace.task_id for _, episode in picked)
        noun = "example" if len(examples) == 1 else "examples"
        note = f"{len(examples)} {noun} bootstrapped from successful train episodes {tasks}{_corrected(examples, fixed)}"
        note += cleaning.note(episode.trace.task_id for _, episode in picked)
        return Proposal(spec=replace(parent, examples=examples, loop=loop), component="examples", note=note)

    def _pool(self, ctx: ProposalContext, found: list[tuple[Example, Episode]], fixed: set[str], k: int, cleaning: Cleaning) -> Proposal | None:
        """The parent's pool (when it already picks similar examples) plus every new success."""
        parent = ctx.parent.spec
        kept = parent.examples if parent.loop.example_pick == "similar" else ()
        inputs = {example.input for example in kept}
        new_found = [(example, episode) for example, episode in found if example.input not in inputs]
        new = [example for example, _ in new_found]
        pool = (*kept, *new)[:POOL_MAX]
        loop = replace(parent.loop, example_pick="similar", examples_shown=k)
        if not pool or (pool == parent.examples and loop == parent.loop):
            return None
        added = pool[len(kept):]
        note = (f"a pool of {len(pool)} examples ({len(added)} new from successful train episodes"
                f"{_corrected(added, fixed)}); each episode shows the {k} most similar"
                f"{cleaning.note(episode.trace.task_id for _, episode in new_found[:len(added)])}")
        return Proposal(spec=replace(parent, examples=pool, loop=loop), component="examples", note=note)

    def _succeeded(self, episode: Episode) -> bool:
        if self.min_score is None:
            return episode.score.passed
        return episode.score.score >= self.min_score

    async def _candidates(self, ctx: ProposalContext) -> tuple[list[tuple[Example, Episode]], set[str], Cleaning]:
        """(example, episode) per usable success, one per distinct input: real successes by
        score, then corrected failures; the inputs whose answer was corrected; and what was left
        out of them where the rubric failed a criterion (`optimizer/demos.py`)."""
        episodes = [e for e in [*ctx.episodes, *ctx.train_episodes] if e.score.error is None and e.trace.error is None]
        ctx.rng.shuffle(episodes)  # ties in score are broken at random, the rest by score
        episodes.sort(key=lambda e: -e.score.score)
        usable = [e for e in episodes if self._succeeded(e)]
        attempts = [await corrected(e, ctx.rubric) for e in episodes if not self._succeeded(e)] if self.correct else []
        repaired = [e for e in attempts if e is not None]
        found: dict[str, tuple[Example, Episode]] = {}
        fixed: set[str] = set()
        cleaning = Cleaning()
        for episode, was_fixed in [*((e, False) for e in usable), *((e, True) for e in repaired)]:
            example = to_example(episode)
            if example is not None and example.input not in found:
                example = cleaning.clean(example, episode, ctx.rubric)
            if example is not None and example.input not in found:
                found[example.input] = (example, episode)
                if was_fixed:
                    fixed.add(example.input)
        return list(found.values()), fixed, cleaning


def _corrected(examples, fixed: set[str]) -> str:
    n = sum(example.input in fixed for example in examples)
    return f", {n} of them corrected to the rubric's expected values" if n else ""


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
