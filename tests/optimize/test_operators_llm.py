"""The LLM operators (reflect, skill) and merge, from hand-made episodes and a scripted mutator.

The mutator is a small ChatModel that records each request and answers with canned text,
so the prompt it was shown and the spec that comes back can both be checked exactly.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import replace
from pathlib import Path

import pytest

from agentopt.episode_record import Episode
from agentopt.models.types import ChatRequest, ChatResponse
from agentopt.optimizer.operators.merge import MergeOperator, merge
from agentopt.optimizer.operators.reflect import ReflectOperator, components
from agentopt.optimizer.operators.skill import SkillOperator
from agentopt.optimizer.prompts import TEMPLATES_ENV, reflective_dataset, render
from agentopt.optimizer.types import Candidate, ProposalContext
from agentopt.scoring.result import CriterionScore, EpisodeScore
from agentopt.spec.agent import AgentSpec, ModelParams, OptimizeSpec, Skill, ToolOverride
from agentopt.spec.rubric import Criterion, Rubric
from agentopt.trace import ToolCall, Trace

RUBRIC = Rubric(
    name="support",
    criteria=(
        Criterion("refund_rule", "Refunds are only offered within 30 days of delivery.", 3, "llm_judge"),
        Criterion("polite", "The reply thanks the customer.", 1, "regex"),
        Criterion("format", "The reply is valid JSON.", 1, "json_schema", gate=True),
    ),
)
REFUNDS = Skill("refunds", "How to handle refunds.", "1. Look up the order.", "skills/refunds.md")
TOOLS = (("lookup_order", "Look up an order by id."), ("reply_to_customer", "Send the final reply."))
TRAIN_INPUTS = (
    "Hello, my blender order 4471 arrived broken on March 3rd and I want my money back please.",
    "I was charged twice for order 9120 and nobody answers my emails about it.",
)


class ScriptedMutator:
    """A ChatModel that answers each request with the next canned content and keeps the requests."""

    def __init__(self, *answers: str):
        self.answers = list(answers)
        self.requests: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        return ChatResponse(content=self.answers.pop(0))

    @property
    def prompt(self) -> str:
        return self.requests[-1].messages[-1]["content"]


def make_spec(**changes) -> AgentSpec:
    base = AgentSpec(name="support", system_prompt="You help customers of {{ company }}.", skills=(REFUNDS,))
    return replace(base, **changes)


def episode(task: str, text: str, answer: str, failed: dict[str, str] | None = None) -> Episode:
    """A scored episode; `failed` maps the criteria it failed to their feedback sentence."""
    failed = failed or {}
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": text}]
    calls = [ToolCall("lookup_order", {"order_id": task}, result="delivered 40 days ago")]
    trace = Trace(episode_id=f"e-{task}", task_id=task, split="train", task={}, messages=messages,
                  tool_calls=calls, final_answer=answer)
    criteria = tuple(CriterionScore(c.id, 0.0 if c.id in failed else 1.0, c.id not in failed, failed.get(c.id, "ok"))
                     for c in RUBRIC.criteria)
    score = 0.2 if failed else 1.0
    return Episode(trace, EpisodeScore(f"e-{task}", task, score, not failed, criteria=criteria))


EPISODES = [
    episode("t1", TRAIN_INPUTS[0], "Sure, refund issued!", {"refund_rule": "It refunded an order delivered 40 days ago."}),
    episode("t2", TRAIN_INPUTS[1], "ok", {"polite": "The reply does not thank the customer."}),
    episode("t3", "Where is my parcel?", '{"reply": "Thanks! It ships today."}'),
]


def context(spec: AgentSpec, mutator=None, params=None, episodes=EPISODES, others=(), seed=0) -> ProposalContext:
    return ProposalContext(parent=Candidate("c1", spec), episodes=list(episodes), rubric=RUBRIC, rng=random.Random(seed),
                           params=params or {}, mutator=mutator, mutator_model="openai/mutator", others=tuple(others),
                           train_inputs=TRAIN_INPUTS, tools=TOOLS, variables=("company",))


def text(value: str) -> str:
    return json.dumps({"text": value})


# --- reflect ---------------------------------------------------------------------------------


def test_reflect_components_follow_optimize_components():
    spec = make_spec()
    assert components(spec, TOOLS) == ["system_prompt", "skill:refunds", "tool:lookup_order", "tool:reply_to_customer"]
    only_tools = replace(spec, optimize=OptimizeSpec(components=("tools", "examples")))
    assert components(only_tools, TOOLS) == ["tool:lookup_order", "tool:reply_to_customer"]


async def test_reflect_prompt_shows_failures_feedback_criteria_and_current_text():
    mutator = ScriptedMutator(text("Help customers of {{ company }}. Check the delivery date before any refund."))
    await ReflectOperator().propose(context(make_spec(), mutator, {"reflect.component_index": 0}))

    request = mutator.requests[0]
    assert request.model == "openai/mutator"
    assert request.json_schema["required"] == ["text"]
    prompt = mutator.prompt
    assert "`system_prompt`" in prompt
    assert "You help customers of {{ company }}." in prompt  # the current text, verbatim
    for failing in TRAIN_INPUTS:
        assert failing in prompt
    assert "It refunded an order delivered 40 days ago." in prompt
    assert "The reply does not thank the customer." in prompt
    for criterion in RUBRIC.criteria:
        assert criterion.description in prompt
    assert 'lookup_order({"order_id": "t1"}) -> delivered 40 days ago' in prompt
    assert "`{{ company }}`" in prompt  # the variables the new prompt may use


async def test_reflect_replaces_exactly_the_chosen_component():
    spec = make_spec(system_prompt_file="prompt.md")
    new_prompt = "Help customers of {{ company }}. Check the delivery date before any refund."
    proposal = await ReflectOperator().propose(context(spec, ScriptedMutator(text(new_prompt)), {"reflect.component_index": 0}))
    assert proposal.spec == replace(spec, system_prompt=new_prompt, system_prompt_file=None)
    assert proposal.component == "system_prompt"
    assert proposal.note == "reflect rewrote system_prompt after failures on: refund_rule, polite"

    body = "1. Look up the order.\n2. Refuse refunds after 30 days."
    proposal = await ReflectOperator().propose(context(spec, ScriptedMutator(text(body)), {"reflect.component_index": 1}))
    assert proposal.spec == replace(spec, skills=(replace(REFUNDS, body=body),))
    assert proposal.component == "skill:refunds"

    # Index 6 is 2 modulo the 4 components: the first tool. A new override is added for it.
    description = "Look up an order by id; the result includes the delivery date."
    proposal = await ReflectOperator().propose(context(spec, ScriptedMutator(text(description)), {"reflect.component_index": 6}))
    assert proposal.spec == replace(spec, tools=(ToolOverride("lookup_order", description),))
    assert proposal.component == "tool:lookup_order"


async def test_reflect_revises_an_existing_tool_override_in_place():
    spec = make_spec(tools=(ToolOverride("lookup_order", "Old words."), ToolOverride("reply_to_customer", "Reply.")))
    mutator = ScriptedMutator(text("New words about orders."))
    proposal = await ReflectOperator().propose(context(spec, mutator, {"reflect.component_index": 2}))
    assert "Old words." in mutator.prompt
    assert proposal.spec.tools == (ToolOverride("lookup_order", "New words about orders."), ToolOverride("reply_to_customer", "Reply."))


@pytest.mark.parametrize(
    "answer, spec_changes, reason",
    [
        (text("word " * 300), {"optimize": OptimizeSpec(max_component_tokens=100)}, "too long"),
        (text("Refuse when: my blender order 4471 arrived broken on March 3rd and I want it."), {}, "copies a train input"),
        (text("  You help customers of {{ company }}.\n"), {}, "unchanged"),
        (text(""), {}, "empty"),
        (text("Help customers of {{ shop_name }}."), {}, "cannot render"),
        (text("Help customers {% if %}."), {}, "cannot render"),
        ("Sure! Here is a better prompt: be careful.", {}, "the mutator gave no text"),
        (json.dumps({"answer": "wrong field"}), {}, "the mutator gave no text"),
        (json.dumps(["a list"]), {}, "the mutator gave no text"),
    ],
    ids=["too_long", "copied", "unchanged", "empty", "unknown_variable", "bad_syntax", "not_json", "no_text", "not_object"],
)
async def test_reflect_rejects_bad_text_without_raising(answer, spec_changes, reason, caplog):
    caplog.set_level(logging.INFO)
    spec = make_spec(**spec_changes)
    mutator = ScriptedMutator(answer)
    assert await ReflectOperator().propose(context(spec, mutator, {"reflect.component_index": 0})) is None
    assert len(mutator.requests) == 1
    assert reason in caplog.text


async def test_reflect_accepts_a_long_prompt_within_budget_and_known_variables():
    new = "Help customers of {{ company }}. " + "Check the order first. " * 20
    proposal = await ReflectOperator().propose(context(make_spec(), ScriptedMutator(text(new)), {"reflect.component_index": 0}))
    assert proposal is not None and proposal.spec.system_prompt == new.strip()


async def test_reflect_does_not_ask_without_failures_or_components():
    passing = [EPISODES[2]]
    mutator = ScriptedMutator(text("anything"))
    assert await ReflectOperator().propose(context(make_spec(), mutator, episodes=passing)) is None
    nothing = make_spec(optimize=OptimizeSpec(components=("examples",)))
    assert await ReflectOperator().propose(context(nothing, mutator)) is None
    assert await ReflectOperator().propose(context(make_spec(), mutator=None)) is None
    assert mutator.requests == []


async def test_reflect_without_a_param_picks_a_component_with_the_rng():
    chosen = set()
    for seed in range(12):
        mutator = ScriptedMutator(text(f"A new text number {seed}."))
        proposal = await ReflectOperator().propose(context(make_spec(), mutator, seed=seed))
        chosen.add(proposal.component)
    assert chosen == {"system_prompt", "skill:refunds", "tool:lookup_order", "tool:reply_to_customer"}


# --- prompts ---------------------------------------------------------------------------------


def test_reflective_dataset_truncates_long_texts_and_skips_infra_errors():
    long = episode("t9", "x" * 5000, "y" * 5000, {"polite": "No thanks."})
    broken = Episode(long.trace, replace(long.score, error="provider down"))
    [record] = reflective_dataset([long, broken])
    assert len(record.input) < 1000 and record.input.endswith("more characters]")
    assert len(record.output) < 500
    assert [(f.id, f.feedback) for f in record.failed] == [("polite", "No thanks.")]
    assert record.passed is False


def test_a_template_in_the_user_directory_wins(tmp_path: Path, monkeypatch):
    (tmp_path / "reflect.j2").write_text("Custom for {{ component }}")
    assert render("reflect.j2", templates_dir=tmp_path, component="system_prompt") == "Custom for system_prompt"

    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "reflect.j2").write_text("From the environment: {{ component }}")
    monkeypatch.setenv(TEMPLATES_ENV, str(env_dir))
    assert render("reflect.j2", component="x") == "From the environment: x"
    # Templates the user directory lacks still come from the package.
    assert "# Your task" in render("skill.j2", skills=(), records=[], criteria=RUBRIC.criteria, tools=(), max_tokens=10)


async def test_operators_use_their_template_override(tmp_path: Path):
    (tmp_path / "reflect.j2").write_text("Rewrite {{ component }}: {{ current }}")
    mutator = ScriptedMutator(text("Help customers of {{ company }} well."))
    await ReflectOperator(templates_dir=str(tmp_path)).propose(context(make_spec(), mutator, {"reflect.component_index": 0}))
    assert mutator.prompt == "Rewrite system_prompt: You help customers of {{ company }}."


def test_templates_reject_missing_variables():
    with pytest.raises(Exception, match="undefined"):
        render("reflect.j2", component="system_prompt")


# --- skill -----------------------------------------------------------------------------------


def skill_answer(name: str, description: str = "When a refund is asked.", body: str = "1. Check the delivery date.\n2. Refuse after 30 days.") -> str:
    return json.dumps({"name": name, "description": description, "body": body})


async def test_skill_adds_a_new_skill():
    mutator = ScriptedMutator(skill_answer("refund-window"))
    proposal = await SkillOperator().propose(context(make_spec(), mutator))
    new = Skill("refund-window", "When a refund is asked.", "1. Check the delivery date.\n2. Refuse after 30 days.", "skills/refund-window.md")
    assert proposal.spec == make_spec(skills=(REFUNDS, new))
    assert proposal.component == "skill:refund-window"
    assert proposal.note == "skill added 'refund-window' after failures on: refund_rule, polite"

    request = mutator.requests[0]
    assert request.json_schema["properties"]["name"]["pattern"] == "^[a-z0-9_-]+$"
    assert "1. Look up the order." in mutator.prompt  # the existing skill is shown
    assert "It refunded an order delivered 40 days ago." in mutator.prompt
    assert '{"reply": "Thanks! It ships today."}' in mutator.prompt  # a passed episode too


async def test_skill_revises_the_same_named_skill_and_keeps_its_path():
    spec = make_spec(skills=(replace(REFUNDS, path="procedures/refunds.md"),))
    proposal = await SkillOperator().propose(context(spec, ScriptedMutator(skill_answer("refunds", "Refunds, with the rule."))))
    [skill] = proposal.spec.skills
    assert skill == Skill("refunds", "Refunds, with the rule.", "1. Check the delivery date.\n2. Refuse after 30 days.",
                          "procedures/refunds.md")
    assert proposal.note.startswith("skill revised 'refunds'")


@pytest.mark.parametrize(
    "answer",
    [
        skill_answer("Refund Window"),  # not a valid name
        skill_answer("refunds", REFUNDS.description, REFUNDS.body),  # unchanged
        skill_answer("x", body="Order 9120: I was charged twice for order 9120 and nobody answers my emails."),  # copied
        skill_answer("x", body=""),  # empty
        skill_answer("x", body="step " * 1000),  # too long (default 800 tokens)
        "not json at all",
    ],
    ids=["bad_name", "unchanged", "copied", "empty", "too_long", "not_json"],
)
async def test_skill_rejects_bad_answers(answer):
    assert await SkillOperator().propose(context(make_spec(), ScriptedMutator(answer))) is None


async def test_skill_only_when_skills_may_change():
    mutator = ScriptedMutator(skill_answer("refund-window"))
    spec = make_spec(optimize=OptimizeSpec(components=("system_prompt",)))
    assert await SkillOperator().propose(context(spec, mutator)) is None
    assert mutator.requests == []


# --- merge -----------------------------------------------------------------------------------

BASE = make_spec()
BETTER_PROMPT = replace(BASE, system_prompt="Help {{ company }} customers carefully.")
BETTER_SKILL = replace(BASE, skills=(replace(REFUNDS, body="1. Check the 30-day window."),))
NEW_TOOL = replace(BASE, tools=(ToolOverride("lookup_order", "Returns the delivery date."),))


def merge_context(parent: AgentSpec, *others: Candidate, seed: int = 0) -> ProposalContext:
    return replace(context(parent, seed=seed), parent=Candidate("c1", parent), others=(Candidate("c0", BASE), *others))


async def test_merge_takes_the_component_only_the_other_changed():
    proposal = await MergeOperator().propose(merge_context(BETTER_PROMPT, Candidate("c2", BETTER_SKILL)))
    assert proposal.spec == replace(BETTER_PROMPT, skills=BETTER_SKILL.skills)
    assert proposal.component == "merge"
    assert proposal.note == "merged skill:refunds from c2 into c1"

    proposal = await MergeOperator().propose(merge_context(BETTER_SKILL, Candidate("c3", NEW_TOOL)))
    assert proposal.spec == replace(BETTER_SKILL, tools=NEW_TOOL.tools)


async def test_merge_is_none_when_both_changed_the_same_thing_or_nothing_differs():
    rival = replace(BASE, system_prompt="Another prompt for {{ company }}.")
    assert await MergeOperator().propose(merge_context(BETTER_PROMPT, Candidate("c2", rival))) is None
    prompt_and_tool = replace(BETTER_PROMPT, tools=NEW_TOOL.tools)
    assert await MergeOperator().propose(merge_context(prompt_and_tool, Candidate("c2", rival))) is None
    assert await MergeOperator().propose(merge_context(BETTER_PROMPT, Candidate("c2", BETTER_PROMPT))) is None
    assert await MergeOperator().propose(merge_context(BETTER_PROMPT)) is None  # only the baseline
    # The baseline as parent would just copy the other: nothing new.
    assert await MergeOperator().propose(merge_context(BASE, Candidate("c2", BETTER_SKILL))) is None
    # Without a baseline there is nothing to merge against.
    no_base = replace(context(BETTER_PROMPT), others=(Candidate("c2", BETTER_SKILL),))
    assert await MergeOperator().propose(no_base) is None


async def test_merge_with_a_given_baseline_handles_model_params_and_removed_skills():
    tuned = replace(BASE, model="openai/gpt-4o-mini", params=ModelParams(temperature=0.4))
    dropped = replace(BETTER_PROMPT, skills=())
    ctx = replace(context(tuned), others=(Candidate("c5", dropped),))
    proposal = await MergeOperator(baseline=BASE).propose(ctx)
    assert proposal.spec == replace(tuned, system_prompt=BETTER_PROMPT.system_prompt, skills=())
    assert proposal.note == "merged system_prompt, skill:refunds from c5 into c1"
    assert merge(dropped, tuned, BASE) == (replace(dropped, model=tuned.model, params=tuned.params), ["model", "params"])


async def test_merge_chooses_among_mergeable_others_with_the_rng():
    others = (Candidate("c2", BETTER_SKILL), Candidate("c3", NEW_TOOL), Candidate("c4", BETTER_PROMPT))
    notes = {(await MergeOperator().propose(merge_context(BETTER_PROMPT, *others, seed=s))).note for s in range(10)}
    assert notes == {"merged skill:refunds from c2 into c1", "merged tool:lookup_order from c3 into c1"}

