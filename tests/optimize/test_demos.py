"""Demonstrations show only what the rubric scored well: a field a criterion failed is left out
of the shown example, any other failure drops it, and the run's diff.md says which."""

from __future__ import annotations

import json
import random

from agentopt.episode_record import Episode
from agentopt.optimizer.demos import MARK, lineage_section
from agentopt.optimizer.operators.fewshot import FewShotOperator
from agentopt.optimizer.operators.sample import demonstration
from agentopt.optimizer.types import Candidate, ProposalContext
from agentopt.records import Decision, Status
from agentopt.scoring.result import CriterionScore, EpisodeScore
from agentopt.spec.agent import AgentSpec
from agentopt.spec.rubric import Criterion, Rubric
from agentopt.trace import ToolCall, Trace

RUBRIC = Rubric(
    name="triage",
    criteria=(
        Criterion("category", "The category is right.", 3, "equals", {"target": "answer.category", "value": "x"}),
        Criterion("reply", "The reply thanks the customer.", 1, "regex", {"target": "answer.reply", "pattern": "^Thanks"}),
        Criterion("reward", "The environment's reward.", 1, "env_reward"),
    ),
    pass_threshold=0.5,
)


def episode(task: str, answer: dict, failed: tuple[str, ...] = (), calls: tuple[ToolCall, ...] = ()) -> Episode:
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": f"ticket {task}"}]
    trace = Trace(episode_id=f"e-{task}", task_id=task, split="train", task={}, messages=messages,
                  final_answer=json.dumps(answer), tool_calls=list(calls))
    criteria = tuple(CriterionScore(c.id, 0.0 if c.id in failed else 1.0, c.id not in failed, "") for c in RUBRIC.criteria)
    return Episode(trace, EpisodeScore(f"e-{task}", task, 0.8, True, criteria=criteria))


async def test_fewshot_leaves_out_failed_fields_and_drops_examples_whose_other_criteria_failed():
    episodes = [
        episode("t1", {"category": "billing", "reply": "Thanks, done."}),
        episode("t2", {"category": "technical", "reply": "saber"}, failed=("reply",)),
        episode("t3", {"category": "billing", "reply": "Thanks."}, failed=("reward",)),
    ]
    ctx = ProposalContext(parent=Candidate("c1", AgentSpec(name="triage", system_prompt="Triage.")), episodes=episodes,
                          rubric=RUBRIC, rng=random.Random(0), params={"fewshot.k": 4, "fewshot.pick": "first"})
    proposal = await FewShotOperator(correct=False).propose(ctx)
    shown = {e.input: e.output for e in proposal.spec.examples}
    assert shown == {"ticket t1": {"category": "billing", "reply": "Thanks, done."}, "ticket t2": {"category": "technical"}}
    assert "saber" not in json.dumps(shown)
    assert f"{MARK}left out answer.reply in t2; dropped t3 (reward failed)" in proposal.note


def test_diff_md_names_what_the_winners_lineage_left_out():
    decisions = [
        Decision("c0", Status.BASELINE, "baseline"),
        Decision("c1", Status.ACCEPTED, "fewshot", parent="c0", note=f"2 examples; {MARK}left out answer.reply in t2"),
        Decision("c2", Status.ACCEPTED, "rules", parent="c1", note="rules"),
    ]
    section = lineage_section(decisions, "c2")
    assert "- c1 (fewshot): left out answer.reply in t2" in section
    assert lineage_section(decisions, "c0") == ""


def test_a_multi_turn_success_is_compacted_into_its_steps_and_answer():
    calls = (ToolCall("lookup", {"id": 7}, result="order 7: shipped"), ToolCall("submit", {"category": "billing"}, done=True))
    example = demonstration(episode("t1", {"category": "billing"}, calls=calls))
    assert example.output == '1. call lookup {"id": 7} -> order 7: shipped\nthen answer: {"category": "billing"}'
    single = demonstration(episode("t2", {"category": "billing"}, calls=calls[1:]))
    assert single.output == {"category": "billing"}
