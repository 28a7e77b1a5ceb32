"""RunState: what a run's decisions add up to, and the same whether built as the run goes or
rebuilt from the journal afterwards (which is what --resume and every worker of a shared run do)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from agentopt.envs.session import parse_env
from agentopt.optimizer.budget import Budget
from agentopt.optimizer.journal import Journal
from agentopt.optimizer.loop import Optimizer, RunConfig
from agentopt.optimizer.state import RunState
from agentopt.optimizer.types import Candidate
from agentopt.records import Decision, Status
from agentopt.spec.agent import AgentSpec
from agentopt.spec.load import load_agent, load_rubric
from agentopt.store.run import RunFolder
from tests.conftest import scripted_agent
from tests.optimize.test_resume import NEVER_MET
from tests.optimize.test_run_integration import dataset as capitals_dataset
from tests.optimize.test_run_integration import rubric as capitals_rubric
from tests.test_api import ByInstructions, Lowercase

BASE = Candidate("c0", AgentSpec(name="a"))


def test_each_status_is_counted_once_and_only_the_baseline_and_accepted_children_join_the_pool():
    state = RunState(BASE)
    state.apply(Decision("c0", Status.BASELINE), {"v1": 0.5, "v2": 0.5})
    for cid, status in enumerate(Status, start=1):
        if status != Status.BASELINE:
            state.apply(Decision(f"c{cid}", status), {"v1": 1.0, "v2": 0.0})
    assert state.counts == {"proposed": 3, "screened_out": 1, "rejected": 1, "accepted": 1, "invalid": 1, "duplicate": 1,
                            "skipped": 1, "errors": 1}
    accepted = f"c{list(Status).index(Status.ACCEPTED) + 1}"
    assert state.pool == ["c0", accepted]
    assert state.best() == "c0"  # a tie (0.5 each) goes to the earlier one
    state.apply(Decision("c9", Status.ACCEPTED), {"v1": 1.0, "v2": 1.0})
    assert state.best() == "c9" and state.best_mean() == 1.0


def test_the_state_a_run_ends_in_is_the_state_its_journal_rebuilds(tmp_path):
    """The capitals quiz with a criterion never met (so the run goes on to its budget) and a
    model that writes lowercase only when told to: `lowercase` (tests/test_api.py's operator)
    asks for it, and asked again its child ties with its parent."""
    spec = load_agent(str(scripted_agent(tmp_path, "http://127.0.0.1:9/v1", name="capitals")))  # never called: model= answers
    rubric = load_rubric(str(capitals_rubric(tmp_path, NEVER_MET)))
    run = RunFolder.create(tmp_path / "runs", "run", "capitals")
    config = replace(RunConfig(), budget=Budget(max_rollouts=40), minibatch=2, operators=("fewshot", "lowercase"), run_test=False)
    optimizer = Optimizer(spec, rubric, parse_env(f"dataset:{capitals_dataset(tmp_path)}"), run, config, model=ByInstructions(),
                          extra_operators={"lowercase": Lowercase()})
    result = asyncio.run(optimizer.optimize())
    live = optimizer.state
    # The run accepted a child, screened some out and had iterations with nothing to propose (fewshot).
    assert live.counts["accepted"] >= 1 and live.counts["screened_out"] >= 1 and live.counts["invalid"] >= 1

    val = [f"q{i:02d}" for i in range(8, 12)]  # capitals_dataset's val split
    rebuilt = RunState.from_journal(optimizer.baseline, Journal(run), val, optimizer._saved_spec)
    assert rebuilt.pool == live.pool and rebuilt.val_scores == live.val_scores and rebuilt.counts == live.counts
    assert rebuilt.counts == result.counts
    played = {d.id for d in Journal(run).decisions if d.status.played}
    assert set(rebuilt.candidates) == played
    assert all(rebuilt.spec_hash(c) == live.spec_hash(c) for c in played)  # the saved spec is the one played
    assert rebuilt.best() == live.best() == result.winner.id


def test_a_child_whose_spec_was_never_saved_is_left_out_of_the_rebuilt_state(tmp_path):
    """A kill between a decision and its spec folder (or a folder deleted by hand) must not
    crash a resume: the child is not known, so it is neither a parent nor in the pool."""
    run = RunFolder.create(tmp_path / "runs", "run", "a")
    journal = Journal(run)
    journal.add_decision(Decision("c0", Status.BASELINE))
    journal.add_decision(Decision("c1", Status.ACCEPTED, operator="rules"))
    state = RunState.from_journal(BASE, Journal(run), [], lambda cid: None)
    assert set(state.candidates) == {"c0"} and state.pool == ["c0"] and state.counts["accepted"] == 1
