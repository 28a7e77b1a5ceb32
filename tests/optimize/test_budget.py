import pytest

from agentopt.optimizer.budget import MIN_CANDIDATES, Budget, BudgetTracker, Plan, too_small


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_no_limits_never_exhausts():
    t = BudgetTracker(Budget())
    t.spend(10_000, 99.0)
    t.add_candidate()
    assert t.exhausted() is None
    assert t.can_afford(10**9)


def test_rollout_limit_and_can_afford():
    t = BudgetTracker(Budget(max_rollouts=300))
    t.spend(250, 0.0)
    assert t.exhausted() is None
    assert t.can_afford(50)
    assert not t.can_afford(51)
    t.spend(50, 0.0)
    assert t.exhausted() == "rollout budget spent (300/300)"
    assert not t.can_afford(1)
    assert t.can_afford(0)


def test_cost_limit():
    t = BudgetTracker(Budget(max_cost=1.0))
    t.spend(3, 0.99)
    assert t.exhausted() is None
    t.spend(1, 0.03)
    assert t.exhausted() == "cost budget spent ($1.02/$1.00)"
    assert t.rollouts == 4 and t.cost == pytest.approx(1.02)


def test_time_limit_uses_the_clock():
    clock = FakeClock()
    t = BudgetTracker(Budget(max_time_s=60), clock=clock)
    clock.now += 59.5
    assert t.elapsed_s == pytest.approx(59.5)
    assert t.exhausted() is None
    clock.now += 0.5
    assert t.exhausted().startswith("time budget spent")


def test_candidate_limit():
    t = BudgetTracker(Budget(max_candidates=2))
    t.add_candidate()
    assert t.exhausted() is None
    t.add_candidate()
    assert t.candidates == 2
    assert t.exhausted() == "candidate budget spent (2/2)"


def test_resume_counts_what_earlier_sessions_spent():
    clock = FakeClock()
    budget = Budget(max_rollouts=100, max_cost=5.0, max_time_s=600, max_candidates=10)
    t = BudgetTracker(budget, clock=clock, rollouts=90, cost=4.0, candidates=9, elapsed_s=500.0)
    assert (t.rollouts, t.cost, t.candidates, t.elapsed_s) == (90, 4.0, 9, 500.0)
    assert t.can_afford(10) and not t.can_afford(11)
    clock.now += 100
    assert t.exhausted().startswith("time budget spent")


def test_stop_file_wins_over_everything(tmp_path):
    stop = tmp_path / "STOP"
    t = BudgetTracker(Budget(max_rollouts=1), stop_file=stop)
    assert t.exhausted() is None
    t.spend(1, 0.0)
    assert t.exhausted().startswith("rollout budget")
    stop.write_text("")
    assert t.exhausted().startswith("STOP file found")


def test_negative_spend_is_refused():
    t = BudgetTracker(Budget())
    with pytest.raises(ValueError):
        t.spend(-1, 0.0)


def test_too_small():
    assert too_small(Budget(), 60, 70) is None
    assert too_small(Budget(max_rollouts=130), 60, 70) is None
    warning = too_small(Budget(max_rollouts=129), 60, 70)
    assert warning is not None
    assert "max_rollouts=129" in warning and "at least 130" in warning


def test_plan_counts_baseline_candidates_and_final_test_and_refuses_a_thin_budget():
    # The first command: 160 test tasks played twice do not fit in 200 rollouts.
    plan = Plan.make(200, train=120, val=40, test=160, minibatch=8)
    assert plan.final_test == 320 and plan.candidates == 0
    assert "lower --test-episodes" in plan.refusal()
    # With 10 test tasks, 40 val tasks per candidate are what weighs most.
    plan = Plan.make(200, train=120, val=40, test=10, minibatch=8)
    assert plan.baseline == 40  # the baseline plays val up front, train only where a screen needs it
    assert plan.candidates == 2 and "lower --val-episodes" in plan.refusal()
    fixed = Plan.make(int(plan.refusal().rsplit(" ", 1)[1]), train=120, val=40, test=10, minibatch=8)
    assert fixed.candidates == MIN_CANDIDATES and fixed.refusal() is None
    # The demo: the baseline on val only, 6 candidates that reach val or 25 screened out.
    demo = Plan.make(250, train=46, val=15, test=15, minibatch=8)
    assert (demo.baseline, demo.per_candidate, demo.final_test, demo.candidates, demo.candidates_screened) == (15, 31, 30, 6, 25)
    assert demo.widen == 8  # a tied screen may add one more minibatch
    assert Plan.from_dict(demo.to_dict()) == demo
    # No rollout limit: nothing to refuse.
    free = Plan.make(None, train=46, val=15, test=15, minibatch=8)
    assert free.baseline == 15 and free.candidates is None and free.refusal() is None
    # A small train split caps the widening.
    assert Plan.make(100, train=10, val=4, test=6, minibatch=6).widen == 4
