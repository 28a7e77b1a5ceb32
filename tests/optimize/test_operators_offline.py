"""The offline operators (fewshot, choices, rules): what each proposes from hand-made episodes.

No model and no environment: a ProposalContext is built directly from Traces and
EpisodeScores, so every expectation below is exact.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from agentopt.episode_record import Episode
from agentopt.optimizer.artifacts import load_candidate_spec, save_spec
from agentopt.optimizer.operators.choices import ChoicesOperator
from agentopt.optimizer.operators.fewshot import FewShotOperator
from agentopt.optimizer.operators.rules import RulesOperator, add_rules, jinja_literal
from agentopt.optimizer.types import Candidate, ProposalContext
from agentopt.prompt import render_template
from agentopt.scoring.aggregate import score_trace
from agentopt.scoring.base import CheckContext
from agentopt.scoring.result import CriterionScore, EpisodeScore
from agentopt.spec.agent import AgentSpec, Example, LoopSettings, OptimizeSpec, SearchSpace, Skill
from agentopt.spec.load import agent_to_yaml, load_agent
from agentopt.spec.rubric import Criterion, Rubric
from agentopt.trace import Trace

RUBRIC = Rubric(
    name="triage",
    criteria=(
        Criterion("category", "The category matches the ticket.", 3, "field_match"),
        Criterion("short", "The reply is at most 50 words.", 1, "max_length"),
        Criterion("cite", "Quote the {{ policy }} section that applies.", 1, "llm_judge"),
        Criterion("format", "The answer is valid JSON.", 1, "json_schema", gate=True),
    ),
)
REFUNDS = Skill("refunds", "How to handle refunds.", "# Refunds\nCheck the order.", "skills/refunds.md")
TONE = Skill("tone", "How to sound.", "# Tone\nBe kind.", "skills/tone.md")
SPACE = SearchSpace(models=("local", "openai/gpt-4o-mini"), temperature=(0.0, 1.0), max_examples=(0, 3),
                    skills=("refunds", "tone"))


def make_spec(**changes) -> AgentSpec:
    base = AgentSpec(name="triage", system_prompt="You triage tickets.\n", skills=(REFUNDS, TONE),
                     optimize=OptimizeSpec(search_space=SPACE))
    return replace(base, **changes)


def episode(task: str, text: str, answer: str | None, score: float, passed: bool | None = None,
            failed: tuple[str, ...] = (), feedback: str = "", error: str | None = None) -> Episode:
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": text},
                {"role": "assistant", "content": "ok"}, {"role": "user", "content": "a later turn"}]
    trace = Trace(episode_id=f"e-{task}", task_id=task, split="train", task={}, messages=messages, final_answer=answer)
    criteria = tuple(CriterionScore(c.id, 0.0 if c.id in failed else 1.0, c.id not in failed,
                                    feedback if c.id in failed else "ok") for c in RUBRIC.criteria)
    passed = score >= 0.7 if passed is None else passed
    return Episode(trace, EpisodeScore(f"e-{task}", task, score, passed, criteria=criteria, error=error))


def category(name: str) -> str:
    return json.dumps({"category": name, "reply": "Thanks."})


def context(spec: AgentSpec, episodes: list[Episode], params: dict | None = None, others=(),
            seed: int = 0, train=(), rubric: Rubric = RUBRIC) -> ProposalContext:
    return ProposalContext(parent=Candidate("c1", spec), episodes=episodes, rubric=rubric,
                           rng=random.Random(seed), params=params or {}, others=tuple(others),
                           train_episodes=list(train))


# --- fewshot ---------------------------------------------------------------------------------


async def test_fewshot_bootstraps_only_from_successful_episodes():
    episodes = [
        episode("t001", "Charged twice", category("billing"), 1.0),
        episode("t002", "Where is my parcel", category("shipping"), 0.2),  # failed
        episode("t003", "Reset my password", category("account"), 0.9),
        episode("t004", "Crashed", category("bug"), 1.0, error="provider timeout"),  # not scored
    ]
    proposal = await FewShotOperator().propose(context(make_spec(), episodes, {"fewshot.k": 4}))
    assert proposal is not None and proposal.component == "examples"
    assert [e.input for e in proposal.spec.examples] == ["Charged twice", "Reset my password"]
    assert proposal.note == "2 examples bootstrapped from successful train episodes t001, t003"


async def test_fewshot_prefers_diverse_outputs_then_score():
    episodes = [
        episode("t001", "Double charge", category("billing"), 1.0),
        episode("t002", "Refund late", category("billing"), 1.0),
        episode("t003", "Invoice wrong", category("billing"), 0.95),
        episode("t004", "Parcel lost", category("shipping"), 0.8),
        episode("t005", "Cannot log in", category("account"), 0.75),
    ]
    proposal = await FewShotOperator().propose(context(make_spec(), episodes, {"fewshot.k": 3}))
    assert [e.output["category"] for e in proposal.spec.examples] == ["billing", "shipping", "account"]
    assert proposal.spec.examples[0].input in {"Double charge", "Refund late"}  # a top-score billing one

    four = await FewShotOperator().propose(context(make_spec(), episodes, {"fewshot.k": 4}))
    # Once every category is shown, the next pick is the best remaining billing episode.
    assert [e.output["category"] for e in four.spec.examples] == ["billing", "shipping", "account", "billing"]
    assert len({e.input for e in four.spec.examples}) == 4


async def test_fewshot_respects_k_and_its_bounds():
    episodes = [episode(f"t{i}", f"question {i}", f"answer {i}", 1.0 - i / 100) for i in range(6)]
    one = await FewShotOperator().propose(context(make_spec(), episodes, {"fewshot.k": 1}))
    assert one.spec.examples == (Example("question 0", "answer 0"),)
    assert one.note == "1 example bootstrapped from successful train episodes t0"

    assert FewShotOperator().search_space(Candidate("c0", make_spec()))["fewshot.k"] == IntDistribution(1, 3)
    default = make_spec(optimize=OptimizeSpec())
    assert FewShotOperator().search_space(Candidate("c0", default))["fewshot.k"] == IntDistribution(1, 4)


async def test_fewshot_parses_dict_answers_and_keeps_other_answers_as_text():
    episodes = [
        episode("t1", "dict", '{"category": "billing"}', 1.0),
        episode("t2", "list", "[1, 2]", 0.99),
        episode("t3", "text", "Paris", 0.98),
        episode("t4", "no answer", None, 0.97),
    ]
    proposal = await FewShotOperator().propose(context(make_spec(), episodes, {"fewshot.k": 4}))
    assert proposal.spec.examples == (
        Example("dict", {"category": "billing"}), Example("list", "[1, 2]"), Example("text", "Paris"),
    )


async def test_fewshot_offers_nothing_without_successes_or_without_change():
    failures = [episode("t1", "q", category("billing"), 0.3), episode("t2", "q2", category("bug"), 0.0)]
    assert await FewShotOperator().propose(context(make_spec(), failures, {"fewshot.k": 2})) is None

    success = [episode("t1", "q", category("billing"), 1.0)]
    same = make_spec(examples=(Example("q", json.loads(category("billing"))),))
    assert await FewShotOperator().propose(context(same, success, {"fewshot.k": 2})) is None


async def test_fewshot_min_score_counts_unpassed_episodes_that_reach_it():
    episodes = [episode("t1", "q", "a", 0.6, passed=False)]
    assert await FewShotOperator().propose(context(make_spec(), episodes, {"fewshot.k": 1})) is None
    proposal = await FewShotOperator(min_score=0.5).propose(context(make_spec(), episodes, {"fewshot.k": 1}))
    assert proposal.spec.examples == (Example("q", "a"),)


async def test_fewshot_similar_keeps_a_growing_pool_and_shows_k():
    minibatch = [episode("t1", "Charged twice", category("billing"), 1.0)]
    earlier = [episode("t2", "Parcel lost", category("shipping"), 0.9), episode("t3", "Login fails", category("account"), 0.2)]
    first = await FewShotOperator().propose(context(make_spec(), minibatch, {"fewshot.k": 1, "fewshot.pick": "similar"}, train=earlier))
    spec = first.spec
    assert [e.input for e in spec.examples] == ["Charged twice", "Parcel lost"]  # successes only, best first
    assert (spec.loop.example_pick, spec.loop.examples_shown) == ("similar", 1)
    assert first.note == "a pool of 2 examples (2 new from successful train episodes); each episode shows the 1 most similar"

    # The child's pool keeps the parent's examples and adds new successes after them.
    later = [episode("t4", "App crashes", category("technical"), 1.0)]
    second = await FewShotOperator().propose(context(spec, later, {"fewshot.k": 2, "fewshot.pick": "similar"}))
    assert [e.input for e in second.spec.examples] == ["Charged twice", "Parcel lost", "App crashes"]
    assert second.spec.loop.examples_shown == 2
    # Nothing new and the same k: nothing to propose.
    assert await FewShotOperator().propose(context(second.spec, later, {"fewshot.k": 2, "fewshot.pick": "similar"})) is None
    # Going back to fixed examples resets the pick.
    fixed = await FewShotOperator().propose(context(second.spec, later, {"fewshot.k": 1, "fewshot.pick": "first"}))
    assert fixed.spec.examples == (Example("App crashes", {"category": "technical", "reply": "Thanks."}),)
    assert (fixed.spec.loop.example_pick, fixed.spec.loop.examples_shown) == ("first", None)


async def test_fewshot_corrects_failures_the_rubric_gives_the_right_values_for():
    rubric = Rubric("r", (Criterion("category", "Right team.", 1, "equals",
                                    {"target": "answer.category", "value": "{{ expected.category }}"}),))
    trace = replace(episode("t1", "Charged twice", category("shipping"), 0.0).trace, task={"expected": {"category": "billing"}})
    failed = Episode(trace, await score_trace(trace, rubric, CheckContext()))
    assert not failed.score.passed

    proposal = await FewShotOperator().propose(context(make_spec(), [], {"fewshot.k": 2}, train=[failed], rubric=rubric))
    assert proposal.spec.examples == (Example("Charged twice", {"category": "billing", "reply": "Thanks."}),)
    assert proposal.note.endswith("t1, 1 of them corrected to the rubric's expected values")
    assert await FewShotOperator(correct=False).propose(context(make_spec(), [], {"fewshot.k": 2}, train=[failed], rubric=rubric)) is None


# --- choices ---------------------------------------------------------------------------------


def test_choices_distributions_depend_only_on_the_search_space():
    op = ChoicesOperator()
    a = make_spec()
    b = make_spec(model="openai/gpt-4o-mini", skills=(TONE,), examples=(Example("q", "a"),), system_prompt="Other")
    space = op.search_space(Candidate("c0", a))
    assert space == op.search_space(Candidate("c7", b))
    assert space == {
        "choices.model": CategoricalDistribution(["local", "openai/gpt-4o-mini"]),
        "choices.temperature": FloatDistribution(0.0, 1.0),
        "choices.max_examples": IntDistribution(0, 3),
        "choices.skill.refunds": CategoricalDistribution([True, False]),
        "choices.skill.tone": CategoricalDistribution([True, False]),
    }
    assert op.search_space(Candidate("c0", make_spec(optimize=OptimizeSpec()))) == {}


async def test_choices_applies_model_temperature_truncation_and_skill_switches():
    examples = tuple(Example(f"q{i}", f"a{i}") for i in range(3))
    params = {"choices.model": "openai/gpt-4o-mini", "choices.temperature": 0.3712, "choices.max_examples": 1,
              "choices.skill.refunds": False, "choices.skill.tone": True}
    proposal = await ChoicesOperator().propose(context(make_spec(examples=examples), [], params))
    spec = proposal.spec
    assert proposal.component == "choices"
    assert (spec.model, spec.params.temperature) == ("openai/gpt-4o-mini", 0.37)
    assert (spec.examples, spec.skills) == (examples[:1], (TONE,))
    assert proposal.note == ("model local -> openai/gpt-4o-mini; temperature 0 -> 0.37; examples 3 -> 1; "
                             "skill refunds off")


async def test_choices_switches_a_removed_skill_back_on_from_other_candidates():
    parent = make_spec(skills=(TONE,))
    params = {"choices.skill.refunds": True, "choices.skill.tone": True}
    assert await ChoicesOperator().propose(context(parent, [], params)) is None  # nowhere to find refunds

    other = Candidate("c0", make_spec())
    proposal = await ChoicesOperator().propose(context(parent, [], params, others=[other]))
    assert proposal.spec.skills == (TONE, REFUNDS) and proposal.note == "skill refunds on"

    from_baseline = await ChoicesOperator(skills=[REFUNDS]).propose(context(parent, [], params))
    assert from_baseline.spec.skills == (TONE, REFUNDS)


async def test_choices_changes_how_many_examples_a_similar_pick_shows_not_the_pool():
    pool = tuple(Example(f"q{i}", f"a{i}") for i in range(5))
    parent = make_spec(examples=pool, loop=LoopSettings(example_pick="similar", examples_shown=3))
    proposal = await ChoicesOperator().propose(context(parent, [], {"choices.max_examples": 1}))
    assert (proposal.spec.examples, proposal.spec.loop.examples_shown) == (pool, 1)
    assert proposal.note == "examples shown 3 -> 1"
    assert await ChoicesOperator().propose(context(parent, [], {"choices.max_examples": 3})) is None


async def test_choices_offers_nothing_when_the_params_match_the_parent():
    parent = make_spec(params=replace(make_spec().params, temperature=0.5))
    params = {"choices.model": "local", "choices.temperature": 0.5001, "choices.max_examples": 2,
              "choices.skill.refunds": True, "choices.skill.tone": True}
    assert await ChoicesOperator().propose(context(parent, [], params)) is None  # no examples to truncate
    assert await ChoicesOperator().propose(context(parent, [], {})) is None


# --- rules -----------------------------------------------------------------------------------


def failing_episodes() -> list[Episode]:
    # category fails 1/4 (cost 3 x 0.25 = 0.75), short fails 3/4 (0.75 x 1 = 0.75: ties go to
    # rubric order), cite 2/4 (0.5), format (a gate: weight 6) 1/4 (1.5).
    return [
        episode("t1", "q1", "a", 0.0, failed=("short", "cite", "format"), feedback="expected 'medium', got 'low'"),
        episode("t2", "q2", "a", 0.5, failed=("short", "cite", "category"), feedback="expected 'medium', got 'low'"),
        episode("t3", "q3", "a", 0.8, failed=("short",), feedback="62 words, limit 50"),
        episode("t4", "q4", "a", 1.0),
    ]


def rules_section(prompt: str) -> list[str]:
    return prompt.split("## Rules\n", 1)[1].strip().split("\n")


async def test_rules_adds_the_most_costly_failed_criteria_once_under_a_rules_section():
    proposal = await RulesOperator().propose(context(make_spec(), failing_episodes(), {"rules.count": 3}))
    assert proposal.component == "system_prompt"
    assert proposal.note == "rules from the most failed criteria: format, category, short"
    prompt = proposal.spec.system_prompt
    assert prompt.startswith("You triage tickets.\n\n## Rules\n")
    assert rules_section(prompt) == [
        "- Ensure the answer is valid JSON.",
        "- Ensure the category matches the ticket.",
        "- Ensure the reply is at most 50 words.",
    ]
    one = await RulesOperator().propose(context(make_spec(), failing_episodes(), {"rules.count": 1}))
    assert rules_section(one.spec.system_prompt) == ["- Ensure the answer is valid JSON."]


async def test_rules_never_duplicates_a_rule_and_extends_an_existing_section():
    prompt = "You triage.\n\n## Rules\n- Ensure the answer is valid JSON.\n\n## Style\nBe brief.\n"
    parent = make_spec(system_prompt=prompt)
    proposal = await RulesOperator().propose(context(parent, failing_episodes(), {"rules.count": 1}))
    assert proposal.spec.system_prompt == (
        "You triage.\n\n## Rules\n- Ensure the answer is valid JSON.\n- Ensure the category matches the ticket.\n"
        "\n## Style\nBe brief.\n"
    )
    # Applied again and again, each rule still appears once; then nothing is left to add.
    spec = proposal.spec
    while (child := await RulesOperator().propose(context(spec, failing_episodes(), {"rules.count": 3}))) is not None:
        spec = child.spec
    assert spec.system_prompt.count("valid JSON") == 1 and spec.system_prompt.count("50 words") == 1
    assert len(rules_section(spec.system_prompt.split("\n\n## Style")[0])) == 4


async def test_rules_escape_braces_so_the_template_still_renders():
    episodes = [episode("t1", "q", "a", 0.5, failed=("cite",))]
    proposal = await RulesOperator().propose(context(make_spec(), episodes, {"rules.count": 3}))
    assert proposal.note == "rules from the most failed criteria: cite"
    rendered = render_template(proposal.spec, {})  # no `policy` variable: would fail if not escaped
    assert rendered.endswith("## Rules\n- Quote the {{ policy }} section that applies.\n")
    # A description that even says "endraw" cannot be wrapped: its openers are broken apart.
    tricky = "Never write {% endraw %} or {{x}} or {#"
    spec = make_spec(system_prompt=add_rules("Hi", ["- " + jinja_literal(tricky)]))
    assert "- Never write { % endraw %} or { {x}} or { #" in render_template(spec, {})


async def test_rules_never_copy_feedback_into_the_prompt():
    proposal = await RulesOperator().propose(context(make_spec(), failing_episodes(), {"rules.count": 3}))
    prompt = proposal.spec.system_prompt
    assert "medium" not in prompt and "62" not in prompt and "expected" not in prompt


async def test_rules_offer_nothing_when_nothing_fails():
    passing = [episode("t1", "q", "a", 1.0), episode("t2", "q", "a", 0.3, error="env crashed", failed=("short",))]
    assert await RulesOperator().propose(context(make_spec(), passing, {"rules.count": 3})) is None


async def test_rules_clear_the_prompt_file_since_the_prompt_changed():
    parent = make_spec(system_prompt_file="prompts/triage.md")
    proposal = await RulesOperator().propose(context(parent, failing_episodes(), {"rules.count": 1}))
    assert proposal.spec.system_prompt_file is None
    assert "## Rules" in agent_to_yaml(proposal.spec)


# --- saving a child ---------------------------------------------------------------------------

AGENT_YAML = """\
name: triage
system_prompt: |
  You triage tickets for {{ company }}.
