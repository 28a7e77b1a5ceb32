"""A scripted OpenAI-compatible chat server on loopback, for deterministic tests.

This is the edge of what a test machine can reach (hosted LLM APIs), so instead of
patching a function we run a real HTTP server that speaks the OpenAI chat-completions
wire format. A `responder(request_json) -> Reply` decides each answer; every request is
recorded so tests can assert what the harness sent.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from tests.fakes.threaded_server import ThreadedServer


@dataclass
class Reply:
    content: str | None = None
    tool_calls: list[tuple[str, Any]] = field(default_factory=list)  # (name, arguments dict or raw str)
    status: int = 200  # anything else: an error answer with this HTTP status
    raw: str | None = None  # send this body verbatim (malformed answers)
    delay_s: float = 0.0
    finish_reason: str | None = None  # default: "tool_calls" with calls, else "stop"; "length" for a reply cut at max_tokens


def text(content: str) -> Reply:
    return Reply(content=content)


def call(name: str, arguments: Any) -> Reply:
    return Reply(tool_calls=[(name, arguments)])


def as_json(data: Any) -> Reply:
    return Reply(content=json.dumps(data))


def error(status: int) -> Reply:
    return Reply(status=status)


def _completion(reply: Reply, request: dict[str, Any]) -> dict[str, Any]:
    calls = [
        {
            "id": f"call_{uuid.uuid4().hex[:8]}",
            "type": "function",
            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
        }
        for name, args in reply.tool_calls
    ]
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if calls:
        message["tool_calls"] = calls
    prompt_words = sum(len(str(m.get("content") or "").split()) for m in request.get("messages", []))
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:8]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "scripted"),
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason or ("tool_calls" if calls else "stop")}],
        "usage": {"prompt_tokens": prompt_words, "completion_tokens": 7, "total_tokens": prompt_words + 7},
    }


class ScriptedLLM:
    """`with ScriptedLLM(responder) as llm:` then point a spec's api_base at `llm.url`."""

    def __init__(self, responder: Callable[[dict[str, Any]], Reply]):
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadedServer("scripted LLM")
        self.port = self._server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            self.requests.append(body)
            reply = self.responder(body)
            if reply.delay_s:
                import asyncio

                await asyncio.sleep(reply.delay_s)
            if reply.raw is not None:
                return PlainTextResponse(reply.raw, media_type="application/json")
            if reply.status != 200:
                return JSONResponse({"error": {"message": f"scripted error {reply.status}", "type": "scripted"}}, status_code=reply.status)
            return JSONResponse(_completion(reply, body))

        return app

    def __enter__(self) -> ScriptedLLM:
        self._server.start(self._app())
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.stop()


def last_user_text(request: dict[str, Any]) -> str:
    users = [m for m in request["messages"] if m["role"] == "user"]
    return str(users[-1]["content"]) if users else ""


def system_text(request: dict[str, Any]) -> str:
    return str(request["messages"][0]["content"]) if request["messages"] and request["messages"][0]["role"] == "system" else ""
