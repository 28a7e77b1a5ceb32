"""A one-session server (OpenEnv's create_app default, max_concurrent_envs=1) against
`agentopt eval --concurrency 4`: concurrency is lowered to the server's limit with a
one-line notice, and every episode is played and scored (a refusal is no episode error)."""

from __future__ import annotations

import json

from tests.envs.test_no_task_api import adder, eval_cli, newest_summary
from tests.fakes.openai_server import ScriptedLLM
from tests.fakes.openenv_plain import PlainEnv


def test_a_one_session_server_lowers_concurrency_and_every_episode_scores(tmp_path):
    with ScriptedLLM(adder) as llm, PlainEnv("seeded", task_api=False, max_sessions=None) as env:
        result = eval_cli(tmp_path, llm, env.url, "--concurrency", "4", "--episodes", "6")
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert out.count("concurrency lowered from 4 to 1") == 1, result.stdout
    assert "takes 1 session(s) at once" in out
    run, summary = newest_summary(tmp_path)
    assert summary["summary"]["n"] == 6 and summary["summary"]["n_errors"] == 0 and summary["summary"]["mean"] == 1.0
    records = [json.loads(line) for line in (run / "traces.jsonl").read_text().splitlines()]
    assert len(records) == 6 and all(r["trace"]["error"] is None for r in records)
    # Each episode reset once (plus the two resets of the seed check): none was lost or doubled.
    assert sorted(env.seeds()[2:]) == list(range(1_000_000, 1_000_006))
