"""How the agent acts in an MCP tool environment (OpenEnv's `MCPEnvironment`): the server's
tools, each call a `call_tool` step over the session's WebSocket (OpenEnv's MCPToolClient)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from agentopt.envs.observation import StepOutcome, ToolSpec, observation_fields

if TYPE_CHECKING:
    from agentopt.envs.session import EnvSession


def result_text(result: Any) -> str:
    """An MCP tool result as text: its text blocks, else its data, else JSON."""
    if isinstance(result, dict):
        blocks = result.get("content") or []
        texts = [b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
        if texts:
            return "\n".join(texts)
        if "data" in result and result["data"] is not None:
            return result["data"] if isinstance(result["data"], str) else json.dumps(result["data"])
    return "" if result is None else (result if isinstance(result, str) else json.dumps(result, default=str))


class McpActions:
    def client(self, url: str, step_timeout_s: float) -> Any:
        from openenv.core.mcp_client import MCPToolClient

        return MCPToolClient(base_url=url, message_timeout_s=step_timeout_s)

    async def tools(self, session: EnvSession) -> list[ToolSpec]:
        tools = await session._guard("list_tools", session._live().list_tools(use_cache=False))
        return [ToolSpec(t.name, t.description or "", dict(t.input_schema or {})) for t in tools]

    async def call_tool(self, session: EnvSession, name: str, arguments: dict[str, Any]) -> StepOutcome:
        from openenv.core.env_server.mcp_types import CallToolAction

        step = session._live().step(CallToolAction(tool_name=name, arguments=arguments))
        result = await session._guard(f"tool {name!r}", step)
        obs = result.observation
        error = getattr(obs, "error", None)
        raw = getattr(obs, "result", None)
        is_error = isinstance(raw, dict) and raw.get("is_error")
        text = result_text(raw)
        error_text = error.message if error is not None else (text if is_error else None)
        reward = result.reward
        fields = observation_fields(result)
        fields["result"] = text  # for loop.observation_template: the result as the agent reads it
        return StepOutcome(
            text=text if error_text is None else f"ERROR: {error_text}",
            error=error_text,
            reward=float(reward) if reward is not None else None,
            done=bool(result.done),
            metadata=dict(result.metadata or getattr(obs, "metadata", {}) or {}),
            fields=fields,
        )
