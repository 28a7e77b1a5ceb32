"""Corrected demonstrations: failed train answers fixed where the rubric states the right value."""

from __future__ import annotations

import json

from agentopt.episode_record import Episode
from agentopt.optimizer.repair import corrected, fixable_fields
from agentopt.scoring.aggregate import score_trace
from agentopt.scoring.base import CheckContext
from agentopt.spec.rubric import Criterion, Rubric
from agentopt.trace import Trace

EXPECTED = {"category": "billing", "priority": "high"}
RUBRIC = Rubric(
    name="triage",
    criteria=(
        Criterion("category", "Right team.", 2, "equals", {"target": "answer.category", "value": "{{ expected.category }}"}),
        Criterion("priority", "Right urgency.", 2, "equals", {"target": "answer.priority", "value": "{{ expected.priority }}"}),
        Criterion("polite", "Thanks the customer.", 1, "regex", {"target": "answer.reply", "pattern": "(?i)thank"}),
        Criterion("no_promise", "No refund promise.", 1, "not_contains",
                  {"target": "answer.reply", "value": ["we will refund"]}, gate=True),
    ),
)


async def scored(answer: dict | str | None, task: dict | None = None) -> Episode:
    final = answer if isinstance(answer, str) or answer is None else json.dumps(answer)
    trace = Trace(episode_id="e1", task_id="t1", split="train", task=task or {"expected": EXPECTED},
                  messages=[{"role": "user", "content": "I was charged twice"}], final_answer=final)
    return Episode(trace, await score_trace(trace, RUBRIC, CheckContext()))


async def test_wrong_fields_are_set_to_the_expected_values_and_the_result_passes():
    episode = await scored({"category": "shipping", "priority": "low", "reply": "Thanks, we are on it."})
    assert not episode.score.passed
    assert fixable_fields(episode, RUBRIC) == {"category": "billing", "priority": "high"}

    fixed = await corrected(episode, RUBRIC)
    assert fixed is not None and fixed.score.passed and fixed.score.score == 1.0
    assert fixed.trace.answer_json() == {"category": "billing", "priority": "high", "reply": "Thanks, we are on it."}
    assert episode.trace.answer_json()["category"] == "shipping"  # the original is left as it was


async def test_a_failure_the_rubric_gives_no_value_for_is_not_corrected():
    # The gate fails (a refund promise): no expected value can fix the reply, so nothing passes.
    promise = await scored({"category": "shipping", "priority": "high", "reply": "Thanks, we will refund you."})
    assert await corrected(promise, RUBRIC) is None
    # Wrong category and an impolite reply: fixing the category alone still passes (5/6 >= 0.7).
    rude = await scored({"category": "shipping", "priority": "high", "reply": "Noted."})
    fixed = await corrected(rude, RUBRIC)
    assert fixed is not None and round(fixed.score.score, 3) == round(5 / 6, 3)


async def test_answers_of_the_wrong_shape_and_judged_rubrics_are_left_alone():
    assert await corrected(await scored("billing, high"), RUBRIC) is None  # not a JSON object
    assert await corrected(await scored({"reply": "Thanks"}), RUBRIC) is None  # fields missing
    judged = Rubric("r", RUBRIC.criteria + (Criterion("tone", "Kind.", 1, "llm_judge", {"prompt": "Is it kind?"}),))
    wrong = await scored({"category": "shipping", "priority": "high", "reply": "Thanks"})
    assert await corrected(wrong, judged) is None
    passed = await scored({"category": "billing", "priority": "high", "reply": "Thanks"})
    assert await corrected(passed, RUBRIC) is None  # nothing to fix
