import random

import pytest

from agentopt.optimizer.accept import bootstrap_p_value, decide


def test_better_child_is_accepted_with_a_readable_reason():
    d = decide({"t1": 0.7, "t2": 0.5}, {"t1": 0.6, "t2": 0.5}, min_delta=0.01)
    assert d.accepted
    assert d.delta == pytest.approx(0.05)
    assert d.reason == "val 0.600 vs best 0.550 (+0.050 >= min_delta 0.010)"
    assert d.p_value is None


def test_equal_is_rejected():
    d = decide({"t1": 0.5, "t2": 0.7}, {"t1": 0.7, "t2": 0.5}, min_delta=0.0)
    assert not d.accepted
    assert d.delta == pytest.approx(0.0)
    assert d.reason.startswith("not better: val 0.600 vs best 0.600")


def test_worse_is_rejected():
    d = decide({"t1": 0.58}, {"t1": 0.588})
    assert not d.accepted
    assert d.reason == "not better: val 0.580 vs best 0.588 (-0.008)"


def test_min_delta_boundary():
    best = {"t1": 0.5, "t2": 0.5}
    assert decide({"t1": 1.0, "t2": 0.5}, best, min_delta=0.25).accepted  # delta == min_delta exactly
    below = decide({"t1": 0.59, "t2": 0.5}, best, min_delta=0.05)
    assert not below.accepted
    assert below.reason == "too small: val 0.545 vs best 0.500 (+0.045 < min_delta 0.050)"


def test_min_delta_tolerates_float_noise():
    d = decide({"t1": 0.3}, {"t1": 0.2}, min_delta=0.1)
    assert d.delta < 0.1  # 0.09999999999999998
    assert d.accepted


def test_only_shared_tasks_are_compared():
    # The child never ran t3, where best scored 0; comparing unpaired means would favour the child.
    child = {"t1": 0.5, "t2": 0.5}
    best = {"t1": 0.6, "t2": 0.6, "t3": 0.0}
    d = decide(child, best)
    assert not d.accepted
    assert d.delta == pytest.approx(-0.1)


def test_nothing_shared_is_rejected():
    d = decide({"t1": 1.0}, {"t2": 0.0})
    assert not d.accepted
    assert "no val task" in d.reason


def test_clear_win_is_significant():
    best = {f"t{i}": 0.4 for i in range(30)}
    child = {f"t{i}": 0.6 + 0.01 * (i % 3) for i in range(30)}
    d = decide(child, best, significance=0.05, rng=random.Random(0))
    assert d.accepted
    assert d.p_value == 0.0
    assert "p=0.000 < 0.05" in d.reason


def test_noisy_win_is_not_significant():
    # Mean gain +0.020, but one task carries it and the rest are noise.
    diffs = [0.5, -0.2, 0.1, -0.1, -0.15, 0.0, 0.11, -0.1]
    best = {f"t{i}": 0.5 for i in range(len(diffs))}
    child = {f"t{i}": 0.5 + d for i, d in enumerate(diffs)}
    d = decide(child, best, significance=0.05, rng=random.Random(0))
    assert not d.accepted
    assert d.delta > 0
    assert 0.05 <= d.p_value < 1
    assert d.reason.startswith("+0.020 not significant (p=")


def test_bootstrap_is_deterministic_with_a_seed():
    diffs = [0.3, -0.2, 0.1, 0.0, -0.1, 0.2]
    assert bootstrap_p_value(diffs, random.Random(5)) == bootstrap_p_value(diffs, random.Random(5))
    child = {f"t{i}": 0.5 + d for i, d in enumerate(diffs)}
    best = {f"t{i}": 0.5 for i in range(len(diffs))}
    assert decide(child, best, significance=0.05) == decide(child, best, significance=0.05)


def test_bootstrap_p_value_counts_resamples_with_mean_at_most_zero():
    assert bootstrap_p_value([0.1, 0.2], random.Random(0)) == 0.0
    assert bootstrap_p_value([-0.1, 0.0], random.Random(0)) == 1.0
    p = bootstrap_p_value([1.0, -1.0], random.Random(0), resamples=4000)
    assert p == pytest.approx(0.75, abs=0.03)  # means: +1 (1/4), 0 (1/2), -1 (1/4)
