"""Which operators a run uses, and the order a new study tries them in."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agentopt.envs.session import parse_env
from agentopt.errors import UsageError
from agentopt.optimizer.loop import Optimizer, RunConfig
from agentopt.optimizer.operators import all_operators
from agentopt.optimizer.study import OperatorStudy
from agentopt.optimizer.types import Candidate
from agentopt.spec.agent import AgentSpec, OptimizeSpec
from agentopt.spec.rubric import Criterion, Rubric
from agentopt.store.run import RunFolder

RUBRIC = Rubric("r", (Criterion("c", "d", 1, "contains", {"value": "x"}),))


def optimizer(tmp_path, spec: AgentSpec = AgentSpec(name="a"), **config) -> Optimizer:  # noqa: B008 (frozen)
    run = RunFolder.create(tmp_path / "runs", "run", "a")
    return Optimizer(spec, RUBRIC, parse_env("support"), run, replace(RunConfig(), **config))


def operators_for(tmp_path, **config) -> list[str]:
    return list(optimizer(tmp_path, **config).operators)


def test_only_reflect_and_skill_need_a_mutator_and_offline_ones_come_first():
    names = list(all_operators())
    assert names == ["fewshot", "rules", "choices", "merge", "sample", "reflect", "skill"]
    assert [n for n, op in all_operators().items() if op.needs_mutator] == ["reflect", "skill"]


def test_the_embedded_mutator_leaves_out_the_operators_that_need_a_capable_one(tmp_path):
    assert operators_for(tmp_path) == ["fewshot", "rules", "choices", "merge", "sample"]
    assert operators_for(tmp_path, mutator_model="openai/gpt-4o-mini") == list(all_operators())
    assert operators_for(tmp_path, operators=("skill", "fewshot")) == ["fewshot", "skill"]  # asked for: kept


def test_operators_that_edit_a_component_the_spec_keeps_fixed_are_off(tmp_path):
    no_examples = AgentSpec(name="a", optimize=OptimizeSpec(components=("system_prompt", "skills", "tools")))
    assert list(optimizer(tmp_path, no_examples).operators) == ["rules", "choices", "merge"]
    prompt_fixed = AgentSpec(name="a", optimize=OptimizeSpec(components=("examples",)))
    assert list(optimizer(tmp_path, prompt_fixed, operators=("rules", "fewshot")).operators) == ["fewshot"]
    with pytest.raises(UsageError, match=r"none of them may change this spec \(optimize.components: examples\)"):
        optimizer(tmp_path, prompt_fixed, operators=("rules",))


def test_a_run_starts_with_each_operator_once_and_few_shot_from_similar_examples(tmp_path):
    assert optimizer(tmp_path)._first_trials() == [
        {"operator": "fewshot", "fewshot.pick": "similar"}, {"operator": "rules"}, {"operator": "choices"},
        {"operator": "merge"}, {"operator": "sample", "sample.n": 4, "sample.pick": "similar"},
    ]


def test_a_new_study_tries_each_operator_once_in_order_then_samples(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    operators = {name: op for name, op in all_operators().items() if name in ("fewshot", "rules", "merge")}
    first = [{"operator": "fewshot", "fewshot.pick": "similar"}, {"operator": "rules"}, {"operator": "merge"}]
    study = OperatorStudy(storage, "s", seed=0, first=first)
    asks = []
    for i in range(4):
        ask = study.ask(operators, Candidate("c0", AgentSpec(name="a")), i)
        asks.append(ask)
        study.tell(ask, 0.0)
    assert [a.operator for a in asks[:3]] == ["fewshot", "rules", "merge"] and asks[3].operator in operators
    assert asks[0].params["fewshot.pick"] == "similar" and 1 <= asks[0].params["fewshot.k"] <= 4
    # Opening the same study again (a --resume) does not queue them again.
    again = OperatorStudy(storage, "s", seed=0, first=first)
    assert len(again.study.trials) == 4
    assert all(t.state.name == "COMPLETE" for t in again.study.trials)
