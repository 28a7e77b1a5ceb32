"""`agentopt eval` end to end against OpenEnv environments about rewards (tests/fakes/openenv_rewards.py,
built only with OpenEnv's own packages, over loopback) and the scripted model: a per-step penalty
scored by its return (`aggregate: sum`), and an environment that never gives a reward, whose
env_reward criterion is not applicable (n/a), never a 0."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import run_cli, scripted_agent, write
from tests.fakes.openai_server import ScriptedLLM, call
from tests.fakes.openenv_rewards import TASKS, RewardEnv


def eval_cli(tmp_path: Path, llm: ScriptedLLM, url: str, rubric: Path, *extra: str):
    agent = scripted_agent(tmp_path, llm.url, name="walker")  # max_turns 3: just enough to walk 3 cells
    return run_cli("eval", str(agent), "-r", str(rubric), "--env", url, "--split", "val", "--runs-dir", "runs", *extra, cwd=tmp_path)


def newest_run(tmp_path: Path) -> tuple[Path, dict, list[dict]]:
    run = sorted((tmp_path / "runs").iterdir())[-1]
    records = [json.loads(line) for line in (run / "traces.jsonl").read_text().splitlines()]
    return run, json.loads((run / "summary.json").read_text()), records


def test_sum_scores_the_return_of_a_per_step_penalty(tmp_path):
    rubric = write(
        tmp_path / "rubrics" / "walk.yaml",
        """
        name: walk
        criteria:
          - id: return
            description: The episode's return.
            check: {type: env_reward, aggregate: sum}
          - id: last
            description: The final step's reward.
            check: {type: env_reward}
        """,
    )
    with ScriptedLLM(lambda request: call("move", {"direction": "right"})) as llm, RewardEnv("penalty", steps=3) as env:
        result = eval_cli(tmp_path, llm, env.url, rubric)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    _, summary, records = newest_run(tmp_path)
    assert len(records) == TASKS
    for record in records:
        trace, score = record["trace"], record["score"]
        assert trace["rewards"] == pytest.approx([-0.1, -0.1, 1.0])  # every step's reward, in order
        assert trace["reward"] == 1.0
        by_id = {c["id"]: c for c in score["criteria"]}
        assert by_id["return"]["score"] == pytest.approx(0.8)  # -0.1 - 0.1 + 1.0
        assert by_id["return"]["details"] == {"reward": pytest.approx(0.8), "aggregate": "sum", "steps": 3}
        assert by_id["last"]["score"] == 1.0  # what only the last reward said
        assert score["score"] == pytest.approx(0.9)
    criteria = {c["id"]: c for c in summary["summary"]["criteria"]}
    assert criteria["return"]["mean"] == pytest.approx(0.8) and criteria["last"]["mean"] == 1.0
    assert summary["summary"]["n_not_applicable"] == 0


def test_an_environment_without_rewards_makes_env_reward_not_applicable_not_zero(tmp_path):
    mixed = write(
        tmp_path / "rubrics" / "mixed.yaml",
        """
        name: mixed
        pass_threshold: 0.9
        criteria:
          - id: reward
            description: The environment's reward.
            weight: 3
            check: {type: env_reward}
          - id: answered
            description: The agent answered.
            weight: 1
            check: {type: tool_called, tool: answer}
        """,
    )
    only_reward = write(
        tmp_path / "rubrics" / "reward.yaml",
        """
        name: reward
        criteria:
          - id: reward
            description: The environment's reward.
            check: {type: env_reward}
        """,
    )
    with ScriptedLLM(lambda request: call("answer", {"value": "hello"})) as llm, RewardEnv("silent") as env:
        mixed_run = eval_cli(tmp_path, llm, env.url, mixed, "--junit", "mixed.xml")
        _, mixed_summary, mixed_records = newest_run(tmp_path)
        reward_run = eval_cli(tmp_path, llm, env.url, only_reward, "--junit", "reward.xml")
        run, reward_summary, reward_records = newest_run(tmp_path)

    # With another criterion: the reward is left out and the weights renormalised (1.0, not 0.25).
    assert mixed_run.returncode == 0, mixed_run.stdout + mixed_run.stderr
    assert "Traceback" not in mixed_run.stdout + mixed_run.stderr
    s = mixed_summary["summary"]
    assert (s["n"], s["n_errors"], s["n_not_applicable"], s["mean"], s["pass_rate"]) == (TASKS, 0, 0, 1.0, 1.0)
    reward = next(c for c in s["criteria"] if c["id"] == "reward")
    assert (reward["mean"], reward["pass_rate"], reward["n_not_applicable"]) == (None, None, TASKS)
    for record in mixed_records:
        assert record["trace"]["rewards"] == [None] and record["trace"]["reward"] is None
        assert record["score"]["criteria"][0]["score"] is None and record["score"]["score"] == 1.0
    table_row = next(line for line in mixed_run.stdout.splitlines() if line.strip().startswith("│ reward"))
    assert "n/a" in table_row and "0.00" not in table_row
    assert ET.parse(tmp_path / "mixed.xml").getroot().get("failures") == "0"

    # With no other criterion: the episodes are not scored, one line says so, and nothing is a 0.
    assert reward_run.returncode == 0, reward_run.stdout + reward_run.stderr
    assert "Traceback" not in reward_run.stdout + reward_run.stderr
    s = reward_summary["summary"]
    assert (s["n"], s["n_errors"], s["n_not_applicable"], s["mean"]) == (0, 0, TASKS, None)
    assert all(r["score"]["not_applicable"] and r["score"]["error"].startswith("not applicable") for r in reward_records)
    out = " ".join(reward_run.stdout.split())
    assert f"{TASKS} episode(s) not applicable: no weighted criterion applied to them (reward did not apply" in out
    assert "Score n/a" in out and f"{TASKS} not applicable" in out
    report = (run / "report.md").read_text()
    assert "not applicable" in report and "infrastructure error: not applicable" not in report
    suite = ET.parse(tmp_path / "reward.xml").getroot()
    assert (suite.get("skipped"), suite.get("failures"), suite.get("errors")) == (str(TASKS), "0", "0")


def test_repeats_report_the_mean_over_task_means_and_pass_hat_k(tmp_path):
    """--repeat 3 on two tasks: seeds 0, 2, 4 (task 0) and 1, 3, 5 (task 1); a seed that is a
    multiple of 4 gets reward 0. Task 0 passes 1 of 3, task 1 all 3."""
    rubric = write(
        tmp_path / "rubrics" / "coin.yaml",
        """
        name: coin
        criteria:
          - id: reward
            description: The environment's reward.
            check: {type: env_reward}
        """,
    )
    with ScriptedLLM(lambda request: call("answer", {"value": "heads"})) as llm, RewardEnv("coin") as env:
        result = eval_cli(tmp_path, llm, env.url, rubric, "--repeat", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    run, summary, records = newest_run(tmp_path)
    by_id = {r["trace"]["task_id"]: r for r in records}
    assert sorted(by_id) == ["coin-0", "coin-0#r1", "coin-0#r2", "coin-1", "coin-1#r1", "coin-1#r2"]
    assert {(r["trace"]["base_task_id"], r["trace"]["repeat"]) for r in records} == {
        (f"coin-{t}", r) for t in (0, 1) for r in range(3)
    }
    assert [by_id[f"coin-0{s}"]["score"]["score"] for s in ("", "#r1", "#r2")] == [0.0, 1.0, 0.0]
    s = summary["summary"]
    assert (s["n"], s["n_tasks"], s["repeats"], s["k"]) == (6, 2, 3, 3)
    assert s["mean"] == pytest.approx((1 / 3 + 1.0) / 2)  # over task means
    assert (s["ci_low"], s["ci_high"]) == (pytest.approx(1 / 3), 1.0)  # resampling 2 task means, not 6 episodes
    assert s["pass_rate"] == pytest.approx(4 / 6) and s["pass_hat_k"] == 0.5
    tasks = {t["task_id"]: t for t in s["per_task"]}
    assert (tasks["coin-0"]["passes"], tasks["coin-0"]["pass_hat_k"]) == (1, 0.0)
    assert (tasks["coin-1"]["passes"], tasks["coin-1"]["pass_hat_k"]) == (3, 1.0)
    out = " ".join(result.stdout.split())
    assert "Tasks over their repeats" in out and "pass^3 50% (2 tasks, up to 3 repeats each)" in out
    assert "95% CI over 2 task means 0.33-1.00" in out
    assert "| coin-0 | 3 | 3 | 0.33 | 1 | 0% |" in (run / "report.md").read_text()
