"""What a person reads after a run: best_skill.md and diff.md."""

from __future__ import annotations

from agentopt.optimizer.artifacts import best_skill, spec_diff
from agentopt.spec.agent import AgentSpec, Example, LoopSettings

BASE = AgentSpec(name="triage", system_prompt="Triage the ticket.\n")
POOL = (Example("Charged twice", {"category": "billing"}), Example("Parcel lost", {"category": "shipping"}))
WINNER = AgentSpec(name="triage", system_prompt="Triage the ticket.\n", examples=POOL,
                   loop=LoopSettings(example_pick="similar", examples_shown=1))


def test_best_skill_says_the_examples_are_a_pool_to_pick_the_most_similar_from():
    text = best_skill(WINNER, "c0 -> c1: val 0.45 -> 0.68")
    assert text.startswith("---\nname: triage-optimized\n")
    assert "## Instructions\n\nTriage the ticket." in text
    assert ("## Examples\n\nShow the example whose input is most like the task at hand "
            "(`loop.example_pick: similar`).\n\n- Input: Charged twice\n  Answer: {\"category\": \"billing\"}") in text


def test_diff_lists_the_new_examples_and_the_loop_change():
    diff = spec_diff(BASE, WINNER)
    assert "## Examples (0 -> 2)\n\nShow the example whose input is most like the task at hand" in diff
    assert "- Parcel lost -> {\"category\": \"shipping\"}" in diff
    # Only the loop settings that changed, as YAML lines of the spec (not a repr of the whole object).
    assert "```diff\n loop:\n-  example_pick: first\n+  example_pick: similar\n-  examples_shown: null\n+  examples_shown: 1\n```" in diff
    from agentopt.spec.agent import ModelParams

    hotter = AgentSpec(name="triage", model="openai/x", params=ModelParams(temperature=0.48))
    settings = spec_diff(BASE, hotter)
    assert "-model: local\n+model: openai/x\n model_params:\n-  temperature: 0.0\n+  temperature: 0.48\n```" in settings
    assert "ModelParams(" not in settings and "max_tokens" not in settings
    assert spec_diff(BASE, BASE) == "The winner is the baseline: no candidate beat it on val.\n"
    fixed = AgentSpec(name="triage", examples=POOL, loop=LoopSettings(examples_shown=1))
    assert "Show the first 1.\n\n- Charged twice" in spec_diff(AgentSpec(name="triage"), fixed)
