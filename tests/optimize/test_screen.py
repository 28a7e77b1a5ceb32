"""A screen that can decide: parent and child on the same train tasks. A difference in score on
any task decides; tied everywhere, the rubric's partial scores (the criteria's weighted mean
before a gate zeroes it) decide; tied there too, the loop widens the screen (see
tests/optimize/test_duplicates.py for the widening over a real run)."""

from __future__ import annotations

from agentopt.episode_record import Episode
from agentopt.optimizer.screen import Screen
from agentopt.scoring.result import CriterionScore, EpisodeScore
from agentopt.spec.rubric import Criterion, Rubric
from agentopt.trace import Trace

RUBRIC = Rubric(
    name="triage",
    criteria=(
        Criterion("category", "The category is right.", 2, "equals", {"target": "answer.category", "value": "x"}),
        Criterion("polite", "The reply thanks the customer.", 1, "regex", {"target": "answer.reply", "pattern": "^Thanks"}),
        Criterion("safe", "No refund promised.", 1, "not_contains", {"target": "answer.reply", "value": "refund"}, gate=True),
    ),
)


def ep(task: str, score: float, category: float = 0.0, polite: float = 0.0, safe: float = 1.0) -> Episode:
    trace = Trace(episode_id=f"e-{task}", task_id=task, split="train", task={}, messages=[])
    criteria = (CriterionScore("category", category, category >= 1, ""), CriterionScore("polite", polite, polite >= 1, ""),
                CriterionScore("safe", safe, safe >= 1, ""))
    return Episode(trace, EpisodeScore(f"e-{task}", task, score, score >= 0.7, criteria=criteria))


def test_a_difference_in_score_decides():
    screen = Screen([ep("a", 0.0), ep("b", 1.0)], [ep("a", 1.0), ep("b", 1.0)], RUBRIC)
    assert screen.how == "score" and screen.gain == 0.5
    assert "decided_by" not in screen.info()


def test_tied_at_zero_by_a_gate_the_partial_scores_decide():
    # Both fail the gate on every task (score 0); the child gets the category right where the parent did not.
    parent = [ep("a", 0.0, category=0, polite=1, safe=0), ep("b", 0.0, category=0, polite=0, safe=0)]
    child = [ep("a", 0.0, category=1, polite=1, safe=0), ep("b", 0.0, category=1, polite=0, safe=0)]
    screen = Screen(parent, child, RUBRIC)
    assert screen.how == "partial" and screen.gain == 0.5  # +2/4 on each task
    assert screen.info()["decided_by"] == "partial" and "partial scores +0.500" in screen.describe()
    worse = Screen(child, parent, RUBRIC)
    assert worse.how == "partial" and worse.gain == -0.5


def test_tied_everywhere_nothing_decides_until_the_screen_widens():
    same = [ep("a", 1.0, 1, 1), ep("b", 1.0, 1, 1)]
    screen = Screen(same, list(same), RUBRIC)
    assert screen.how == "tied" and screen.gain == 0.0 and "tied on every task" in screen.describe()
    wider = screen.wider([ep("c", 0.0)], [ep("c", 1.0)])
    assert wider.how == "score" and wider.widened == 1 and abs(wider.gain - 1 / 3) < 1e-9
    assert wider.info()["n"] == 3 and wider.info()["widened"] == 1


def test_only_a_tie_at_all_0_or_all_1_is_uninformative():
    zeros = [ep("a", 0.0), ep("b", 0.0)]
    assert Screen(zeros, list(zeros), RUBRIC).uninformative
    ones = [ep("a", 1.0, 1, 1), ep("b", 1.0, 1, 1)]
    assert Screen(ones, list(ones), RUBRIC).uninformative
    mixed = [ep("a", 1.0, 1, 1), ep("b", 0.0)]
    assert not Screen(mixed, list(mixed), RUBRIC).uninformative  # the child does what its parent does: screened out