skills: [skills/refunds.md, skills/tone.md]
examples:
  - {input: Old question, output: {category: general, reply: Hi}}
  - {input: Another, output: plain text}
optimize:
  search_space:
    models: [local, openai/gpt-4o-mini]
    temperature: {low: 0, high: 1}
    max_examples: {low: 0, high: 3}
    skills: [refunds, tone]
"""


@pytest.fixture
def loaded_parent(tmp_path: Path) -> AgentSpec:
    agents = tmp_path / "agents"
    (agents / "skills").mkdir(parents=True)
    for name in ("refunds", "tone"):
        skill = f"---\nname: {name}\ndescription: About {name}.\n---\n\nDo {name}.\n"
        (agents / "skills" / f"{name}.md").write_text(skill)
    (agents / "parent.yaml").write_text(AGENT_YAML)
    return load_agent(str(agents / "parent.yaml"))


async def test_a_child_with_a_skill_switched_off_is_saved_as_a_loadable_spec(loaded_parent: AgentSpec, tmp_path: Path):
    params = {"choices.skill.tone": False}
    proposal = await ChoicesOperator().propose(context(loaded_parent, [], params))
    assert [s.name for s in proposal.spec.skills] == ["refunds"]
    # The run saves candidates with save_spec, which keeps only the skills the spec has
    # in its search space, so the file loads; the run's search space comes from the baseline.
    save_spec(proposal.spec, tmp_path / "child")
    reloaded = load_candidate_spec(tmp_path / "child")
    assert [s.name for s in reloaded.skills] == ["refunds"]
    assert "tone" not in reloaded.optimize.search_space.skills
