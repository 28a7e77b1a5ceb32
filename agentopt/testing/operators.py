"""The conformance suite every operator passes (the `agentopt.operators` extension point).

Subclass `OperatorConformance` in a test module and give it the operator as a fixture; pytest
then runs every `test_*` method below on it (Optuna's `testing/` pattern):

    from agentopt.testing.operators import OperatorConformance

    class TestShout(OperatorConformance):
        @pytest.fixture
        def operator(self):
            return Shout()

agentopt's own suite runs it over every registered operator (tests/optimize/test_operator_conformance.py).
The context an operator proposes from (`parent`, `context`) is realistic and offline: a spec
loaded from a file with two skills, scored train episodes that fail and pass, other frontier
candidates, a mutator (`ScriptedModel`) that answers any JSON Schema with valid text, and a
`play` that returns passing episodes. Override a fixture when an operator needs something else.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import BaseDistribution

from agentopt.episode_record import Episode
from agentopt.models.types import ChatRequest
from agentopt.optimizer.artifacts import load_candidate_spec, portable, save_spec
from agentopt.optimizer.types import Candidate, Operator, Proposal, ProposalContext, operator_problem
from agentopt.records import Component
from agentopt.scoring.result import CriterionScore, EpisodeScore
from agentopt.spec.agent import AgentSpec, Example
from agentopt.spec.load import load_agent
from agentopt.spec.rubric import Criterion, Rubric
from agentopt.testing.model import ScriptedModel
from agentopt.trace import ToolCall, Trace

TRIALS = 10  # proposals asked per conformance test (random settings, two parents)

AGENT_YAML = """\
name: support
system_prompt: |
  You help customers of {{ company }}.
skills: [skills/refunds.md, skills/tone.md]
examples:
  - {input: "Where is my parcel?", output: {category: shipping, reply: "Thanks! It ships today."}}
optimize:
  search_space:
    models: [local, openai/gpt-4o-mini]
    temperature: {low: 0, high: 1}
    max_examples: {low: 0, high: 3}
    skills: [refunds, tone]
