"""Which examples a prompt shows: the first k, or the k most similar to the task's input."""

from __future__ import annotations

from dataclasses import replace

from agentopt.prompt import system_prompt
from agentopt.retrieval import most_similar, shown_examples
from agentopt.spec.agent import AgentSpec, Example, LoopSettings

POOL = (
    Example("I was charged twice for my order", {"category": "billing"}),
    Example("My parcel never arrived and tracking is stuck", {"category": "shipping"}),
    Example("The app crashes when I open the editor", {"category": "technical"}),
    Example("Please reset my password, I cannot log in", {"category": "account"}),
)


def spec(**loop) -> AgentSpec:
    return AgentSpec(name="a", system_prompt="Triage.", examples=POOL, loop=LoopSettings(**loop))


def test_the_most_similar_input_comes_first():
    inputs = tuple(e.input for e in POOL)
    assert most_similar(inputs, "tracking for my parcel has not moved", 2)[0] == 1
    assert most_similar(inputs, "I was CHARGED twice!!", 1) == [0]
    assert most_similar(inputs, "the editor crashes on start", None)[0] == 2
    # Nothing in common: every score ties and the pool's order is kept.
    assert most_similar(inputs, "zzz qqq", None) == [0, 1, 2, 3]


def test_shown_examples_by_pick_and_count():
    assert shown_examples(spec(), "my parcel is late") == POOL
    assert shown_examples(spec(examples_shown=2), "my parcel is late") == POOL[:2]
    assert shown_examples(spec(example_pick="similar", examples_shown=1), "my parcel is late") == (POOL[1],)
    assert shown_examples(spec(example_pick="similar"), "reset my password")[0] == POOL[3]
    assert shown_examples(spec(examples_shown=0), "anything") == ()
    # Without a task input there is nothing to compare with: the first k.
    assert shown_examples(spec(example_pick="similar", examples_shown=1), None) == POOL[:1]


def test_the_prompt_shows_the_examples_nearest_to_this_task():
    agent = spec(example_pick="similar", examples_shown=1)
    prompt = system_prompt(agent, {}, task_input="The editor crashes all the time")
    assert "The app crashes when I open the editor" in prompt and '{"category": "technical"}' in prompt
    assert "charged twice" not in prompt and "parcel" not in prompt
    assert "charged twice" in system_prompt(replace(agent, loop=LoopSettings()), {}, task_input="The editor crashes")
