"""An environment that crashes mid-episode on some tasks: each such episode is recorded as
an infrastructure error with its cause and the run goes on; once the environment is
fixed, `--resume --retry-errors` plays exactly those episodes again (and a plain
`--resume` none of them)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tests.conftest import run_cli, scripted_agent
from tests.fakes.flaky_env import FlakyDataset
from tests.fakes.openai_server import ScriptedLLM
from tests.optimize.test_run_integration import dataset, quiz_model, rubric

BROKEN = {"q02", "q09", "q13"}  # one train, one val and one test task
RUN_ARGS = ("--max-rollouts", "60", "--minibatch", "4", "--operators", "rules,fewshot", "--runs-dir", "runs")


def episodes(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "episodes.jsonl").read_text().splitlines() if line.strip()]


def key(record: dict) -> tuple:
    return (record["candidate"], record["spec"], record["split"], record["trace"]["task_id"])


def scores(run: Path) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    return {(role, split): (summary[role][split]["mean"], summary[role][split]["n"], summary[role][split]["n_errors"]) for role in ("baseline", "winner") for split in ("val", "test")}


def test_crashed_episodes_are_infra_errors_and_retry_errors_plays_only_them_again(tmp_path):
    data, rules = dataset(tmp_path), rubric(tmp_path)
    with ScriptedLLM(quiz_model) as llm, FlakyDataset(data) as env:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        refused = run_cli("run", str(agent), "-r", str(rules), "--env", env.url, "--retry-errors", *RUN_ARGS, cwd=tmp_path)
        assert refused.returncode == 2 and "--retry-errors goes with --resume" in refused.stderr

        env.broken = set(BROKEN)
        first = run_cli("run", str(agent), "-r", str(rules), "--env", env.url, *RUN_ARGS, cwd=tmp_path, timeout=600)
        assert first.returncode == 0, first.stdout + first.stderr
        run = next((tmp_path / "runs").iterdir())
        played = episodes(run)
        failed = [r for r in played if r["score"]["error"]]
        # Every episode of a broken task, and only those, is an infrastructure error with its
        # cause (q02 crashes only when a minibatch draws it).
        assert {"q09", "q13"} <= {r["trace"]["task_id"] for r in failed} <= BROKEN
        assert all(r["trace"]["task_id"] not in BROKEN for r in played if not r["score"]["error"])
        for record in failed:
            assert record["trace"]["stop_reason"] == "error"
            assert "simulated environment crash on task" in record["trace"]["error"]
        assert len(env.crashes) == len(failed)
        # The run went on: the lowercase rule was found on the tasks that did not crash.
        broken_scores = scores(run)
        assert broken_scores[("baseline", "val")] == (0.5, 3, 1) and broken_scores[("winner", "val")] == (1.0, 3, 1)
        assert broken_scores[("winner", "test")] == (1.0, 3, 1)

        env.broken = set()  # the environment is fixed
        plain = run_cli("run", "--resume", str(run), cwd=tmp_path, timeout=600)
        assert plain.returncode == 0, plain.stdout + plain.stderr
        assert episodes(run) == played  # without the flag, every episode is reused, errors included
        assert scores(run) == broken_scores

        calls = len(llm.requests)
        retried = run_cli("run", "--resume", str(run), "--retry-errors", cwd=tmp_path, timeout=600)
        assert retried.returncode == 0, retried.stdout + retried.stderr
        assert f"retried {len(failed)} episode(s)" in retried.stdout
        # Exactly the failed episodes were played again, once each, and now they are scored.
        again = episodes(run)[len(played):]
        assert Counter(key(r) for r in again) == Counter(key(r) for r in failed)
        assert all(r["score"]["error"] is None for r in again)
        assert len(env.crashes) == len(failed)
        # Each crash came after the episode's one model turn, which the cache answers now.
        assert len(llm.requests) == calls
    fixed = scores(run)
    assert fixed[("baseline", "val")] == (0.5, 4, 0) and fixed[("winner", "val")] == (1.0, 4, 0)
    assert fixed[("baseline", "test")] == (0.5, 4, 0) and fixed[("winner", "test")] == (1.0, 4, 0)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["usage"]["rollouts"] == len(played) + len(failed)  # both plays were paid for
