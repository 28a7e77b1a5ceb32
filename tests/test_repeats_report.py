"""Repeats: a task played R times counts as one task in the summary, the reports and the
optimizer's gate; pass^k per task. Hand-made episode records, as traces.jsonl holds them."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from statistics import fmean

import pytest

from agentopt.optimizer.accept import decide, per_task_means
from agentopt.scoring.aggregate import bootstrap_ci, summarize
from agentopt.scoring.repeats import group_by_task, pass_hat_k
from agentopt.scoring.result import CriterionScore, EpisodeScore
from agentopt.spec.rubric import Criterion, Rubric
from agentopt.store.html_report import render_html_report, render_run_markdown
from agentopt.store.junit import write_junit
from agentopt.store.report import headline, render_report

RUBRIC = Rubric(name="r", criteria=(Criterion("reward", "The reward", 1.0, "env_reward", {}, pass_at=0.5),), pass_threshold=0.5)


def episode(task: str, repeat: int, score: float | None, *, base: bool = True, error: str | None = None) -> EpisodeScore:
    """One repeat of `task`; score None: the reward criterion did not apply (not applicable episode)."""
    task_id = task if repeat == 0 else f"{task}#r{repeat}"
    if score is None:
        criterion = CriterionScore("reward", None, True, "The environment gave no reward.")
        return EpisodeScore(f"{task_id}-e", task_id, 0.0, False, [], (criterion,), "not applicable: no reward", True,
                            task if base else None, repeat)
    criterion = CriterionScore("reward", score, score >= 0.5, "why.")
    return EpisodeScore(f"{task_id}-e", task_id, score, score >= 0.5 and error is None, [], (criterion,), error,
                        base_task_id=task if base else None, repeat=repeat)


# Task a passes 3 of 3, b 1 of 3, c 0 of 3 (one of them an infrastructure error).
REPEATED = [
    episode("a", 0, 1.0), episode("a", 1, 1.0), episode("a", 2, 0.9),
    episode("b", 0, 1.0), episode("b", 1, 0.0), episode("b", 2, 0.0),
    episode("c", 0, 0.0), episode("c", 1, 0.2), episode("c", 2, 0.0, error="env died"),
]


def test_pass_hat_k_is_the_unbiased_estimator():
    assert pass_hat_k(3, 3, 3) == 1.0
    assert pass_hat_k(3, 2, 3) == 0.0
    assert pass_hat_k(4, 3, 2) == pytest.approx(3 / 6)  # C(3,2) / C(4,2)
    assert pass_hat_k(5, 5, 1) == 1.0 and pass_hat_k(5, 2, 1) == pytest.approx(0.4)  # pass^1 is the pass rate
    assert pass_hat_k(2, 2, 3) is None  # fewer samples than k


def test_summary_is_over_task_means_with_pass_hat_k_per_task():
    summary = summarize(REPEATED, RUBRIC)
    task_means = [fmean([1.0, 1.0, 0.9]), fmean([1.0, 0.0, 0.0]), fmean([0.0, 0.2])]
    assert summary.mean == pytest.approx(fmean(task_means))
    assert (summary.ci_low, summary.ci_high) == bootstrap_ci(task_means)  # over 3 task means, not 8 episodes
    assert (summary.ci_low, summary.ci_high) != bootstrap_ci([s.score for s in REPEATED if s.error is None])
    assert (summary.n, summary.n_errors, summary.n_tasks, summary.repeats, summary.k) == (8, 1, 3, 3, 3)
    a, b, c = summary.per_task
    assert (a.task_id, a.repeats, a.n, a.passes, a.pass_hat_k) == ("a", 3, 3, 3, 1.0)
    assert (b.task_id, b.passes, b.pass_hat_k) == ("b", 1, 0.0)
    assert (c.task_id, c.n, c.passes, c.pass_hat_k) == ("c", 2, 0, None)  # 2 scored of k=3: no estimate
    assert summary.pass_hat_k == pytest.approx(0.5)  # over the tasks with an estimate: (1 + 0) / 2
    assert summary.pass_rate == pytest.approx(4 / 8)


def test_played_once_the_summary_is_what_it_was_before_repeats():
    once = [episode(t, 0, s) for t, s in (("a", 1.0), ("b", 0.25), ("c", 0.0), ("d", 0.75))]
    legacy = [episode(t, 0, s, base=False) for t, s in (("a", 1.0), ("b", 0.25), ("c", 0.0), ("d", 0.75))]
    for scores in (once, legacy):
        summary = summarize(scores, RUBRIC)
        values = [s.score for s in scores]
        assert summary.mean == fmean(values)
        assert (summary.ci_low, summary.ci_high) == bootstrap_ci(values)
        assert (summary.repeats, summary.k, summary.pass_hat_k, summary.per_task) == (1, None, None, ())


def test_records_without_a_base_task_are_never_merged_even_with_one_task_id():
    legacy = [EpisodeScore("e1", "t", 1.0, True), EpisodeScore("e2", "t", 0.0, False)]
    assert len(group_by_task(legacy)) == 2
    summary = summarize(legacy, RUBRIC)
    assert summary.repeats == 1 and summary.n_tasks == 2


def test_the_gate_pairs_task_means_over_repeats():
    child = per_task_means(REPEATED)
    assert child == pytest.approx({"a": fmean([1.0, 1.0, 0.9]), "b": 1 / 3, "c": 0.1})
    # A best that is exactly as good per task: no paired gain, however many episodes there are.
    assert not decide(child, dict(child)).accepted
    # Once per task, per_task_means is {task id: score}.
    once = [episode("a", 0, 0.5), episode("b", 0, 1.0)]
    assert per_task_means(once) == {"a": 0.5, "b": 1.0}


def test_a_gain_on_one_task_repeated_many_times_is_one_paired_difference():
    """Ten repeats of the one task that improved must not look like ten independent wins."""
    child = [episode("a", r, 1.0) for r in range(10)] + [episode(t, 0, 0.5) for t in "bcdefghij"]
    best = [episode("a", r, 0.0) for r in range(10)] + [episode(t, 0, 0.5) for t in "bcdefghij"]
    decision = decide(per_task_means(child), per_task_means(best), significance=0.05, rng=random.Random(0))
    assert decision.delta == pytest.approx(0.1)  # (1 - 0) / 10 tasks, not 10/19 episodes
    assert not decision.accepted and decision.p_value is not None and decision.p_value >= 0.05


def summary_record(scores: list[EpisodeScore]) -> dict:
    return {
        "agent": "a", "agent_file": "a.yaml", "model": "m", "rubric": "r", "rubric_file": "r.yaml", "env": "e",
        "split": "val", "summary": summarize(scores, RUBRIC).to_dict(),
        "usage": {"calls": 0, "cached": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}, "wall_s": 1.0,
    }


def records(scores: list[EpisodeScore]) -> list[dict]:
    return [{"trace": {"task_id": s.task_id, "latency_s": 0.1}, "score": s.to_dict()} for s in scores]


def test_report_shows_task_means_and_pass_hat_k():
    summary = summary_record(REPEATED)
    line = headline(summary)
    assert line.startswith("Score 0.47 (95% CI over 3 task means ")
    assert "pass^3 50% (3 tasks, up to 3 repeats each)" in line
    report = render_report(summary, records(REPEATED))
    assert "## Tasks" in report
    assert "| a | 3 | 3 | 0.97 | 3 | 100% |" in report
    assert "| c | 3 | 2 | 0.10 | 0 | n/a |" in report


def test_report_of_a_split_played_once_has_no_tasks_section():
    once = [episode(t, 0, s) for t, s in (("a", 1.0), ("b", 0.0))]
    report = render_report(summary_record(once), records(once))
    assert "## Tasks" not in report and "pass^" not in report and "task means" not in report


def test_not_applicable_in_the_report_and_junit(tmp_path):
    scores = [episode("a", 0, 1.0), episode("b", 0, None), episode("c", 0, 0.0)]
    summary = summary_record(scores)
    report = render_report(summary, records(scores))
    assert "1 not applicable" in headline(summary)
    assert "| criterion | weight | gate | mean score | pass rate | n/a |" in report
    assert "| reward | 1 |  | 0.50 | 50% | 1 |" in report
    assert "- **b**: not applicable: no reward" in report and "infrastructure error: not applicable" not in report
    assert "1 episode(s) not applicable" in report
    suite = ET.parse(write_junit(tmp_path / "j.xml", "s", records(scores))).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("3", "1", "0", "1")
    assert suite.find("./testcase[@name='b']/skipped") is not None


def run_summary(val: dict) -> dict:
    return {
        "agent": "a", "agent_file": "a.yaml", "model": "m", "env": "e", "rubric": "r",
        "baseline": {"id": "c0", "val": val, "test": None}, "winner": {"id": "c1", "val": val, "test": None},
        "usage": {"rollouts": 1}, "candidates": {"proposed": 1}, "budget": {}, "wall_s": 1.0,
    }


def test_run_reports_show_not_applicable_counts_and_pass_hat_k():
    val = summarize(REPEATED + [episode("d", 0, None), episode("d", 1, None), episode("d", 2, None)], RUBRIC).to_dict()
    md = render_run_markdown(run_summary(val), [])
    assert "| reward | 1 |  | 0.51 | 0.51 | +0.00 | 50% (3 n/a) | 50% (3 n/a) |" in md  # 4.1 / 8 applied
    assert "pass^3 50%" in md
    html = render_html_report(run_summary(val), [])
    assert "50% (3 n/a)" in html and "pass^3 50%" in html


def test_decide_averages_repeat_ids_as_the_optimizer_passes_them():
    """loop.py hands decide {episode task_id: score}; with repeats those are `task#rN` ids."""
    from agentopt.envs.tasks import TaskRef
    from agentopt.scoring.repeats import split_repeat_id

    refs = [TaskRef("val", i, {"id": t}, repeat=r) for i, t in enumerate("ab") for r in range(3)]
    assert [split_repeat_id(ref.task_id) for ref in refs] == [(ref.base_task_id, ref.repeat) for ref in refs]
    child = {ref.task_id: s for ref, s in zip(refs, (1.0, 1.0, 1.0, 0.0, 0.0, 0.0))}
    best = {ref.task_id: s for ref, s in zip(refs, (0.0, 0.0, 0.0, 0.0, 0.0, 0.0))}
    decision = decide(child, best, significance=0.05, rng=random.Random(0))
    assert decision.delta == pytest.approx(0.5)
    assert decision.reason.startswith("+0.500 not significant")  # 2 tasks, one better: not 6 samples, 3 better
    assert not decision.accepted
    per_episode = decide({f"e{i}": v for i, v in enumerate(child.values())}, {f"e{i}": v for i, v in enumerate(best.values())},
                         significance=0.05, rng=random.Random(0))
    assert per_episode.p_value < decision.p_value  # what pairing episodes would have claimed


def test_ids_that_only_look_like_repeats_are_left_alone():
    from agentopt.scoring.repeats import mean_over_repeats, split_repeat_id

    assert split_repeat_id("issue#r0") == ("issue#r0", 0) and split_repeat_id("a#r01") == ("a#r01", 0)
    assert mean_over_repeats({"t1": 0.5, "t2": 1.0}) == {"t1": 0.5, "t2": 1.0}
