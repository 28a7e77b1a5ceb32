"""`ScriptedModel`: a chat model for offline tests that answers from a script.

    model = ScriptedModel(["first answer", call("submit", answer="Paris")])   # in order
    model = ScriptedModel(lambda request: "Paris" if "France" in last_user(request) else "?")

Inject it where agentopt takes a model (`agentopt.evaluate(..., model=model)`,
`agentopt.optimize(..., model=model)`, a `ProposalContext.mutator`), or serve it as a local
OpenAI-compatible server and point a spec at it (`model: openai/scripted` and
`model_params.api_base`), so the whole client path, litellm included, runs:

    with model.serve() as url:
        agentopt.evaluate(replace(spec, model="openai/scripted", params=replace(spec.params, api_base=url)), ...)

Every request is kept in `model.requests` (`ChatRequest`s, also for the served model). A
script that runs out raises `ProviderError` naming how many answers it had: the episode becomes
an infrastructure error, as a provider failure would.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from agentopt.errors import ProviderError
from agentopt.models.types import ChatRequest, ChatResponse, ModelToolCall


@dataclass(frozen=True)
class ToolCallAnswer:
    """An answer that calls tools instead of writing text: `call("submit", answer="Paris")`."""

    calls: tuple[tuple[str, dict[str, Any]], ...]


def call(name: str, **arguments: Any) -> ToolCallAnswer:
    return ToolCallAnswer(((name, arguments),))


Answer = str | ChatResponse | ToolCallAnswer | None


def last_user(request: ChatRequest) -> str:
    """The text of the request's last user message ('' when there is none)."""
    users = [m for m in request.messages if m.get("role") == "user"]
    return str(users[-1].get("content") or "") if users else ""


def system(request: ChatRequest) -> str:
    first = request.messages[0] if request.messages else {}
    return str(first.get("content") or "") if first.get("role") == "system" else ""


def fill_schema(schema: dict[str, Any], text: str = "scripted answer") -> Any:
    """A value valid against a simple JSON Schema (objects, strings, numbers, booleans, arrays,
    enums, minimum): what `schema_answer` replies to a request for structured output."""
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object" or "properties" in schema:
        return {name: fill_schema(prop, text) for name, prop in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [fill_schema(schema["items"], text)] * int(schema.get("minItems", 0)) if isinstance(schema.get("items"), dict) else []
    if kind in ("integer", "number"):
        value = schema.get("minimum", schema.get("maximum", 0))
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return text


def schema_answer(request: ChatRequest) -> str:
    """A reply to any request: JSON filling its `json_schema` when it asks for one, else text."""
    if request.json_schema:
        return json.dumps(fill_schema(request.json_schema))
    return "scripted answer"


def as_response(answer: Answer) -> ChatResponse:
    if isinstance(answer, ChatResponse):
        return answer
    if isinstance(answer, ToolCallAnswer):
        calls = [ModelToolCall(f"call_{i}", name, json.dumps(args)) for i, (name, args) in enumerate(answer.calls)]
        return ChatResponse(content=None, tool_calls=calls, finish_reason="tool_calls")
    return ChatResponse(content=answer, finish_reason="stop")


@dataclass
class ScriptedModel:
    """Answers each chat request with the next answer of `script`, or with `script(request)`.

    An answer is a string (the reply's text), `call(name, **arguments)` (a tool call), a full
    `ChatResponse`, or None (an empty reply)."""

    script: Iterable[Answer] | Callable[[ChatRequest], Answer]
    requests: list[ChatRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        if callable(self.script):
            self._answer: Callable[[ChatRequest], Answer] = self.script
        else:
            answers = list(self.script)
            remaining = iter(answers)

            def next_answer(request: ChatRequest) -> Answer:
                try:
                    return next(remaining)
                except StopIteration:
                    raise ProviderError(f"ScriptedModel: no answer left for request {len(self.requests)} "
                                        f"(the script has {len(answers)})") from None

            self._answer = next_answer

    async def chat(self, request: ChatRequest) -> ChatResponse:
        with self._lock:
            self.requests.append(request)
            answer = self._answer(request)
        return as_response(answer)

    @property
    def calls(self) -> int:
        return len(self.requests)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve the script as an OpenAI-compatible chat-completions server on loopback; yields
        its base URL (`http://127.0.0.1:PORT/v1`), for `model_params.api_base`."""
        import uvicorn

        from agentopt.servers import free_port

        port = free_port()
        server = uvicorn.Server(uvicorn.Config(self._app(), host="127.0.0.1", port=port, log_level="error"))
        thread = threading.Thread(target=server.run, name="scripted-model", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                server.should_exit = True
                raise RuntimeError("ScriptedModel: the server did not start")
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            server.should_exit = True
            thread.join(timeout=10)

    def _app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def completions(http: Any) -> JSONResponse:
            body = await http.json()
            try:
                response = await self.chat(request_from_wire(body))
            except ProviderError as exc:
                return JSONResponse({"error": {"message": str(exc), "type": "scripted"}}, status_code=500)
            return JSONResponse(completion(response, body))

        return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


def request_from_wire(body: dict[str, Any]) -> ChatRequest:
    """An OpenAI chat-completions request body as the `ChatRequest` it came from."""
    response_format = body.get("response_format") or {}
    schema = (response_format.get("json_schema") or {}).get("schema") if response_format.get("type") == "json_schema" else None
    choice = body.get("tool_choice")
    return ChatRequest(
        model=str(body.get("model", "")), messages=list(body.get("messages") or []), temperature=float(body.get("temperature") or 0.0),
        max_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or 512), seed=body.get("seed"),
        top_p=body.get("top_p"), tools=body.get("tools"), tool_choice=choice if isinstance(choice, str) else None, json_schema=schema,
    )


def completion(response: ChatResponse, body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": response.content}
    if response.tool_calls:
        message["tool_calls"] = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                                 for c in response.tool_calls]
    prompt = response.prompt_tokens or sum(len(str(m.get("content") or "").split()) for m in body.get("messages") or [])
    done = response.completion_tokens or len(str(response.content or "").split())
    return {
        "id": f"chatcmpl-scripted-{int(time.time() * 1000)}", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", "scripted"),
        "choices": [{"index": 0, "message": message, "finish_reason": response.finish_reason or ("tool_calls" if response.tool_calls else "stop")}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done},
    }
