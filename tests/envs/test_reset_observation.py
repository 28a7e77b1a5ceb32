"""The agent sees the task: an MCP environment built with OpenEnv's MCPEnvironment and
fastmcp that puts its question in the reset observation's `metadata`, and a typed grid
world with the task in its own fields, driven end to end through `agentopt eval`.
Every field of the reset observation is a system prompt variable; the first user message
shows the observation readably; `loop.observation_template` chooses what the agent reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli, scripted_agent, write
from tests.fakes.openai_server import Reply, ScriptedLLM, call, system_text
from tests.fakes.openenv_native import QUESTIONS, grid_app, quiz_app
from tests.fakes.threaded_server import ThreadedServer

ANSWERS = dict(QUESTIONS)


@pytest.fixture(scope="module")
def quiz_url():
    server = ThreadedServer("quiz")
    server.start(quiz_app)
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture(scope="module")
def grid_url():
    server = ThreadedServer("grid world")
    server.start(grid_app)
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


def rubric(tmp_path: Path) -> Path:
    return write(
        tmp_path / "rubrics" / "r.yaml",
        """
        name: r
        pass_threshold: 0.5
        criteria:
          - id: right
            description: The environment's reward.
            check: {type: env_reward}
        """,
    )


def first_user(request: dict) -> str:
    return next(m["content"] for m in request["messages"] if m["role"] == "user")


def eval_args(agent: Path, tmp_path: Path, url: str, episodes: int = 3) -> list[str]:
    return ["eval", str(agent), "--rubric", str(rubric(tmp_path)), "--env", url, "--episodes", str(episodes), "--runs-dir", "runs"]


def summary(tmp_path: Path) -> dict:
    (run,) = sorted((tmp_path / "runs").iterdir())
    return json.loads((run / "summary.json").read_text())["summary"]


def answer_from(text: str) -> Reply:
    """The right answer to the question found in `text`; a wrong one when none is."""
    question = next((q for q in ANSWERS if q in text), None)
    return call("answer", {"value": ANSWERS[question] if question else "no idea"})


def test_task_in_reset_metadata_reaches_the_agent_and_the_system_prompt(tmp_path, quiz_url):
    with ScriptedLLM(lambda request: answer_from(first_user(request))) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        agent.write_text(agent.read_text().replace(
            "system_prompt: Answer the question with a word.",
            "system_prompt: 'Answer questions on {{ metadata.topic }}. This one: {{ metadata.question }}'"))
        result = run_cli(*eval_args(agent, tmp_path, quiz_url), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(llm.requests) == 3
    for request in llm.requests:
        message = first_user(request)
        question = next(q for q in ANSWERS if q in message)
        assert message == f"metadata:\n  question: {question}\n  topic: general knowledge"
        assert system_text(request).startswith(f"Answer questions on general knowledge. This one: {question}")
    assert summary(tmp_path)["mean"] == 1.0  # every answer right: the agent saw every question


def test_observation_template_chooses_what_the_agent_reads_at_reset_and_after_each_step(tmp_path, grid_url):
    def walker(request: dict) -> Reply:
        text = str(request["messages"][-1]["content"])
        goal = json.loads(re.search(r"go to (\[[^\]]*\])", first_user(request)).group(1))
        position = json.loads(re.search(r"at (\[[^\]]*\])", text).group(1))
        return call("grid_action", {"direction": "right" if position[1] < goal[1] else "down"})

    with ScriptedLLM(walker) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        agent.write_text(agent.read_text().replace("max_turns: 3", "max_turns: 6\n  observation_template: "
                                                   "'You are at {{ position }}{% if goal %}; go to {{ goal }}{% endif %}."
                                                   "{% if last_move %} ({{ last_move }}){% endif %}'"))
        result = run_cli(*eval_args(agent, tmp_path, grid_url), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    firsts = {first_user(r) for r in llm.requests}
    assert firsts <= {"You are at [0, 0]; go to [0, 2].", "You are at [0, 0]; go to [2, 0].", "You are at [0, 0]; go to [1, 1]."}
    steps = [r["messages"][-1]["content"] for r in llm.requests if r["messages"][-1]["role"] == "tool"]
    assert steps and all(re.fullmatch(r"You are at \[\d, \d\]; go to \[\d, \d\]\. \(moved (right|down)\)", s) for s in steps)
    assert summary(tmp_path)["mean"] == 1.0  # the walker read where it was from the template and always arrived


def test_observation_template_naming_a_missing_field_is_one_line_exit_2(tmp_path, quiz_url):
    with ScriptedLLM(lambda request: answer_from(first_user(request))) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        agent.write_text(agent.read_text().replace("max_turns: 3", "max_turns: 3\n  observation_template: '{{ question }}'"))
        result = run_cli(*eval_args(agent, tmp_path, quiz_url, episodes=1), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [text for text in result.stderr.splitlines() if "observation_template" in text]
    assert "loop.observation_template: cannot render the reset observation: 'question' is undefined" in line
    assert "(the observation has: done, metadata, reward)" in line
    assert llm.requests == []


def test_observation_template_with_a_syntax_error_is_a_spec_error_before_anything_runs(tmp_path):
    agent = scripted_agent(tmp_path, "http://127.0.0.1:9/v1")
    agent.write_text(agent.read_text().replace("max_turns: 3", "max_turns: 3\n  observation_template: '{{ position '"))
    result = run_cli(*eval_args(agent, tmp_path, "http://127.0.0.1:9"), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"qa\.yaml:\d+:\d+: loop\.observation_template: template error", result.stderr)
