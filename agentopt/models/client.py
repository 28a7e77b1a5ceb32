"""One model client for every provider: retries, timeouts, accounting and the cache.

- `local` goes to the embedded model server (started on first use) like any
  OpenAI-compatible URL (`model_params.api_base`): one kept-alive aiohttp session posts
  the chat-completions JSON (agentopt.models.openai_http; lighter than the openai SDK).
- Everything else goes through litellm (OpenAI, Azure, Anthropic, Ollama, vLLM, ...),
  imported lazily because it costs ~3.5 s.
- Retries: exponential backoff with full jitter on 429, 5xx, timeouts and connection
  errors; other errors fail at once. A failure after retries raises ProviderError, which
  the episode records as an infrastructure error: never a silent score of 0.
- API keys come from the environment (each provider's usual variable) and are never
  part of a request, a cache entry or an error message (see agentopt.redact).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agentopt.errors import ProviderError
from agentopt.models.cache import ResponseCache, request_key
from agentopt.models.openai_http import MalformedAnswer, OpenAICompatibleClient
from agentopt.models.types import ChatRequest, ChatResponse, ModelToolCall
from agentopt.redact import redact

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}


@dataclass
class Usage:
    """Running totals, for budgets and the report."""

    calls: int = 0  # calls that reached a provider
    cached: int = 0  # calls answered by the cache
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class _Retryable(Exception):
    """A provider answer worth trying again (malformed, empty)."""


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (_Retryable, MalformedAnswer, asyncio.TimeoutError, TimeoutError, ConnectionError)):
        return True
    status = getattr(exc, "status_code", None)
    if status is not None:
        return int(status) in RETRYABLE_STATUS
    name = type(exc).__name__
    return any(word in name for word in ("Timeout", "Connection", "RateLimit", "ServiceUnavailable", "InternalServer"))


def _as_cached(response: ChatResponse) -> ChatResponse:
    """A shared answer, accounted like a cache hit: no call, no latency, no cost of its own."""
    return replace(response, cached=True, latency_s=0.0, cost_usd=0.0)


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return redact(f"{type(exc).__name__}{f' (HTTP {status})' if status else ''}: {text[:300]}")


class ModelClient:
    def __init__(
        self,
        cache_path: Path | None = None,
        max_attempts: int = 4,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 20.0,
        local_server: Any = None,
    ):
        self.cache = ResponseCache(cache_path) if cache_path else None
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.usage = Usage()
        self._local_server = local_server  # a LocalModelServer, started on first use
        self._local_lock = asyncio.Lock()
        self._http = OpenAICompatibleClient()
        self._in_flight: dict[str, asyncio.Future[ChatResponse]] = {}

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """One answer per request. With a cache, identical requests in flight at once (two
        tasks with the same text, played concurrently) share one model call: with sampling
        (temperature > 0) two calls could answer differently, and the cache would then hold
        an answer that one of the traces never saw, so a replay would not reproduce it."""
        if self.cache is None:
            return self._count(await self._with_retries(request))
        hit = self.cache.get(request)
        if hit is not None:
            self.usage.cached += 1
            return hit
        key = request_key(request)
        if key in self._in_flight:
            self.usage.cached += 1
            return _as_cached(await asyncio.shield(self._in_flight[key]))
        future: asyncio.Future[ChatResponse] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            response = self.cache.put(request, self._count(await self._with_retries(request)))
            future.set_result(response)
            return response
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: waiters re-raise it, and none may be waiting
            raise
        finally:
            del self._in_flight[key]

    def _count(self, response: ChatResponse) -> ChatResponse:
        self.usage.calls += 1
        self.usage.prompt_tokens += response.prompt_tokens
        self.usage.completion_tokens += response.completion_tokens
        self.usage.cost_usd += response.cost_usd
        return response

    async def _with_retries(self, request: ChatRequest) -> ChatResponse:
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with asyncio.timeout(request.timeout_s):  # unlike wait_for on 3.11, never swallows a Ctrl-C
                    return await self._call(request)
            except ProviderError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below, never swallowed
                if not _is_retryable(exc) or attempt == self.max_attempts:
                    raise ProviderError(
                        f"model {request.model!r} failed after {attempt} attempt(s): {_describe(exc)}"
                    ) from None
                self.usage.retries += 1
                delay = random.uniform(0, min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1)))
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _call(self, request: ChatRequest) -> ChatResponse:
        started = time.perf_counter()
        if request.model == "local" or request.api_base:
            raw = await self._call_openai_compatible(request)
            cost = 0.0
        else:
            raw, cost = await self._call_litellm(request)
        response = _parse(raw, cost)
        return ChatResponse(**{**response.__dict__, "latency_s": time.perf_counter() - started})

    # --- OpenAI-compatible endpoints (the local model, vLLM, gateways) ---
    async def _call_openai_compatible(self, request: ChatRequest) -> Any:
        if request.model == "local":
            base_url, model = await self._local_base_url(), "local"
            api_key = "local"
        else:
            base_url = request.api_base or ""
            model = request.model.split("/", 1)[1] if request.model.startswith("openai/") else request.model
            api_key = os.environ.get("OPENAI_API_KEY", "none")
        return await self._http.chat_completion(base_url, api_key, {"model": model, **_common_kwargs(request)})

    async def _local_base_url(self) -> str:
        async with self._local_lock:
            if self._local_server is None:
                from agentopt.models.local import LocalModelServer

                self._local_server = LocalModelServer()
            if not self._local_server.running:
                await asyncio.to_thread(self._local_server.start)
        return self._local_server.url + "/v1"

    # --- hosted providers through litellm ---
    async def _call_litellm(self, request: ChatRequest) -> tuple[Any, float]:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-map download
        import litellm

        kwargs = _common_kwargs(request)
        raw = await litellm.acompletion(model=request.model, drop_params=True, num_retries=0, **kwargs)
        try:
            cost = float(litellm.completion_cost(completion_response=raw) or 0.0)
        except Exception:  # noqa: BLE001 - unknown price: count tokens, not dollars
            cost = 0.0
        return raw, cost

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._local_server is not None and self._local_server.running:
            await asyncio.to_thread(self._local_server.stop)
        if self.cache is not None:
            self.cache.close()


def _common_kwargs(request: ChatRequest) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "messages": request.messages,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    }
    if request.seed is not None:
        kwargs["seed"] = request.seed
    if request.top_p is not None:
        kwargs["top_p"] = request.top_p
    if request.tools:
        kwargs["tools"] = request.tools
        kwargs["tool_choice"] = request.tool_choice or "auto"
    if request.json_schema is not None:
        kwargs["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "reply", "schema": request.json_schema, "strict": True},
        }
    return kwargs


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _parse(raw: Any, cost: float) -> ChatResponse:
    choices = _get(raw, "choices") or []
    if not choices:
        raise _Retryable("the provider returned no choices")
    message = _get(choices[0], "message")
    if message is None:
        raise _Retryable("the provider returned a choice without a message")
    calls = []
    for index, call in enumerate(_get(message, "tool_calls") or []):
        function = _get(call, "function")
        calls.append(
            ModelToolCall(
                id=str(_get(call, "id") or f"call_{index}"),
                name=str(_get(function, "name") or ""),
                arguments=str(_get(function, "arguments") or "{}"),
            )
        )
    usage = _get(raw, "usage")
    return ChatResponse(
        content=_get(message, "content"),
        tool_calls=calls,
        prompt_tokens=int(_get(usage, "prompt_tokens", 0) or 0) if usage else 0,
        completion_tokens=int(_get(usage, "completion_tokens", 0) or 0) if usage else 0,
        cost_usd=cost,
        finish_reason=_get(choices[0], "finish_reason"),
    )
