"""Corrected demonstrations: a failed train answer, fixed where the rubric says what was expected.

An `equals` criterion on `answer.KEY` states the right value for this task (e.g.
`{{ expected.category }}`). When such criteria are the reason a train episode failed, setting
those fields to the expected values gives the answer the rubric wanted; if the corrected answer
passes the whole rubric, it is a worked example of the task done right, built only from train
data. This is what a reflective mutator does when it reads "answer.category was 'technical',
expected 'billing'", without needing a capable model to do it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from agentopt.episode_record import Episode
from agentopt.scoring.aggregate import score_trace
from agentopt.scoring.base import CheckContext
from agentopt.scoring.templating import TemplateRenderError, render
from agentopt.spec.rubric import Rubric


def fixable_fields(episode: Episode, rubric: Rubric) -> dict[str, Any]:
    """{KEY: expected value} for each failed `equals` criterion whose target is `answer.KEY`."""
    failed = {c.id for c in episode.score.criteria if not c.passed}
    fixes: dict[str, Any] = {}
    for criterion in rubric.criteria:
        target = criterion.params.get("target", "")
        if criterion.id in failed and criterion.check == "equals" and target.count(".") == 1 and target.startswith("answer."):
            try:
                fixes[target.split(".", 1)[1]] = render(criterion.params["value"], episode.trace)
            except TemplateRenderError:
                return {}
    return fixes


async def corrected(episode: Episode, rubric: Rubric) -> Episode | None:
    """The episode with its answer corrected and re-scored, or None unless that passes the rubric.

    Rubrics with an `llm_judge` criterion are left alone: re-scoring would cost judge calls."""
    if episode.score.error is not None or any(c.check == "llm_judge" for c in rubric.criteria):
        return None
    answer = episode.trace.answer_json()
    fixes = fixable_fields(episode, rubric)
    if not isinstance(answer, dict) or not fixes:
        return None
    if any(key not in answer for key in fixes):
        return None  # a missing field: the answer's shape is wrong, not just its values
    trace = replace(episode.trace, final_answer=json.dumps({**answer, **fixes}, ensure_ascii=False))
    score = await score_trace(trace, rubric, CheckContext())
    return Episode(trace, score) if score.error is None and score.passed else None
