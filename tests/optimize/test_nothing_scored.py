"""`agentopt run` when no val episode of the baseline can be scored (the model provider fails
every request, so every episode is an infrastructure error): one line and exit 3, not a
traceback from choosing a parent among no scores."""

from __future__ import annotations

from tests.conftest import run_cli, scripted_agent, write
from tests.fakes.openai_server import ScriptedLLM, error
from tests.fakes.openenv_plain import PlainEnv


def test_a_run_whose_baseline_scores_no_val_episode_stops_in_one_line(tmp_path):
    rubric = write(tmp_path / "rubrics" / "r.yaml", """
        name: r
        criteria:
          - {id: right, description: The environment's reward., check: {type: env_reward}}
        """)
    with ScriptedLLM(lambda request: error(400)) as llm, PlainEnv("seeded", task_api=False) as env:
        agent = scripted_agent(tmp_path, llm.url, name="plain")
        result = run_cli("run", str(agent), "-r", str(rubric), "--env", env.url, "--runs-dir", "runs", "--max-rollouts", "60",
                         "--val-episodes", "3", "--test-episodes", "2", "--minibatch", "2", "--operators", "fewshot",
                         cwd=tmp_path, timeout=600)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = [text for text in result.stderr.splitlines() if text.startswith("error:")]
    assert "none of the baseline's 3 val episodes could be scored" in line and "400" in line, line
