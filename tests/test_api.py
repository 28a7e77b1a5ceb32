"""The Python API (`agentopt.evaluate`, `agentopt.optimize`) in-process, against a real
dataset environment server: it writes the run folder the CLI writes; a chat model object and
operator objects can be injected, so no HTTP model is needed."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

import agentopt
from agentopt.errors import UsageError
from agentopt.models.types import ChatRequest, ChatResponse, ModelToolCall
from agentopt.optimizer.types import Proposal
from agentopt.spec.load import load_agent, load_rubric
from tests.conftest import REPO, run_cli, scripted_agent
from tests.fakes.openai_server import Reply, ScriptedLLM, call, last_user_text
from tests.optimize.test_run_integration import dataset as capitals_dataset
from tests.optimize.test_run_integration import quiz_model
from tests.optimize.test_run_integration import rubric as capitals_rubric

ANSWERS = {"capital of France": "Paris", "2 + 2": "4", "color is the sky": "blue", "Opposite of hot": "lukewarm"}
CAPITALS = {"France": "paris", "Italy": "rome", "Spain": "madrid", "Peru": "lima", "Japan": "tokyo", "Egypt": "cairo",
            "Kenya": "nairobi", "Chile": "santiago", "Norway": "oslo", "Cuba": "havana", "Greece": "athens", "Poland": "warsaw",
            "Ghana": "accra", "Nepal": "kathmandu", "Iraq": "baghdad", "Laos": "vientiane"}


def quiz_master(request: dict) -> Reply:
    question = last_user_text(request)
    return call("submit", {"answer": next(a for q, a in ANSWERS.items() if q in question)})


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTOPT_HOME", str(tmp_path / ".api-cache"))  # the response cache, as run_cli gives the CLI


def files(run: Path) -> set[str]:
    skip = {"logs", "traces.jsonl"}
    return {str(p.relative_to(run)) for p in run.rglob("*") if p.is_file() and p.relative_to(run).parts[0] not in skip}


def test_evaluate_writes_the_run_folder_the_cli_writes(tmp_path, qa_dataset, qa_rubric):
    with ScriptedLLM(quiz_master) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = agentopt.evaluate(agent, qa_rubric, f"dataset:{qa_dataset}", runs_dir=tmp_path / "api-runs")
        cli = run_cli("eval", str(agent), "-r", str(qa_rubric), "--env", f"dataset:{qa_dataset}", "--runs-dir", "cli-runs", cwd=tmp_path)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    cli_run = next((tmp_path / "cli-runs").iterdir())
    assert result.run_dir.parent == tmp_path / "api-runs" and "-eval-qa" in result.run_dir.name
    assert result.score == pytest.approx((3 * 1.0 + 0.25) / 4) and result.n_errors == 0
    written = json.loads((result.run_dir / "summary.json").read_text())
    from_cli = json.loads((cli_run / "summary.json").read_text())
    assert json.dumps(written, sort_keys=True) == json.dumps(result.summary, sort_keys=True)  # as written (tuples become lists)
    assert written.keys() == from_cli.keys()
    assert written["summary"] == from_cli["summary"] and written["gate"] is None and written["usage"]["calls"] == 4
    assert files(result.run_dir) == files(cli_run) >= {"summary.json", "report.md", "report.html", "inputs/agent.yaml", "inputs/rubric.yaml"}
    assert "Score 0.81" in (result.run_dir / "report.md").read_text()
    assert len((result.run_dir / "traces.jsonl").read_text().splitlines()) == 4


class FixedAnswer:
    """A ChatModel: answers every request with one `submit` call, and keeps what it was asked."""

    def __init__(self, answer: str):
        self.answer = answer
        self.requests: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        arguments = json.dumps({"answer": self.answer})
        return ChatResponse(content=None, tool_calls=[ModelToolCall("call-1", "submit", arguments)], prompt_tokens=10, completion_tokens=3, finish_reason="tool_calls")


def test_evaluate_with_an_injected_model_needs_no_http_model_and_takes_loaded_specs(tmp_path, qa_dataset, qa_rubric):
    # The spec names an endpoint nothing listens on: any call to it would be an infrastructure error.
    agent = scripted_agent(tmp_path, "http://127.0.0.1:9/v1")
    model = FixedAnswer("Paris")
    spec, rules = load_agent(str(agent)), load_rubric(str(qa_rubric))
    result = agentopt.evaluate(spec, rules, f"dataset:{qa_dataset}", runs_dir=tmp_path / "runs", model=model, episodes=2, min_score=0.9)
    assert len(model.requests) == 2 and model.requests[0].tools[0]["function"]["name"] == "submit"
    assert result.n_errors == 0
    assert result.score == pytest.approx((1.0 + 0.25) / 2)  # q1 is Paris; q2 is not
    assert result.summary["usage"] == {"calls": 2, "cached": 0, "retries": 0, "prompt_tokens": 20, "completion_tokens": 6, "cost_usd": 0.0}
    assert result.summary["gate"]["passed"] is False
    assert yaml.safe_load((result.run_dir / "inputs" / "agent.yaml").read_text())["name"] == "qa"
    assert (result.run_dir / "inputs" / "rubric.yaml").read_text() == qa_rubric.read_text()
    assert (result.run_dir / "report.html").exists()


RUN_SUMMARY_KEYS = {
    "agent", "agent_file", "model", "rubric", "env", "mutator_model", "judge_model", "stopped", "wall_s", "budget", "usage",
    "splits", "baseline", "winner", "candidates", "plan", "truncation", "tasks",
}


def test_optimize_writes_best_and_the_reports_as_agentopt_run_does(tmp_path):
    data, rules = capitals_dataset(tmp_path), capitals_rubric(tmp_path)
    with ScriptedLLM(quiz_model) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        result = agentopt.optimize(
            agent, rules, f"dataset:{data}", max_rollouts=60, minibatch=4, operators=["rules", "fewshot"], runs_dir=tmp_path / "runs",
        )
    run = result.run_dir
    assert run.parent == tmp_path / "runs" and "-run-capitals" in run.name
    assert set(result.summary) == RUN_SUMMARY_KEYS
    assert json.dumps(json.loads((run / "summary.json").read_text()), sort_keys=True) == json.dumps(result.summary, sort_keys=True)
    assert result.summary["baseline"]["val"]["mean"] == 0.5 and result.summary["winner"]["val"]["mean"] == 1.0
    assert "lowercase" in result.winner.system_prompt.lower()
    assert yaml.safe_load((run / "best" / "agent.yaml").read_text())["system_prompt"] == result.winner.system_prompt
    for name in ("summary.json", "report.md", "report.html", "best/best_skill.md", "best/diff.md", "run_options.json", "candidates.jsonl", "plan.json"):
        assert (run / name).is_file(), name
    assert "Budget plan (--max-rollouts 60)" in (run / "report.md").read_text()
    saved = json.loads((run / "run_options.json").read_text())
    assert saved["config"]["operators"] == ["rules", "fewshot"] and saved["agent_file"] == str(agent.resolve())
    # The run is an ordinary run folder: the CLI lists it and re-renders its report.
    (run / "report.html").unlink()
    assert run_cli("report", str(run), cwd=tmp_path).returncode == 0 and (run / "report.html").exists()


class ByInstructions:
    """A ChatModel: the right capital, in lowercase only when the system prompt asks for it."""

    def __init__(self) -> None:
        self.calls = 0

    async def chat(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        system = next(m["content"] for m in request.messages if m["role"] == "system")
        question = next(m["content"] for m in reversed(request.messages) if m["role"] == "user")
        answer = next(city for country, city in CAPITALS.items() if country in question)
        answer = answer if "lowercase" in system.lower() else answer.title()
        return ChatResponse(content=None, tool_calls=[ModelToolCall("c", "submit", json.dumps({"answer": answer}))], finish_reason="tool_calls")


class Lowercase:
    """An operator from outside agentopt: appends one instruction to the system prompt."""

    name = "lowercase"
    edits = "system_prompt"
    first_params: dict = {}
    needs_mutator = False

    def search_space(self, parent):
        return {}

    async def propose(self, ctx):
        spec = ctx.parent.spec
        return Proposal(spec=replace(spec, system_prompt=spec.system_prompt + "\nWrite the answer in lowercase."), component="system_prompt", note="lowercase")


def test_optimize_with_an_injected_model_and_an_operator_object(tmp_path):
    data, rules = capitals_dataset(tmp_path), capitals_rubric(tmp_path)
    agent = scripted_agent(tmp_path, "http://127.0.0.1:9/v1", name="capitals")  # never called
    model = ByInstructions()
    result = agentopt.optimize(
        agent, rules, f"dataset:{data}", max_rollouts=60, minibatch=4, operators=[Lowercase()], model=model,
        runs_dir=tmp_path / "runs", use_cache=False,
    )
    decisions = [json.loads(line) for line in (result.run_dir / "candidates.jsonl").read_text().splitlines()]
    assert {d["operator"] for d in decisions if d["status"] != "baseline"} == {"lowercase"}
    assert result.summary["winner"]["val"]["mean"] == 1.0 and result.summary["winner"]["id"] != "c0"
    assert result.winner.system_prompt.endswith("Write the answer in lowercase.")
    assert result.summary["usage"]["calls"] == model.calls > 0
    assert (result.run_dir / "best" / "agent.yaml").is_file() and (result.run_dir / "report.md").is_file()


def test_unknown_operators_and_options_are_refused_before_any_run_folder(tmp_path, qa_dataset, qa_rubric):
    agent = scripted_agent(tmp_path, "http://127.0.0.1:9/v1")
    with pytest.raises(UsageError, match="neither an operator name"):
        agentopt.optimize(agent, qa_rubric, f"dataset:{qa_dataset}", operators=[object()], runs_dir=tmp_path / "runs")
    with pytest.raises(TypeError, match="mini_batch"):
        agentopt.optimize(agent, qa_rubric, f"dataset:{qa_dataset}", mini_batch=4, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_import_agentopt_stays_light_and_the_functions_are_the_apis():
    code = (
        "import sys, agentopt; assert 'agentopt.api' not in sys.modules and 'agentopt.evaluation' not in sys.modules;"
        "import agentopt.api, agentopt.optimizer.loop; from agentopt.evaluation import Evaluator;"
        "assert agentopt.evaluate is agentopt.api.evaluate and agentopt.optimize is agentopt.api.optimize;"
        "assert agentopt.__all__ == ['__version__', 'evaluate', 'optimize'] and 'optimize' in dir(agentopt);"
        "print(agentopt.__version__)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == agentopt.__version__
