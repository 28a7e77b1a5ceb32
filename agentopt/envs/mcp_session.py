"""How the agent acts in an MCP tool environment (OpenEnv's `MCPEnvironment`): the server's
tools, listed and each called as a step over the session's one WebSocket."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import httpx

from agentopt.envs.observation import StepOutcome, ToolSpec, observation_fields
from agentopt.errors import EnvError
from agentopt.redact import redact

if TYPE_CHECKING:
    from agentopt.envs.session import EnvSession


MCP_ACTIONS = ("CallToolAction", "ListToolsAction")
MCP_TYPES = ("call_tool", "list_tools")


def is_mcp_action(schema: dict[str, Any]) -> bool:
    """Whether an action schema is OpenEnv's MCP action (or a union that includes it)."""
    if schema.get("title") in MCP_ACTIONS or set(MCP_ACTIONS) & set(schema.get("$defs") or {}):
        return True
    kind = (schema.get("properties") or {}).get("type")
    if isinstance(kind, dict) and (kind.get("const") in MCP_TYPES or kind.get("default") in MCP_TYPES):
        return True
    return "tool_name" in (schema.get("properties") or {}) and "arguments" in (schema.get("properties") or {})


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


def _tool(payload: dict[str, Any]) -> ToolSpec:
    schema = payload.get("input_schema", payload.get("inputSchema")) or {}
    return ToolSpec(str(payload.get("name", "")), payload.get("description") or "", dict(schema))


async def _tools_before_reset(session: EnvSession) -> list[ToolSpec]:
    """The tools outside an episode (the spec check, the optimizer's tool list): over the
    WebSocket, a `list_tools` step before any reset is refused by environments that need a
    task first (agentopt's own), so these few listings go through OpenEnv's HTTP MCP
    session (MCPToolClient), which asks the environment's MCP server directly."""
    from openenv.core.mcp_client import MCPToolClient

    from agentopt.envs.client import _close_quietly, _tls_context

    session._live()  # closed after a failure: say so, as for any request
    env = session.env
    client = MCPToolClient(base_url=env.url, message_timeout_s=env.step_timeout_s)
    client._http_client = httpx.AsyncClient(verify=_tls_context())  # the CA bundle loaded once per process
    try:
        async with asyncio.timeout(env.step_timeout_s):
            tools = await client.list_tools(use_cache=False)
    except Exception as exc:  # noqa: BLE001 - every failure here is the environment's
        raise EnvError(redact(f"environment {env.target.label}: list_tools failed: {type(exc).__name__}: {exc}"[:400])) from None
    finally:
        await _close_quietly(client)
    return [ToolSpec(t.name, t.description or "", dict(t.input_schema or {})) for t in tools]


class McpActions:
    """Everything over the session's one WebSocket: `list_tools` and `call_tool` are steps the
    server's /ws handler routes to the environment's MCP server (OpenEnv 0.3 and later). OpenEnv's
    MCPToolClient would also open an HTTP MCP session per episode (a new connection and three
    POSTs: session/create, tools/list, session/close), which costs the harness more CPU than the
    episode's steps; the plain WebSocket client does not, and its observations stay JSON
    (no pydantic model per step)."""

    def client(self, url: str, step_timeout_s: float) -> Any:
        from openenv.core.generic_client import GenericEnvClient

        return GenericEnvClient(base_url=url, message_timeout_s=step_timeout_s)

    async def tools(self, session: EnvSession) -> list[ToolSpec]:
        if not session.was_reset:
            return await _tools_before_reset(session)
        result = await session._guard("list_tools", session._live().step({"type": "list_tools"}))
        obs = result.observation if isinstance(result.observation, dict) else {}
        return [_tool(t) for t in obs.get("tools") or [] if isinstance(t, dict)]

    async def call_tool(self, session: EnvSession, name: str, arguments: dict[str, Any]) -> StepOutcome:
        step = session._live().step({"type": "call_tool", "tool_name": name, "arguments": arguments})
        result = await session._guard(f"tool {name!r}", step)
        obs = result.observation if isinstance(result.observation, dict) else {}
        error = obs.get("error")
        raw = obs.get("result")
        is_error = isinstance(raw, dict) and raw.get("is_error")
        text = result_text(raw)
        error_text = (str(error.get("message", error)) if isinstance(error, dict) else str(error)) if error else (text if is_error else None)
        reward = result.reward
        fields = observation_fields(result)
        fields["result"] = text  # for loop.observation_template: the result as the agent reads it
        return StepOutcome(
            text=text if error_text is None else f"ERROR: {error_text}",
            error=error_text,
            reward=float(reward) if reward is not None else None,
            done=bool(result.done),
            metadata=dict(result.metadata or obs.get("metadata") or {}),
            fields=fields,
        )


class McpKind:
    """MCP tool environments (OpenEnv's `MCPEnvironment`): the server's own tools, each call a `call_tool` step."""

    name = "mcp"
    summary = "MCP tool environments: the agent gets the server's tools (list_tools), each call a call_tool step."

    def matches(self, action_schema: dict[str, Any]) -> bool:
        return is_mcp_action(action_schema)

    def actions(self, action_schema: dict[str, Any] | None) -> McpActions:
        return McpActions()
