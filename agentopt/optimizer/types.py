"""What flows through the optimizer: candidates, proposals, and what an operator may read."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from agentopt.episode_record import Episode
from agentopt.models.types import ChatModel
from agentopt.registry import missing_attributes
from agentopt.spec.agent import COMPONENTS, AgentSpec
from agentopt.spec.rubric import Rubric

# Component names: "system_prompt", "skill:NAME", "tool:NAME", "examples", "choices".
BASELINE = "baseline"


@dataclass(frozen=True)
class Candidate:
    id: str  # "c0" is the baseline
    spec: AgentSpec
    parent: str | None = None
    operator: str = BASELINE  # which operator proposed it
    component: str | None = None  # what it changed
    note: str = ""  # one line a person can read: what changed and why


@dataclass(frozen=True)
class Proposal:
    """An operator's answer: a new spec and what it changed."""

    spec: AgentSpec
    component: str
    note: str


@dataclass(frozen=True)
class ProposalContext:
    """Everything an operator may read to propose a child of `parent`."""

    parent: Candidate
    episodes: list[Episode]  # the parent's scored episodes on a train minibatch
    rubric: Rubric
    rng: random.Random
    params: dict[str, Any] = field(default_factory=dict)  # the operator's settings, chosen by Optuna
    train_episodes: list[Episode] = field(default_factory=list)  # the best scored episode per train task so far
    mutator: ChatModel | None = None  # the model client, for operators that ask an LLM
    mutator_model: str = "local"
    others: tuple[Candidate, ...] = ()  # other frontier candidates (for merge)
    train_inputs: tuple[str, ...] = ()  # every train task's input text (for copy detection)
    tools: tuple[tuple[str, str], ...] = ()  # (name, description the agent sees now) per env tool
    variables: tuple[str, ...] = ()  # prompt variables the environment provides (e.g. "policy")
    # async (spec, task_ids) -> episodes: plays a spec on train tasks, journaled and charged to the
    # rollout budget; it plays only as many as the budget spares for this child (for `sample`)
    play: Any = None

    def failures(self) -> list[Episode]:
        return [e for e in self.episodes if e.score.error is None and not e.score.passed]

    def successes(self, min_score: float = 1.0) -> list[Episode]:
        return [e for e in self.episodes if e.score.error is None and e.score.score >= min_score]


class Operator(Protocol):
    """A way to propose a child: the optimizer's extension point (registry: `OPERATORS` in
    optimizer/operators/, entry-point group `agentopt.operators`). The built-ins live in
    optimizer/operators/, one file each; docs/extending.md shows how to add one from a package,
    and `agentopt.testing.operators` is the conformance suite every registered one passes."""

    name: str  # what --operators, the journal and the reports call it
    # The spec component it changes (one of spec.agent.COMPONENTS): the operator is off unless the
    # spec's optimize.components allows it. None: it decides per proposal (or changes settings only).
    edits: str | None

    @property
    def first_params(self) -> Mapping[str, Any]:
        """The settings a new run tries it with first ({}: Optuna's choice). Read-only, so an
        operator may declare it as a plain dict class attribute."""
        ...

    needs_mutator: bool  # it asks the mutator model to write text: left out when the mutator is the embedded model
    # Optional: `train_tasks = N`, how many train tasks' episodes it reads (ctx.train_episodes);
    # the loop plays the parent on as many tasks no candidate has played yet, within the budget.

    def search_space(self, parent: Candidate) -> dict[str, Any]:
        """The operator's own settings as Optuna distributions ({} when it has none), named `NAME.setting`."""
        ...

    async def propose(self, ctx: ProposalContext) -> Proposal | None:
        """A child spec, or None when the operator has nothing to offer for this parent."""
        ...


def operator_problem(op: object) -> str | None:
    """Why `op` does not implement `Operator` (one phrase), or None when it does."""
    problem = missing_attributes(op, {"name": str, "edits": (str, type(None)), "first_params": Mapping, "needs_mutator": bool},
                                 ("search_space", "propose"))
    if problem is None and not op.name:  # type: ignore[attr-defined]
        return "its `name` is empty"
    edits = getattr(op, "edits", None)
    if problem is None and edits is not None and edits not in COMPONENTS:
        return f"`edits` is {edits!r}, not one of {', '.join(COMPONENTS)} or None"
    return problem
