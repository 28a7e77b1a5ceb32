"""Rejection-sampled demonstrations (DSPy's bootstrapping, STaR/ReST): try again, keep what passes.

For train tasks the parent fails, the parent itself plays each task again at a higher
temperature with distinct model seeds, up to `sample.n` attempts per task; the first attempt
that passes every criterion of the rubric is kept as a worked example (a multi-turn success is
compacted: its tool calls, then its answer). The child is the parent plus those examples, shown
first or, with `sample.pick: similar`, the k most like each task. Only the environment's reward
and the rubric decide, so it works where no successful episode exists yet and no rubric check
spells the answer out.

Its episodes are journaled under `<child id>~sample` and count against `--max-rollouts` like any
episode; it plays only what the budget spares beside the child's screen, its val run and the
final test runs (`player`). Optuna chooses the attempts per task and the temperature: the
spec's `optimize.search_space.temperature` range, or DEFAULT_TEMPERATURE.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from agentopt.episode_record import Episode
from agentopt.optimizer.demos import PICKS, POOL_MAX, failed_criteria, k_bounds, to_example
from agentopt.optimizer.types import Candidate, Proposal, ProposalContext
from agentopt.spec.agent import Example

DEFAULT_TEMPERATURE = (0.7, 1.2)
ATTEMPTS = (1, 4)  # attempts per failed task
MAX_TASKS = 8  # failed train tasks sampled per proposal
STEP_CHARS = 200  # a compacted step's result is cut here


class SampleOperator:
    name = "sample"
    edits: str | None = "examples"
    first_params: dict[str, Any] = {"sample.n": ATTEMPTS[1], "sample.pick": "similar"}
    needs_mutator: bool = False

    def search_space(self, parent: Candidate) -> dict[str, Any]:
        low, high = parent.spec.optimize.search_space.temperature or DEFAULT_TEMPERATURE
        return {"sample.n": IntDistribution(*ATTEMPTS), "sample.temperature": FloatDistribution(float(low), float(max(low, high))),
                "sample.pick": CategoricalDistribution(PICKS)}

    async def propose(self, ctx: ProposalContext) -> Proposal | None:
        if ctx.play is None:
            return None
        parent = ctx.parent.spec
        attempts = int(ctx.params.get("sample.n", ATTEMPTS[1]))
        temperature = round(float(ctx.params.get("sample.temperature", DEFAULT_TEMPERATURE[1])), 2)
        todo = _failed_tasks(ctx)
        seeds = [s for s in ctx.rng.sample(range(1, 1_000_000), attempts + 1) if s != parent.params.seed][:attempts]
        found: dict[str, Example] = {}
        played = 0
        for seed in seeds:
            todo = [t for t in todo if t not in found]
            if not todo:
                break
            spec = replace(parent, params=replace(parent.params, temperature=temperature, seed=seed))
            episodes = await ctx.play(spec, todo)
            played += len(episodes)
            for episode in episodes:
                example = demonstration(episode) if passes_all(episode) else None
                if example is not None:
                    found[episode.trace.task_id] = example
            if len(episodes) < len(todo):
                break  # the budget spares no more
        kept = parent.examples
        inputs = {e.input for e in kept}
        new = tuple(e for e in found.values() if e.input not in inputs)
        if not new:
            return None
        k = k_bounds(ctx.parent)[1]
        if ctx.params.get("sample.pick", "similar") == "similar":
            examples, loop = (*kept, *new)[:POOL_MAX], replace(parent.loop, example_pick="similar", examples_shown=parent.loop.examples_shown or k)
        else:
            examples, loop = (*new, *kept)[:max(k, len(new))], parent.loop
        noun = "example" if len(new) == 1 else "examples"
        note = (f"{len(new)} {noun} sampled for failed train tasks {', '.join(sorted(found))} "
                f"({played} attempts, temperature {temperature:g}, up to {attempts} each; kept those passing every criterion)")
        return Proposal(spec=replace(parent, examples=examples, loop=loop), component="examples", note=note)


def passes_all(episode: Episode) -> bool:
    score = episode.score
    return score.error is None and episode.trace.error is None and score.passed and not failed_criteria(episode)


def _failed_tasks(ctx: ProposalContext) -> list[str]:
    """The parent's failed minibatch tasks, then other train tasks no candidate has passed yet."""
    failed = [e.trace.task_id for e in ctx.failures()]
    passed = {e.trace.task_id for e in ctx.train_episodes if e.score.error is None and e.score.passed}
    more = [e.trace.task_id for e in ctx.train_episodes if e.trace.task_id not in passed and e.score.error is None]
    return list(dict.fromkeys([*failed, *more]))[:MAX_TASKS]


def demonstration(episode: Episode) -> Example | None:
    """The episode as an example; a multi-turn one compacted into its steps and its answer."""
    example = to_example(episode)
    if example is None:
        return None
    steps = [c for c in episode.trace.tool_calls if not c.done and c.error is None]  # the ending call is the answer
    if not steps:
        return example
    lines = [f"{i}. call {c.name} {json.dumps(c.arguments, ensure_ascii=False)} -> {(c.result or '')[:STEP_CHARS]}"
             for i, c in enumerate(steps, 1)]
    answer = example.output if isinstance(example.output, str) else json.dumps(example.output, ensure_ascii=False)
    return Example(input=example.input, output="\n".join([*lines, f"then answer: {answer}"]))


def player(optimizer: Any, cid: str, train: list[Any], reserve: int, cap: int | None = None) -> Any:
    """`ProposalContext.play` for iteration `cid`: plays a spec on named train tasks through the
    optimizer's journal (so the budget pays, and --resume replays nothing), leaving `reserve`
    rollouts for the child's screen, its val run and the final test runs, and asking for at most
    `cap` attempts in all for this proposal (what one screen costs: sampling that finds nothing
    used to take a fifth of a 200-rollout budget in one go). The cap counts attempts asked for,
    not played, so a resumed iteration stops where an unbroken one did."""
    by_id = {t.task_id: t for t in train}
    asked = 0

    async def play(spec: Any, task_ids: list[str]) -> list[Episode]:
        nonlocal asked
        room = optimizer.sample_room(len(task_ids), reserve)
        if cap is not None:
            room = min(room, max(0, cap - asked))
        tasks = [by_id[t] for t in task_ids if t in by_id][:room]
        asked += len(tasks)
        return await optimizer.evaluate(Candidate(f"{cid}~sample", spec), tasks, "train") if tasks else []

    return play
