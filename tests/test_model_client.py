"""ModelClient against a real OpenAI-compatible server on loopback: retries, failures,
the on-disk cache, accounting, and what goes over the wire."""

from __future__ import annotations

import sqlite3

import pytest

from agentopt.errors import ProviderError
from agentopt.models.client import ModelClient
from agentopt.models.types import ChatRequest
from tests.fakes.openai_server import Reply, ScriptedLLM, as_json, call, error, text

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add an amount.",
            "parameters": {"type": "object", "properties": {"amount": {"type": "integer"}}, "required": ["amount"]},
        },
    }
]


def request(url: str, content: str = "hello there", **overrides) -> ChatRequest:
    fields = dict(model="openai/scripted", messages=[{"role": "user", "content": content}], api_base=url, timeout_s=10.0)
    fields.update(overrides)
    return ChatRequest(**fields)


def fast_client(**kwargs) -> ModelClient:
    kwargs.setdefault("backoff_base_s", 0.01)
    kwargs.setdefault("backoff_cap_s", 0.02)
    return ModelClient(cache_path=kwargs.pop("cache_path", None), **kwargs)


def sequence(*replies: Reply):
    """A responder that answers with `replies` in order, then repeats the last one."""
    queue = list(replies)

    def responder(_request: dict) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return responder


# --- retries and failures ---


async def test_rate_limit_is_retried_until_success():
    with ScriptedLLM(sequence(error(429), error(429), text("finally"))) as llm:
        client = fast_client(max_attempts=4)
        response = await client.chat(request(llm.url))
        await client.aclose()
    assert response.content == "finally"
    assert len(llm.requests) == 3
    assert client.usage.retries == 2
    assert client.usage.calls == 1  # one logical call, three HTTP attempts


async def test_client_error_fails_at_once():
    with ScriptedLLM(sequence(error(400), text("never"))) as llm:
        client = fast_client(max_attempts=4)
        with pytest.raises(ProviderError) as info:
            await client.chat(request(llm.url))
        await client.aclose()
    assert len(llm.requests) == 1
    assert "400" in str(info.value) and "1 attempt" in str(info.value)
    assert client.usage.retries == 0 and client.usage.calls == 0


async def test_server_error_exhausts_attempts():
    with ScriptedLLM(sequence(error(503))) as llm:
        client = fast_client(max_attempts=3)
        with pytest.raises(ProviderError, match="after 3 attempt"):
            await client.chat(request(llm.url))
        await client.aclose()
    assert len(llm.requests) == 3
    assert client.usage.retries == 2


async def test_malformed_body_is_retried_then_fails():
    with ScriptedLLM(sequence(Reply(raw="{}"))) as llm:
        client = fast_client(max_attempts=3)
        with pytest.raises(ProviderError, match="no choices"):
            await client.chat(request(llm.url))
        await client.aclose()
    assert len(llm.requests) == 3


async def test_malformed_body_then_good_answer_recovers():
    with ScriptedLLM(sequence(Reply(raw="{}"), text("ok"))) as llm:
        client = fast_client(max_attempts=3)
        response = await client.chat(request(llm.url))
        await client.aclose()
    assert response.content == "ok" and len(llm.requests) == 2 and client.usage.retries == 1


async def test_timeout_is_retried_then_fails():
    with ScriptedLLM(sequence(Reply(content="late", delay_s=2))) as llm:
        client = fast_client(max_attempts=2)
        with pytest.raises(ProviderError) as info:
            await client.chat(request(llm.url, timeout_s=0.5))
        await client.aclose()
        assert len(llm.requests) == 2
    assert "after 2 attempt" in str(info.value)
    assert "Timeout" in str(info.value)


# --- the cache ---


async def test_repeated_request_is_answered_from_the_cache(tmp_path):
    db = tmp_path / "cache" / "responses.sqlite"
    with ScriptedLLM(sequence(call("add", {"amount": 5}))) as llm:
        client = fast_client(cache_path=db)
        first = await client.chat(request(llm.url, tools=TOOLS, tool_choice="auto"))
        second = await client.chat(request(llm.url, tools=TOOLS, tool_choice="auto"))
        await client.aclose()
    assert len(llm.requests) == 1
    assert first.cached is False and second.cached is True
    assert second.tool_calls == first.tool_calls  # tool calls survive the round trip through SQLite
    assert second.tool_calls[0].name == "add" and second.tool_calls[0].arguments == '{"amount": 5}'
    assert (second.prompt_tokens, second.completion_tokens) == (first.prompt_tokens, first.completion_tokens)
    assert client.usage.calls == 1 and client.usage.cached == 1


async def test_cache_persists_across_clients_and_misses_on_a_different_temperature(tmp_path):
    db = tmp_path / "responses.sqlite"
    with ScriptedLLM(lambda req: text(f"t={req['temperature']}")) as llm:
        client = fast_client(cache_path=db)
        await client.chat(request(llm.url, temperature=0.0))
        await client.aclose()

        again = fast_client(cache_path=db)  # a later run reads the same file
        hit = await again.chat(request(llm.url, temperature=0.0))
        miss = await again.chat(request(llm.url, temperature=0.7))
        hit_on_new = await again.chat(request(llm.url, temperature=0.7, timeout_s=3.0))  # the timeout is not part of the key
        await again.aclose()
    assert hit.cached and hit.content == "t=0.0"
    assert not miss.cached and miss.content == "t=0.7"
    assert hit_on_new.cached and hit_on_new.content == "t=0.7"
    assert len(llm.requests) == 2
    assert again.usage.calls == 1 and again.usage.cached == 2

    with sqlite3.connect(db) as conn:
        rows = conn.execute("select model, request from responses").fetchall()
    assert len(rows) == 2  # one row per distinct request
    assert {model for model, _ in rows} == {"openai/scripted"}


