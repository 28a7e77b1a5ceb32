"""Servers without OpenEnv's Task API (openenv-core 0.3, or an app without /list_environments),
and servers whose reset ignores the seed, driven through `agentopt eval` and `agentopt run`
as real CLI processes. The servers are OpenEnv's own (tests/fakes/openenv_plain.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import run_cli, scripted_agent, write
from tests.fakes.openai_server import Reply, ScriptedLLM, call, last_user_text
from tests.fakes.openenv_plain import PlainEnv


def adder(request: dict) -> Reply:
    """Answers 'What is N plus one?' right, through the `answer` tool."""
    n = int(re.search(r"What is (\d+) plus one", last_user_text(request)).group(1))
    return call("answer", {"value": str(n + 1)})


def rubric(tmp_path: Path) -> Path:
    return write(
        tmp_path / "rubrics" / "plain.yaml",
        """
        name: plain
        criteria:
          - id: right
            description: The environment's reward.
            check: {type: env_reward}
        """,
    )


def eval_cli(tmp_path: Path, llm: ScriptedLLM, url: str, *extra: str):
    agent = scripted_agent(tmp_path, llm.url, name="plain")
    return run_cli("eval", str(agent), "-r", str(rubric(tmp_path)), "--env", url, "--runs-dir", "runs", *extra, cwd=tmp_path)


def newest_summary(tmp_path: Path) -> tuple[Path, dict]:
    run = sorted((tmp_path / "runs").iterdir())[-1]
    return run, json.loads((run / "summary.json").read_text())


def test_a_server_without_the_task_api_plays_seeded_episodes_with_disjoint_seeds_per_split(tmp_path):
    with ScriptedLLM(adder) as llm, PlainEnv("seeded", task_api=False) as env:
        val = eval_cli(tmp_path, llm, env.url, "--split", "val")  # no --episodes: says how many
        after_val = len(env.resets)
        test = eval_cli(tmp_path, llm, env.url, "--split", "test", "--episodes", "3")
        _, test_summary = newest_summary(tmp_path)
        train = eval_cli(tmp_path, llm, env.url, "--split", "train", "--episodes", "3")
    for result in (val, test, train):
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stderr + result.stdout
    assert "no Task API: playing 10 seeded episode(s) of split val (seeds 1000000-1000009)" in " ".join(val.stdout.split())
    assert "playing" not in test.stdout  # --episodes given: nothing to announce
    # The environment saw each split's episodes with seeds from that split's own range
    # (the first two resets of each evaluation are the seed check, with a train seed).
    episode_seeds = {
        "val": env.seeds()[2:after_val],
        "test": env.seeds()[after_val + 2:after_val + 5],
        "train": env.seeds()[after_val + 7:],
    }
    assert sorted(episode_seeds["val"]) == list(range(1_000_000, 1_000_010))
    assert sorted(episode_seeds["test"]) == [2_000_000, 2_000_001, 2_000_002]
    assert sorted(episode_seeds["train"]) == [0, 1, 2]
    assert env.seeds()[:2] == [0, 0]
    # Every episode was scored (the agent saw the seeded question), and the run says how
    # its tasks were chosen.
    assert test_summary["summary"]["n"] == 3 and test_summary["summary"]["n_errors"] == 0
    assert test_summary["summary"]["mean"] == 1.0
    tasks = test_summary["tasks"]
    assert tasks["source"] == "seeds" and tasks["seeds_honoured"] is True
    assert tasks["seed_ranges"] == {"train": [0, 999_999], "val": [1_000_000, 1_999_999], "test": [2_000_000, 2_999_999]}
    assert tasks["seeds"] == {"test": [2_000_000, 2_000_002]}


def test_a_server_that_ignores_seeds_is_warned_about_in_the_terminal_summary_and_report(tmp_path):
    with ScriptedLLM(adder) as llm, PlainEnv("random") as env:  # Task API routes, but no tasks: 501
        result = eval_cli(tmp_path, llm, env.url, "--episodes", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert out.count("warning: the environment ignores the reset seed") == 1, result.stdout
    assert "held-out (val/test) results are unreliable" in out
    run, summary = newest_summary(tmp_path)
    assert summary["tasks"]["seeds_honoured"] is False
    assert summary["summary"]["n"] == 2 and summary["summary"]["mean"] == 1.0
    assert "Warning: the environment ignores the reset seed" in (run / "report.md").read_text()


def test_an_unknown_split_is_one_line_and_exit_2_with_and_without_the_task_api(tmp_path, qa_dataset, qa_rubric):
    with ScriptedLLM(adder) as llm, PlainEnv("seeded", task_api=False) as env:
        seeded = eval_cli(tmp_path, llm, env.url, "--split", "nonsense")
        assert env.resets == []  # refused before any episode
    assert seeded.returncode == 2, seeded.stdout + seeded.stderr
    assert seeded.stderr.strip().splitlines() == [
        "error: --split 'nonsense': an environment without the Task API (seeded episodes) has no such split; it has: train, val, test"
    ]
    with ScriptedLLM(adder) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        api = run_cli("eval", str(agent), "-r", str(qa_rubric), "--env", f"dataset:{qa_dataset}", "--split", "tset", "--runs-dir", "runs", cwd=tmp_path)
    assert api.returncode == 2, api.stdout + api.stderr
    lines = api.stderr.strip().splitlines()
    assert len(lines) == 1 and "--split 'tset'" in lines[0] and "qa.jsonl has no such split; it has: train, val, test" in lines[0], lines


def test_run_on_a_server_without_the_task_api_holds_out_val_and_test_by_seed(tmp_path):
    with ScriptedLLM(adder) as llm, PlainEnv("seeded", task_api=False) as env:
        agent = scripted_agent(tmp_path, llm.url, name="plain")
        result = run_cli(
            "run", str(agent), "-r", str(rubric(tmp_path)), "--env", env.url, "--runs-dir", "runs",
            "--max-rollouts", "29", "--val-episodes", "2", "--test-episodes", "2", "--minibatch", "2", "--operators", "fewshot",
            cwd=tmp_path, timeout=600,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    run, summary = newest_summary(tmp_path)
    assert summary["tasks"]["source"] == "seeds" and summary["tasks"]["seeds_honoured"] is True
    seeds = summary["tasks"]["seeds"]
    assert seeds["val"] == [1_000_000, 1_000_001] and seeds["test"] == [2_000_000, 2_000_001] and seeds["train"] == [0, 9]
    played = [s for s in env.seeds() if s is not None]
    by_split = {name: {s for s in played if lo <= s < lo + 1_000_000} for name, lo in (("train", 0), ("val", 1_000_000), ("test", 2_000_000))}
    assert by_split["val"] and by_split["test"] and by_split["train"]
    assert not (by_split["train"] & by_split["val"]) and not (by_split["val"] & by_split["test"])
    splits = json.loads((run / "splits.json").read_text())
    assert splits["val"] == ["val-0", "val-1"] and splits["test"] == ["test-0", "test-1"]
