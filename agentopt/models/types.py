"""What flows in and out of a model call. Plain data: cacheable, loggable, comparable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ChatRequest:
    model: str  # "local" or a litellm model string
    messages: list[dict[str, Any]]
    temperature: float = 0.0
    max_tokens: int = 512
    seed: int | None = 0
    top_p: float | None = None
    tools: list[dict[str, Any]] | None = None  # OpenAI tool schemas (native tool calling)
    tool_choice: str | None = None  # "auto" | "required" | None
    json_schema: dict[str, Any] | None = None  # constrain the reply to this JSON Schema
    api_base: str | None = None
    timeout_s: float = 120.0

    def cache_key_fields(self) -> dict[str, Any]:
        """Everything that determines the answer (the timeout does not)."""
        data = asdict(self)
        data.pop("timeout_s")
        return data


@dataclass(frozen=True)
class ModelToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as the model wrote it (may be invalid)


@dataclass(frozen=True)
class ChatResponse:
    content: str | None
    tool_calls: list[ModelToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    cached: bool = False  # answered from the on-disk cache: no provider call was made
    finish_reason: str | None = None


class ChatModel(Protocol):
    """Anything that answers chat requests. `agentopt.models.client.ModelClient` is the real one."""

    async def chat(self, request: ChatRequest) -> ChatResponse: ...
