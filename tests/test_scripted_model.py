"""agentopt.testing.ScriptedModel: the chat model users script their own offline tests with,
injected into agentopt.evaluate or served as an OpenAI-compatible server the spec points at."""

from __future__ import annotations

import json

import pytest

import agentopt
from agentopt.errors import ProviderError
from agentopt.models.types import ChatRequest
from agentopt.testing import ScriptedModel, call
from agentopt.testing.model import last_user
from tests.conftest import scripted_agent

ANSWERS = {"capital of France": "Paris", "2 + 2": "4", "color is the sky": "blue", "Opposite of hot": "cold"}


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTOPT_HOME", str(tmp_path / ".cache"))


def answer(request: ChatRequest):
    return call("submit", answer=next(a for q, a in ANSWERS.items() if q in last_user(request)))


def test_a_function_answers_each_request_when_injected(tmp_path, qa_dataset, qa_rubric):
    model = ScriptedModel(answer)
    agent = scripted_agent(tmp_path, "http://127.0.0.1:9/v1")  # never called: the injected model answers
    result = agentopt.evaluate(agent, qa_rubric, f"dataset:{qa_dataset}", runs_dir=tmp_path / "runs", model=model)
    assert result.n_errors == 0 and result.score == 1.0
    assert model.calls == 4 and all(r.tools and r.tools[0]["function"]["name"] == "submit" for r in model.requests)


def test_a_list_answers_in_order_through_the_served_openai_compatible_endpoint(tmp_path, qa_dataset, qa_rubric):
    model = ScriptedModel([call("submit", answer="Paris"), "I do not know."])
    with model.serve() as url:
        agent = scripted_agent(tmp_path, url)
        result = agentopt.evaluate(agent, qa_rubric, f"dataset:{qa_dataset}", runs_dir=tmp_path / "runs", episodes=2, concurrency=1,
                                   use_cache=False)
    traces = [json.loads(line)["trace"] for line in (result.run_dir / "traces.jsonl").read_text().splitlines()]
    by_task = {t["task_id"]: t for t in traces}
    assert json.loads(by_task["q1"]["final_answer"]) == {"answer": "Paris"}  # the tool call, through litellm and the wire
    assert by_task["q2"]["final_answer"] == "I do not know." and by_task["q2"]["tool_calls"] == []  # plain text ends it
    assert [r.model for r in model.requests] == ["scripted", "scripted"] and "capital of France" in last_user(model.requests[0])
    assert model.requests[0].tools[0]["function"]["name"] == "submit"
    assert result.n_errors == 0 and result.score == pytest.approx(0.5)


async def test_running_out_of_answers_is_a_provider_error_naming_the_script_length():
    model = ScriptedModel(["only one"])
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])
    assert (await model.chat(request)).content == "only one"
    with pytest.raises(ProviderError, match=r"no answer left for request 2 \(the script has 1\)"):
        await model.chat(request)
