"""`agentopt.openenv.rubric(path)`: the YAML rubric as an OpenEnv environment's reward.

The end-to-end test serves agentopt's dataset environment (an OpenEnv MCPEnvironment behind
OpenEnv's create_app) with `rubric=` so the reward of every episode is computed on the server
by OpenEnv rubrics, plays episodes over the real WebSocket with `agentopt eval`, and checks that
the reward each episode received equals agentopt's own score of the same trace, criterion by
criterion."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import pytest
from openenv.core.env_server.mcp_types import CallToolAction, CallToolObservation
from openenv.core.rubrics import Gate, Rubric, Sequential, TrajectoryRubric, WeightedSum

from agentopt.envs.builtin.dataset.server import build_app
from agentopt.errors import ValidationError
from agentopt.openenv import rubric as openenv_rubric
from tests.conftest import REPO, run_cli, scripted_agent, write
from tests.fakes.openai_server import Reply, ScriptedLLM, call, last_user_text
from tests.fakes.threaded_server import ThreadedServer

TICKETS = REPO / "examples" / "triage" / "tickets.jsonl"
TRIAGE = REPO / "rubrics" / "triage.yaml"
CALLED = """
  - id: submitted
    description: The agent submits its triage.
    weight: 0.5
    check: {type: tool_called, tool: submit}
"""
REPLIES = [
    "Thanks for writing in, we are looking into it.",
    "Sorry about this. You will be refunded by tomorrow.",  # breaks the no_refund_promises gate
    "ok",
    "Thank you. " + "We will check every detail of your request and come back with more. " * 5,  # over 50 words
]


def triage_model(request: dict) -> Reply:
    """A varied triage: category, priority and reply picked from the ticket's hash, so some are
    right, some wrong, some break the gate and some run long."""
    digest = int(hashlib.sha256(last_user_text(request).encode()).hexdigest(), 16)
    category = ["billing", "technical", "shipping", "account"][digest % 4]
    priority = ["low", "medium", "high"][(digest // 4) % 3]
    return call("submit", {"category": category, "priority": priority, "reply": REPLIES[(digest // 12) % 4]})


@pytest.fixture
def rubric_env(tmp_path: Path):
    rubric = write(tmp_path / "rubrics" / "triage.yaml", TRIAGE.read_text() + CALLED)
    server = ThreadedServer("dataset environment rewarded by a YAML rubric", ws_ping_interval=None)
    server.start(build_app(path=str(TICKETS), rubric=str(rubric)))
    try:
        yield rubric, f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def test_the_servers_rewards_equal_agentopts_scores_of_the_same_episodes(rubric_env, tmp_path):
    rubric, url = rubric_env
    with ScriptedLLM(triage_model) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="triage")
        result = run_cli("eval", str(agent), "-r", str(rubric), "--env", url, "--split", "val", "--runs-dir", "runs", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    run = next((tmp_path / "runs").iterdir())
    records = [json.loads(line) for line in (run / "traces.jsonl").read_text().splitlines()]
    assert len(records) == sum(json.loads(line).get("split") == "val" for line in TICKETS.read_text().splitlines())
    scores = set()
    for record in records:
        trace, score = record["trace"], record["score"]
        assert score["error"] is None
        # The reward the environment gave at the end is the rubric's score, computed on the server.
        assert trace["reward"] == score["score"], trace["task_id"]  # the same float, to the last bit
        server = trace["info"]["rubric"]
        assert server["score"] == score["score"]
        assert server["passed"] == score["passed"]
        assert server["criteria"] == {c["id"]: c["score"] for c in score["criteria"]}
        scores.add(round(score["score"], 6))
    gated = [r for r in records if r["score"]["gate_failed"]]
    assert gated and all(r["trace"]["reward"] == 0.0 for r in gated)  # a failed gate zeroes the reward
    assert len(scores) >= 4  # the episodes really differ: equal rewards are no coincidence


def observation(done: bool = False, reward: float | None = None, text: str = "ok") -> CallToolObservation:
    return CallToolObservation(tool_name="t", result={"content": [{"type": "text", "text": text}]}, done=done, reward=reward)


def test_composed_from_openenvs_rubrics_and_scored_only_at_the_end_of_the_episode(tmp_path):
    path = write(tmp_path / "walk.yaml", textwrap.dedent("""
        name: walk
        criteria:
          - id: reached
            description: The environment says the goal was reached.
            weight: 3
            check: {type: env_reward}
          - id: moved
            description: The agent moves at least twice.
            weight: 1
            check: {type: tool_called, tool: move, min_times: 2}
          - id: never_jumps
            description: The agent never jumps.
            weight: 0
            gate: true
            check: {type: tool_not_called, tool: jump}
        """))
    rubric = openenv_rubric(str(path))
    assert isinstance(rubric, TrajectoryRubric) and isinstance(rubric.score, Sequential)
    assert isinstance(rubric.score[0], Gate) and isinstance(rubric.score[1], WeightedSum)
    assert rubric.criteria.weights == [0.75, 0.25, 0.0]
    assert {name for name, _ in rubric.named_rubrics()} >= {"score", "criteria", "criteria.rubric_0"}
    move = CallToolAction(tool_name="move", arguments={"direction": "right"})
    rubric.reset()
    rubric.task = {"id": "w1"}
    assert rubric(move, observation(reward=-0.1)) == 0.0  # intermediate steps: 0 until done
    assert rubric(move, observation(reward=-0.1)) == 0.0
    final = rubric(move, observation(done=True, reward=1.0))
    # env_reward reads the environment's own last reward (1.0), tool_called sees all three moves.
    assert final == pytest.approx(1.0)
    assert rubric.last_criteria == {"reached": 1.0, "moved": 1.0, "never_jumps": 1.0}
    assert rubric.compute_step_rewards() == [1.0, 1.0, 1.0]
    # A jump fails the gate: reward 0 however good the rest is.
    rubric.reset()
    rubric(CallToolAction(tool_name="jump", arguments={}), observation())
    rubric(move, observation())
    assert rubric(move, observation(done=True, reward=1.0)) == 0.0 and rubric.last_passed is False
    # No reward from the environment: env_reward does not apply and the other weights renormalise
    # (moved alone: 1.0, not 0.25).
    rubric.reset()
    rubric(move, observation())
    assert rubric(move, observation(done=True)) == 1.0
    assert rubric.last_criteria == {"reached": None, "moved": 1.0, "never_jumps": 1.0}
    rubric.reset()
    assert rubric(move, observation(done=True, reward=0.0)) == 0.0  # one move, goal missed
    assert isinstance(rubric, Rubric)


def test_criteria_an_environment_cannot_score_are_refused_in_one_line_each(tmp_path):
    path = write(tmp_path / "blind.yaml", textwrap.dedent("""
        name: blind
        criteria:
          - id: short
            description: Few tokens.
            weight: 1
            check: {type: max_tokens, limit: 100}
          - id: judged
            description: A judge likes it.
            weight: 1
            check: {type: llm_judge, prompt: "Rate {{ transcript }}", scale: {min: 1, max: 5}}
        """))
    with pytest.raises(ValidationError) as error:
        openenv_rubric(str(path))
    lines = str(error.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:6:13:") and "criteria[0].check.type: max_tokens cannot be scored by an environment server" in lines[0]
    assert lines[1].startswith(f"{path}:10:13:") and "criteria[1].check.type: llm_judge needs a model" in lines[1]
