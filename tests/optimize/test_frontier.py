import random
from collections import Counter

import pytest

from agentopt.optimizer.frontier import pareto_front, select_parent


def test_specialist_on_a_hard_task_survives_despite_lower_mean():
    scores = {
        "c0": {"t1": 0.9, "t2": 0.9, "t3": 0.9, "hard": 0.0},
        "c1": {"t1": 0.2, "t2": 0.2, "t3": 0.2, "hard": 1.0},
    }
    assert pareto_front(scores) == {"c0": 3, "c1": 1}


def test_candidate_best_on_a_subset_of_anothers_tasks_is_dropped():
    scores = {
        "c0": {"t1": 1.0, "t2": 0.5, "t3": 0.0},
        "c1": {"t1": 1.0, "t2": 0.8, "t3": 0.0},  # ties c0 on t1, beats it on t2
        "c2": {"t1": 0.0, "t2": 0.0, "t3": 1.0},
    }
    # c0 is best on {t1}, c1 on {t1, t2}: c0 is dominated. Tied tasks count for both.
    assert pareto_front(scores) == {"c1": 2, "c2": 1}


def test_candidate_best_nowhere_is_not_on_the_front():
    scores = {"c0": {"t1": 1.0, "t2": 1.0}, "c1": {"t1": 0.5, "t2": 0.5}}
    assert pareto_front(scores) == {"c0": 2}


def test_equal_best_sets_keep_higher_mean_then_older():
    # Both best on t1 only; c1 has the higher mean elsewhere.
    by_mean = {"c0": {"t1": 1.0, "t2": 0.1}, "c1": {"t1": 1.0, "t2": 0.4}, "c2": {"t1": 0.0, "t2": 0.9}}
    assert pareto_front(by_mean) == {"c1": 1, "c2": 1}
    # Identical scores: the older (first inserted) wins, whatever the ids say.
    same = {"c9": {"t1": 1.0}, "c2": {"t1": 1.0}}
    assert pareto_front(same) == {"c9": 1}


def test_equal_sets_count_missing_scores_as_zero_in_the_mean():
    # c1 skipped t2; judged on its own scores it would look perfect, but a gap is not a win.
    scores = {"c0": {"t1": 1.0, "t2": 0.2}, "c1": {"t1": 1.0}, "c2": {"t1": 0.0, "t2": 0.9}}
    assert pareto_front(scores) == {"c0": 1, "c2": 1}


def test_missing_score_is_not_best():
    scores = {"c0": {"t1": 0.3, "t2": 0.3}, "c1": {"t1": 0.9}}
    # c1 never ran t2, so c0 is best there (even though 0.3 is low).
    assert pareto_front(scores) == {"c0": 1, "c1": 1}


def test_empty_input_is_an_error():
    with pytest.raises(ValueError):
        pareto_front({})
    with pytest.raises(ValueError):
        pareto_front({"c0": {}})
    with pytest.raises(ValueError):
        select_parent({}, random.Random(0))


def test_selection_frequencies_follow_best_task_counts():
    scores = {
        "c0": {"t1": 1.0, "t2": 1.0, "t3": 1.0, "t4": 0.0},
        "c1": {"t1": 0.0, "t2": 0.0, "t3": 0.0, "t4": 1.0},
        "c2": {"t1": 0.5, "t2": 0.5, "t3": 0.5, "t4": 0.5},  # dominated: never drawn
    }
    rng = random.Random(1)
    draws = Counter(select_parent(scores, rng) for _ in range(8000))
    assert set(draws) == {"c0", "c1"}
    assert draws["c0"] / 8000 == pytest.approx(0.75, abs=0.02)


def test_selection_is_deterministic_with_a_seed():
    scores = {"a": {"t1": 1.0, "t2": 0.0}, "b": {"t1": 0.0, "t2": 1.0}}
    first = [select_parent(scores, random.Random(7)) for _ in range(5)]
    again = [select_parent(scores, random.Random(7)) for _ in range(5)]
    assert first == again
    seq = random.Random(3)
    assert len({select_parent(scores, seq) for _ in range(50)}) == 2
