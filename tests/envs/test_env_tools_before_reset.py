"""An environment whose step reads the task, so it answers `list_tools` only once an episode
has begun: agentopt still lists its tools outside an episode (to check the spec's tool
descriptions), by resetting first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentopt.envs.builtin.common import make_app
from agentopt.envs.builtin.dataset.server import DatasetEnvironment, load_dataset, load_schema
from tests.conftest import run_cli, scripted_agent
from tests.fakes.openai_server import ScriptedLLM, call
from tests.fakes.threaded_server import ThreadedServer
from tests.optimize.test_run_integration import dataset, rubric


def strict_app(path: Path) -> Any:
    tasks, schema = load_dataset(path), load_schema(path)

    class Strict(DatasetEnvironment):
        async def step_async(self, action: Any, timeout_s: float | None = None, **kwargs: Any) -> Any:
            self.task  # noqa: B018 - raises "call reset before using a tool" before a reset
            return await super().step_async(action, timeout_s=timeout_s, **kwargs)

    return make_app(lambda: Strict(tasks, schema), "dataset")


def test_tools_are_listed_after_a_reset_when_the_environment_needs_one(tmp_path):
    server = ThreadedServer("strict environment", ws_ping_interval=None)
    server.start(strict_app(dataset(tmp_path)))
    try:
        with ScriptedLLM(lambda _req: call("submit", {"answer": "Paris"})) as llm:
            agent = scripted_agent(tmp_path, llm.url, extra="tools:\n  submit: {description: Give the final answer.}\n")
            result = run_cli(
                "eval", str(agent), "-r", str(rubric(tmp_path)), "--env", f"http://127.0.0.1:{server.port}",
                "--split", "val", "--runs-dir", "runs", cwd=tmp_path,
            )
            missing = scripted_agent(tmp_path, llm.url, extra="tools:\n  lookup: {description: Not there.}\n", name="bad")
            refused = run_cli(
                "eval", str(missing), "-r", str(rubric(tmp_path)), "--env", f"http://127.0.0.1:{server.port}",
                "--split", "val", "--runs-dir", "runs", cwd=tmp_path,
            )
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 episodes scored" in result.stdout
    assert refused.returncode == 2 and "the environment has no tool 'lookup' (it has: submit)" in refused.stderr
