"""`tools: {NAME: {hidden: true}}` keeps an environment tool away from the agent: it is not offered
to the model, and a call to it is refused as an unknown tool without reaching the environment.
Real CLI, the counter environment served as a real server process, a scripted model."""

from __future__ import annotations

import json

from tests.conftest import run_cli, scripted_agent, write
from tests.fakes.openai_server import Reply, ScriptedLLM, call

COUNTER = "tests.fakes.envs:build_counter"
RUBRIC = """
name: counter
criteria:
  - id: reward
    description: The environment's reward.
    weight: 1
    check: {type: env_reward}
"""


def test_a_hidden_tool_is_not_offered_and_a_call_to_it_is_refused(tmp_path):
    offered: list[list[str]] = []

    def model(request: dict) -> Reply:
        offered.append(sorted(t["function"]["name"] for t in request.get("tools") or []))
        turn = sum(m["role"] == "assistant" for m in request["messages"])
        if turn == 0:
            return call("crash", {})  # hidden: had it reached the server, the server would have died
        if turn == 1:
            return call("add", {"amount": 5})
        start = int(next(m["content"] for m in request["messages"] if m["role"] == "user").split("starts at ")[1].split(".")[0])
        return call("done", {"answer": start + 5})

    rubric = write(tmp_path / "rubrics" / "counter.yaml", RUBRIC)
    with ScriptedLLM(model) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="counter",
                               extra="tools:\n  crash: {hidden: true}\n  hang: {hidden: true}\n  add: {description: Add to the total.}\n")
        agent.write_text(agent.read_text().replace("max_turns: 3", "max_turns: 4"))
        result = run_cli("eval", str(agent), "-r", str(rubric), "--env", COUNTER, "--split", "val", "--runs-dir", "runs", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert offered and all(names == ["add", "done"] for names in offered)
    run = next((tmp_path / "runs").iterdir())
    traces = [json.loads(line)["trace"] for line in (run / "traces.jsonl").read_text().splitlines()]
    assert len(traces) == 3
    for trace in traces:
        assert trace["error"] is None and trace["reward"] == 1.0
        refused = trace["tool_calls"][0]
        assert refused["name"] == "crash" and refused["result"] is None
        assert refused["error"] == "ERROR: unknown tool 'crash' (the tools are: add, done)"
    assert json.loads((run / "summary.json").read_text())["summary"]["mean"] == 1.0


def test_a_hidden_tool_the_environment_lacks_is_a_spec_error(tmp_path):
    rubric = write(tmp_path / "rubrics" / "counter.yaml", RUBRIC)
    agent = scripted_agent(tmp_path, "http://127.0.0.1:9/v1", name="counter", extra="tools:\n  list_tasks: {hidden: true}\n")
    result = run_cli("eval", str(agent), "-r", str(rubric), "--env", COUNTER, "--split", "val", "--runs-dir", "runs", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "tools.list_tasks: the environment has no tool 'list_tasks'" in result.stderr and "Traceback" not in result.stderr


def test_hidden_round_trips_through_the_saved_spec(tmp_path):
    from agentopt.spec.load import agent_to_yaml, load_agent

    agent = scripted_agent(tmp_path, "http://127.0.0.1:9/v1", name="counter", extra="tools:\n  crash: {hidden: true}\n  add: {description: Add.}\n")
    spec = load_agent(str(agent))
    assert spec.hidden_tools == {"crash"}
    again = write(tmp_path / "agents" / "again.yaml", agent_to_yaml(spec))
    assert load_agent(str(again)).tools == spec.tools