async def test_identical_requests_in_flight_share_one_sampled_answer(tmp_path):
    """Two tasks with the same text played at once, at temperature > 0: one call, one answer
    for both, and the cache holds that answer, so a replay reproduces both traces."""
    import asyncio
    import itertools

    counter = itertools.count(1)
    db = tmp_path / "responses.sqlite"
    with ScriptedLLM(lambda _req: Reply(content=f"sample {next(counter)}", delay_s=0.3)) as llm:
        client = fast_client(cache_path=db)
        first, second = await asyncio.gather(*(client.chat(request(llm.url, temperature=0.7)) for _ in range(2)))
        await client.aclose()
        replay = fast_client(cache_path=db)
        again = await replay.chat(request(llm.url, temperature=0.7))
        await replay.aclose()
    assert len(llm.requests) == 1
    assert first.content == second.content == again.content == "sample 1"
    assert client.usage.calls == 1 and client.usage.cached == 1


async def test_first_stored_answer_wins_across_clients(tmp_path):
    """Two processes answering the same request: the second one's put keeps the first answer
    and hands it back, so what each caller recorded is what the cache replays."""
    from agentopt.models.cache import ResponseCache
    from agentopt.models.types import ChatResponse

    cache = ResponseCache(tmp_path / "responses.sqlite")
    req = request("http://127.0.0.1:9", temperature=0.7)
    assert cache.put(req, ChatResponse(content="first")).content == "first"
    assert cache.put(req, ChatResponse(content="second")).content == "first"
    assert cache.get(req).content == "first"
    cache.close()


async def test_cache_never_stores_the_api_key(tmp_path, monkeypatch):
    secret = "sk-test-DO-NOT-STORE-8c1f2e"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    db = tmp_path / "responses.sqlite"
    with ScriptedLLM(lambda req: text("fine")) as llm:
        client = fast_client(cache_path=db)
        await client.chat(request(llm.url, content="keep this"))
        await client.aclose()
    files = [p for p in tmp_path.iterdir() if p.name.startswith(db.name)]
    blob = b"".join(p.read_bytes() for p in files)
    assert b"keep this" in blob  # the request really is in the files we searched
    assert secret.encode() not in blob
    assert b"DO-NOT-STORE" not in blob


# --- accounting and the wire format ---


async def test_tokens_and_cost_add_up_across_calls():
    # The scripted server counts prompt words as prompt tokens and 7 completion tokens per reply.
    with ScriptedLLM(lambda req: text("ok")) as llm:
        client = fast_client()
        a = await client.chat(request(llm.url, content="one two three"))
        b = await client.chat(request(llm.url, content="one two three four five"))
        await client.aclose()
    assert (a.prompt_tokens, a.completion_tokens) == (3, 7)
    assert (b.prompt_tokens, b.completion_tokens) == (5, 7)
    assert client.usage.prompt_tokens == 8
    assert client.usage.completion_tokens == 14
    assert client.usage.calls == 2
    assert client.usage.cost_usd == 0.0  # an OpenAI-compatible URL has no price list
    assert a.latency_s > 0


async def test_json_schema_is_sent_as_response_format():
    schema = {"type": "object", "properties": {"tool": {"const": "add"}}, "required": ["tool"]}
    with ScriptedLLM(lambda req: as_json({"tool": "add"})) as llm:
        client = fast_client()
        response = await client.chat(request(llm.url, json_schema=schema, seed=3, top_p=0.9, max_tokens=33))
        await client.aclose()
    sent = llm.requests[0]
    assert sent["response_format"] == {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}}
    assert "tools" not in sent and "tool_choice" not in sent
    assert sent["model"] == "scripted"  # the openai/ prefix is the client's, not the server's
    assert (sent["seed"], sent["top_p"], sent["max_tokens"]) == (3, 0.9, 33)
    assert response.content == '{"tool": "add"}'


async def test_tools_are_sent_with_tool_choice():
    with ScriptedLLM(lambda req: call("add", '{"amount": ')) as llm:
        client = fast_client()
        required = await client.chat(request(llm.url, tools=TOOLS, tool_choice="required"))
        default = await client.chat(request(llm.url, content="again", tools=TOOLS))
        await client.aclose()
    assert llm.requests[0]["tools"] == TOOLS and llm.requests[0]["tool_choice"] == "required"
    assert llm.requests[1]["tool_choice"] == "auto"
    assert "response_format" not in llm.requests[0]
    assert "seed" in llm.requests[0] and "top_p" not in llm.requests[0]  # top_p None is not sent
    # invalid argument JSON is passed through raw for the episode to handle
    assert required.tool_calls[0].arguments == '{"amount": '
    assert default.finish_reason == "tool_calls"
