"""How the agent acts in an MCP tool environment (OpenEnv's `MCPEnvironment`): the server's
tools (listed once per launch of the server), each call a `call_tool` step over the
session's one WebSocket."""

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
    """The tools through OpenEnv's HTTP MCP session (MCPToolClient), which asks the
    environment's MCP server directly: no reset needed (a `list_tools` step over the
    WebSocket is refused before a reset by environments that need a task first)."""
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
    """An episode is one WebSocket session (OpenEnv's plain GenericEnvClient): each `call_tool`
    is a step, as OpenEnv's MCPToolClient sends it, and observations stay JSON (no pydantic
    model per step). MCPToolClient would also open an HTTP MCP session per episode (a new
    connection and three POSTs: session/create, tools/list, session/close), which cost the
    harness more CPU than the episode's steps; the tools are listed that way once per launch
    of the server instead (`tools`)."""

    def client(self, url: str, step_timeout_s: float) -> Any:
        from agentopt.envs.client import session_client

        return session_client(url, step_timeout_s)

    async def tools(self, session: EnvSession) -> list[ToolSpec]:
        """The server's tools, listed once per launch of the server (HTTP MCP tools/list, which
        asks the environment's MCP server directly) and kept: a `list_tools` step over the
        WebSocket would pass through the environment's own `step` (its step count, its
        overrides) and an HTTP MCP session per episode cost three POSTs and a connection."""
        env = session.env
        cached = getattr(env, "_mcp_tools", None)
        if cached is not None and cached[0] == env.generation:
            return list(cached[1])
        tools = await _tools_before_reset(session)
        env._mcp_tools = (env.generation, tuple(tools))
        return tools

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