"""

RUBRIC = Rubric(
    name="support",
    criteria=(
        Criterion("category", "The category matches the ticket.", 3, "equals", {"value": "{{ expected.category }}"}),
        Criterion("polite", "The reply thanks the customer.", 1, "contains", {"value": "thank"}),
        Criterion("refund_rule", "Refunds are only offered within 30 days of delivery.", 2, "llm_judge", {"prompt": "Refunds within 30 days?"}),
        Criterion("format", "The answer is valid JSON.", 1, "json_schema", {"schema": {"type": "object"}}, gate=True),
    ),
)
TOOLS = (("lookup_order", "Look up an order by id."), ("reply_to_customer", "Send the final reply."))
TASKS = {
    "t1": "Hello, my blender order 4471 arrived broken on March 3rd and I want my money back please.",
    "t2": "I was charged twice for order 9120 and nobody answers my emails about it.",
    "t3": "My parcel 5531 has not moved for a week, where is it?",
    "t4": "Can I change the delivery address of order 7310?",
    "t5": "Thanks, the replacement kettle arrived and works.",
}


def scored_episode(task: str, answer: str, failed: dict[str, str] | None = None, split: str = "train") -> Episode:
    """A scored episode of `task`; `failed` maps the criteria it failed to their feedback sentence."""
    failed = failed or {}
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": TASKS.get(task, task)},
                {"role": "assistant", "content": answer}]
    calls = [ToolCall("lookup_order", {"order_id": task}, result="delivered 40 days ago")]
    trace = Trace(episode_id=f"e-{task}", task_id=task, split=split, task={"input": TASKS.get(task, task)}, messages=messages,
                  tool_calls=calls, final_answer=answer)
    criteria = tuple(CriterionScore(c.id, 0.0 if c.id in failed else 1.0, c.id not in failed, failed.get(c.id, "ok"))
                     for c in RUBRIC.criteria)
    score = 1.0 if not failed else round(1.0 - len(failed) / len(RUBRIC.criteria), 3)
    return Episode(trace, EpisodeScore(f"e-{task}", task, score, not failed, criteria=criteria))


def answer_json(category: str, reply: str) -> str:
    return json.dumps({"category": category, "reply": reply})


EPISODES = (
    ("t1", answer_json("refund", "Sure, refund issued!"), {"refund_rule": "It refunded an order delivered 40 days ago.", "polite": "No thanks."}),
    ("t2", "ok", {"format": "The answer is not JSON.", "category": "expected 'billing'"}),
    ("t3", answer_json("shipping", "Thanks! It ships today."), None),
    ("t4", answer_json("general", "Done."), {"polite": "The reply does not thank the customer."}),
    ("t5", answer_json("general", "Thanks for letting us know!"), None),
)


def any_json_answer(request: ChatRequest) -> str:
    """A valid answer to any request a mutator gets: an object filling the schema's required
    fields (a skill's name, a text keeping the prompt's `{{ company }}` variable), else text."""
    schema = request.json_schema or {}
    n = len(request.messages) + sum(len(str(m.get("content") or "")) for m in request.messages) % 97
    fields: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type")
        if name == "name":
            fields[name] = f"scripted-{n}"
        elif kind == "string":
            fields[name] = f"Help customers of {{{{ company }}}}: check the order with lookup_order first (rule {n})."
        elif kind == "integer":
            fields[name] = 1
        elif kind == "number":
            fields[name] = 0.5
        elif kind == "boolean":
            fields[name] = True
        elif kind == "array":
            fields[name] = []
    return json.dumps(fields) if schema else f"Help customers of {{{{ company }}}} (rule {n})."


class OperatorConformance:
    """Properties every operator has. Give the `operator` fixture; override the others if needed."""

    @pytest.fixture
    def operator(self) -> Operator:
        raise NotImplementedError("give the operator under test as the `operator` fixture")

    @pytest.fixture
    def parent(self, tmp_path: Path) -> AgentSpec:
        """The parent spec, loaded from tmp_path/agents/parent.yaml (two skills on disk)."""
        agents = tmp_path / "agents"
        (agents / "skills").mkdir(parents=True)
        for name in ("refunds", "tone"):
            (agents / "skills" / f"{name}.md").write_text(f"---\nname: {name}\ndescription: About {name}.\n---\n\nDo {name} well.\n")
        (agents / "parent.yaml").write_text(AGENT_YAML)
        return load_agent(str(agents / "parent.yaml"))

    @pytest.fixture
    def parents(self, parent: AgentSpec) -> list[AgentSpec]:
        """Two parents proposals alternate between: the loaded one, and one with another model,
        no examples and another prompt."""
        return [parent, replace(parent, model="openai/gpt-4o-mini", examples=(), system_prompt="Be brief with {{ company }}.\n",
                                system_prompt_file=None)]

    @pytest.fixture
    def mutator(self) -> ScriptedModel:
        return ScriptedModel(any_json_answer)

    @pytest.fixture
    def context(self, parent: AgentSpec, mutator: ScriptedModel) -> Any:
        """`context(parent_spec, params, seed)` -> the ProposalContext an operator proposes from."""
        episodes = [scored_episode(t, a, f) for t, a, f in EPISODES]
        # Another accepted candidate: a new example and a revised skill, the rest as the baseline (for merge).
        tone = replace(parent.skills[1], body="Thank the customer first, then answer in two sentences.")
        sibling = replace(parent, examples=(*parent.examples, Example("Can I pay by invoice?", "Yes, for business accounts.")),
                          skills=(parent.skills[0], tone))

        async def play(spec: AgentSpec, task_ids: list[str]) -> list[Episode]:
            return [scored_episode(t, answer_json("general", "Thanks, done."), None) for t in task_ids]

        def make(spec: AgentSpec, params: dict[str, Any], seed: int, cid: str = "c3") -> ProposalContext:
            others = (Candidate("c0", parent), Candidate("c2", sibling))  # the baseline and the pool (the loop adds c0 too)
            return ProposalContext(
                parent=Candidate(cid, spec), episodes=episodes[:4], rubric=RUBRIC, rng=random.Random(seed), params=params,
                train_episodes=episodes, mutator=mutator, mutator_model="openai/mutator", others=others,
                train_inputs=tuple(TASKS.values()), tools=TOOLS, variables=("company",), play=play,
            )

        return make

    # --- what it declares ---
    def test_declares_the_operator_protocol(self, operator: Operator) -> None:
        assert operator_problem(operator) is None, operator_problem(operator)

    def test_search_space_is_named_after_the_operator_and_the_same_for_every_parent(self, operator: Operator, parents: list[AgentSpec]) -> None:
        space = operator.search_space(Candidate("c0", parents[0]))
        assert isinstance(space, dict) and all(isinstance(d, BaseDistribution) for d in space.values())
        assert all(name.startswith(operator.name + ".") for name in space), sorted(space)
        assert operator.search_space(Candidate("c1", parents[1])) == space  # a run's space is fixed: Optuna's trials stay comparable

    def test_first_params_are_settings_of_its_search_space(self, operator: Operator, parents: list[AgentSpec]) -> None:
        space = operator.search_space(Candidate("c0", parents[0]))
        for name, value in operator.first_params.items():
            assert name in space, f"first_params names {name!r}, not in the search space {sorted(space)}"
            assert space[name]._contains(space[name].to_internal_repr(value)), f"{name}={value!r} is outside {space[name]}"

    # --- what it proposes ---
    async def test_proposals_are_loadable_children_that_name_what_they_changed(self, operator: Operator, parents: list[AgentSpec], context: Any,
                                                                               tmp_path: Path) -> None:
        proposals = await self._propose(operator, parents, context)
        assert proposals, f"{operator.name} proposed nothing in {TRIALS} tries on the conformance context"
        for i, (parent, proposal) in enumerate(proposals):
            assert isinstance(proposal, Proposal)
            assert proposal.spec != parent, "a proposal must change the spec"
            assert proposal.note.strip(), "a proposal says in one line what changed and why"
            component = Component.parse(proposal.component)  # raises on a name the run cannot journal
            if operator.edits is not None:
                assert component.edits == operator.edits, f"{operator.name} edits {operator.edits!r} but changed {proposal.component!r}"
            # The run saves every child and a resumed run loads it back: it must come back the same.
            saved = save_spec(proposal.spec, tmp_path / "children" / f"c{i}")
            assert load_candidate_spec(saved.parent) == replace(portable(proposal.spec), source=str(saved))

    async def test_the_same_settings_and_seed_propose_the_same_child(self, operator: Operator, parents: list[AgentSpec], context: Any) -> None:
        # A resumed run replays iteration i with the same rng and settings: it must get the same child.
        first = await self._propose(operator, parents, context)
        again = await self._propose(operator, parents, context)
        assert [(p.spec, p.component, p.note) for _, p in first] == [(p.spec, p.component, p.note) for _, p in again]

    async def _propose(self, operator: Operator, parents: list[AgentSpec], context: Any) -> list[tuple[AgentSpec, Proposal]]:
        space = operator.search_space(Candidate("c0", parents[0]))
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        out = []
        for i in range(TRIALS):
            trial = study.ask(space)
            params = {**trial.params, **(operator.first_params if i == 0 else {})}
            parent = parents[i % 2]
            proposal = await operator.propose(context(parent, params, seed=i))
            study.tell(trial, 0.0)
            if proposal is not None:
                out.append((parent, proposal))
        return out
