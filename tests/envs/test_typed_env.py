"""A typed-action OpenEnv environment (`create_app(factory, GridAction, GridObservation)`,
OpenEnv's own packages only) driven end to end through `agentopt eval`: the agent gets one
tool named after the action with the action's JSON Schema, sees the task in its first
message, and each call reaches the server as a `step` whose reward is scored."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli, scripted_agent, write
from tests.fakes.openai_server import Reply, ScriptedLLM, as_json, call
from tests.fakes.openenv_native import grid_app
from tests.fakes.threaded_server import ThreadedServer


@pytest.fixture(scope="module")
def grid_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("grid") / "steps.jsonl"


@pytest.fixture(scope="module")
def grid_url(grid_log):
    mp = pytest.MonkeyPatch()
    mp.setenv("GRID_LOG", str(grid_log))  # the server runs in this process: it reads this at each step
    server = ThreadedServer("grid world")
    server.start(grid_app)
    yield f"http://127.0.0.1:{server.port}"
    server.stop()
    mp.undo()


def reward_rubric(tmp_path: Path) -> Path:
    return write(
        tmp_path / "rubrics" / "grid.yaml",
        """
        name: grid
        pass_threshold: 0.5
        criteria:
          - id: reached
            description: The walker reached the goal.
            check: {type: env_reward}
        """,
    )


def first_user(request: dict) -> str:
    return next(m["content"] for m in request["messages"] if m["role"] == "user")


def next_move(request: dict, first: str, last: str) -> dict | None:
    """Try "sideways" first (an invalid action); then walk to a goal in column >= 1, and walk
    into the top wall when the goal is in column 0 (so that episode scores 0)."""
    goal = json.loads(re.search(r"^goal: (\[.*\])$", first, re.M).group(1))
    if len([m for m in request["messages"] if m["role"] in ("tool", "user")]) == 1:
        return {"direction": "sideways"}
    position = json.loads(re.search(r"position: (\[[^\]]*\])", last).group(1)) if "position:" in last else [0, 0]
    if goal[1] == 0:
        return {"direction": "up"}
    return {"direction": "right"} if position[1] < goal[1] else {"direction": "down"}


def native_walker(request: dict) -> Reply:
    return call("grid_action", next_move(request, first_user(request), str(request["messages"][-1]["content"])))


def structured_walker(request: dict) -> Reply:
    return as_json({"tool": "grid_action", "arguments": next_move(request, first_user(request), str(request["messages"][-1]["content"]))})


def only_run(tmp_path: Path) -> Path:
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def grid_steps(grid_log: Path, since: int) -> list[dict]:
    return [json.loads(line) for line in grid_log.read_text().splitlines()[since:]]


def log_length(grid_log: Path) -> int:
    return len(grid_log.read_text().splitlines()) if grid_log.exists() else 0


def check_run(tmp_path: Path, grid_log: Path, since: int, result) -> list[dict]:
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    records = [json.loads(line) for line in (only_run(tmp_path) / "traces.jsonl").read_text().splitlines()]
    assert len(records) == 3
    steps = grid_steps(grid_log, since)
    # Every move the agent made reached the server as a typed step; the invalid one never did.
    assert {s["direction"] for s in steps} <= {"up", "down", "right"}
    moves = [c["arguments"]["direction"] for r in records for c in r["trace"]["tool_calls"]]
    assert moves.count("sideways") == 3
    assert len(steps) == len(moves) - 3
    # The score is the server's reward: 1 where the walker reached its goal, else 0.
    for record in records:
        trace = record["trace"]
        assert trace["done"] is True and trace["error"] is None
        reached = trace["tool_calls"][-1]["reward"] == 1.0
        assert record["score"]["score"] == (1.0 if reached else 0.0)
    summary = json.loads((only_run(tmp_path) / "summary.json").read_text())["summary"]
    reached = sum(1 for s in steps if s["reached"])
    assert summary["n"] == 3 and abs(summary["mean"] - reached / 3) < 1e-9
    return records


def test_typed_env_offers_its_action_as_one_tool_and_scores_its_reward(tmp_path, grid_url, grid_log):
    since = log_length(grid_log)
    with ScriptedLLM(native_walker) as llm:
        agent = scripted_agent(tmp_path, llm.url, extra="""
        tools:
          grid_action:
            description: Move the walker one square.
        """)
        agent.write_text(agent.read_text().replace("max_turns: 3", "max_turns: 8"))
        result = run_cli("eval", str(agent), "--rubric", str(reward_rubric(tmp_path)), "--env", grid_url,
                         "--episodes", "3", "--runs-dir", "runs", cwd=tmp_path)
    check_run(tmp_path, grid_log, since, result)
    first = llm.requests[0]
    # The agent sees the task: the reset observation's fields, readably, never `{}`.
    message = first_user(first)
    assert message.startswith("instructions: Walk from [0, 0] to the goal at row ")
    assert re.search(r"^position: \[0, 0\]$", message, re.M) and re.search(r"^goal: \[\d, \d\]$", message, re.M)
    # One tool, named after the action, its parameters the action's schema without `metadata`,
    # its description the spec's override.
    (tool,) = first["tools"]
    assert tool["function"]["name"] == "grid_action"
    assert tool["function"]["description"] == "Move the walker one square."
    params = tool["function"]["parameters"]
    assert set(params["properties"]) == {"direction"} and params["required"] == ["direction"]
    assert params["properties"]["direction"]["enum"] == ["up", "down", "left", "right"]
    # The invalid action came back to the agent as an error it can read, and the episode went on.
    second = next(r for r in llm.requests if len(r["messages"]) == 4 and first_user(r) == message)
    assert second["messages"][-1]["role"] == "tool"
    assert "ERROR: invalid arguments for grid_action: direction: 'sideways' is not one of" in second["messages"][-1]["content"]
    # A step's observation reads as its fields too.
    later = [r["messages"][-1]["content"] for r in llm.requests if len(r["messages"]) == 6]
    assert later and all(re.search(r"^last_move: (moved|bumped)", t, re.M) for t in later)


def test_typed_env_in_structured_mode_constrains_the_action_to_its_schema(tmp_path, grid_url, grid_log):
    since = log_length(grid_log)
    with ScriptedLLM(structured_walker) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        agent.write_text(agent.read_text().replace("max_turns: 3", "max_turns: 8\n  tool_mode: structured"))
        result = run_cli("eval", str(agent), "--rubric", str(reward_rubric(tmp_path)), "--env", grid_url,
                         "--episodes", "3", "--runs-dir", "runs", cwd=tmp_path)
    check_run(tmp_path, grid_log, since, result)
    schema = llm.requests[0]["response_format"]["json_schema"]["schema"]
    branch = next(b for b in schema["anyOf"] if b["properties"]["tool"] == {"const": "grid_action"})
    assert branch["properties"]["arguments"]["properties"]["direction"]["enum"] == ["up", "down", "left", "right"]
    assert "grid_action(direction)" in llm.requests[0]["messages"][0]["content"]  # the tool, described in the prompt


def test_an_action_the_environment_raises_on_is_an_error_the_agent_reads_and_the_episode_goes_on(tmp_path, grid_url, grid_log):
    since = log_length(grid_log)
    moves = iter(["left", "down", "down", "down", "down", "down"])
    with ScriptedLLM(lambda request: call("grid_action", {"direction": next(moves)})) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        agent.write_text(agent.read_text().replace("max_turns: 3", "max_turns: 8"))
        result = run_cli("eval", str(agent), "--rubric", str(reward_rubric(tmp_path)), "--env", grid_url,
                         "--episodes", "1", "--runs-dir", "runs", cwd=tmp_path)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    (record,) = [json.loads(line) for line in (only_run(tmp_path) / "traces.jsonl").read_text().splitlines()]
    trace = record["trace"]
    assert trace["error"] is None and trace["done"] is True
    refused = trace["tool_calls"][0]
    assert refused["arguments"] == {"direction": "left"}
    assert refused["error"] == "the environment could not run this action: cannot go left from column 0: the grid has no column -1"
    assert llm.requests[1]["messages"][-1]["content"] == f"ERROR: {refused['error']}"
    # The same session went on: the next moves reached the server and the episode ended there.
    assert [s["direction"] for s in grid_steps(grid_log, since)] == [c["arguments"]["direction"] for c in trace["tool_calls"][1:]]
