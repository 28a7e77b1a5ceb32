"""Which of OpenEnv's two kinds of environment a server is, learnt once from the server.

- **MCP tool environments** (`MCPEnvironment`): the action is OpenEnv's `CallToolAction`;
  the agent gets the server's tools (`list_tools`) and each call is a `call_tool` step.
- **Typed-action environments** (an `Environment` served by `create_app(factory, MyAction,
  MyObservation)`): the action is the environment's own pydantic model. The agent gets ONE
  tool named after the action (`CodeAction` -> `code_action`) whose parameters are the
  action's JSON Schema (without OpenEnv's own `metadata` field); each call is a `step`.

The server publishes its action schema at `GET /schema`. A server without `/schema` is
taken for an older MCP server when it has a `/ws` WebSocket endpoint; one without either is
not an OpenEnv server, which is said in one line.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from agentopt.errors import InfraError, one_line

MCP_ACTIONS = ("CallToolAction", "ListToolsAction")
MCP_TYPES = ("call_tool", "list_tools")
PROBE_TIMEOUT_S = 10.0


class NotAnOpenEnvServer(InfraError):
    """The URL answers, but not as an OpenEnv server: no episode can run, so the run stops."""


@dataclass(frozen=True)
class EnvKind:
    kind: str  # "mcp" or "typed"
    action_schema: dict[str, Any] | None = None  # typed: the action's JSON Schema from /schema


def is_mcp_action(schema: dict[str, Any]) -> bool:
    """Whether an action schema is OpenEnv's MCP action (or a union that includes it)."""
    if schema.get("title") in MCP_ACTIONS or set(MCP_ACTIONS) & set(schema.get("$defs") or {}):
        return True
    kind = (schema.get("properties") or {}).get("type")
    if isinstance(kind, dict) and (kind.get("const") in MCP_TYPES or kind.get("default") in MCP_TYPES):
        return True
    return "tool_name" in (schema.get("properties") or {}) and "arguments" in (schema.get("properties") or {})


def tool_name(schema: dict[str, Any]) -> str:
    """The agent's tool for a typed action: its schema's title in snake case (`CodeAction` ->
    `code_action`), `act` when it has none."""
    title = str(schema.get("title") or "")
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", title)
    name = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_").lower()
    return name[:64] or "act"


def tool_parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """The action's JSON Schema as a tool's parameters: OpenEnv's own `metadata` field and the
    schema's title and description (the tool's name and description carry them) left out."""
    params = copy.deepcopy(schema)
    params.pop("title", None)
    params.pop("description", None)
    params.setdefault("type", "object")
    properties = params.setdefault("properties", {})
    properties.pop("metadata", None)
    if "required" in params:
        params["required"] = [r for r in params["required"] if r != "metadata"]
        if not params["required"]:
            del params["required"]
    return params


def tool_description(schema: dict[str, Any]) -> str:
    described = str(schema.get("description") or "").strip()
    title = schema.get("title") or "action"
    return described or f"Take one step in the environment: send one {title}."


async def probe(url: str, label: str, verify: Any = True, timeout_s: float = PROBE_TIMEOUT_S) -> EnvKind | None:
    """The server's kind; None when it cannot be reached (the session's connect then reports
    why, with the crash report of a server we launched). Raises NotAnOpenEnvServer when it
    answers HTTP but has neither `/schema` nor a `/ws` WebSocket endpoint."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s, verify=verify) as client:
            response = await client.get(f"{url}/schema")
    except (httpx.HTTPError, OSError):
        return None
    try:
        body = response.json() if response.status_code == 200 else None
    except (ValueError, UnicodeDecodeError):
        body = None
    action = body.get("action") if isinstance(body, dict) else None
    if isinstance(action, dict) and action:
        return EnvKind("mcp") if is_mcp_action(action) else EnvKind("typed", action)
    answered = f"GET /schema answered HTTP {response.status_code}" + ("" if response.status_code != 200 else " without an action schema")
    websocket = await _has_websocket(url, timeout_s)
    if websocket is False:
        raise NotAnOpenEnvServer(one_line(f"--env {label}: not an OpenEnv server (no /ws WebSocket endpoint; {answered})"))
    return EnvKind("mcp")  # an OpenEnv server older than /schema: MCP, as agentopt always assumed


async def _has_websocket(url: str, timeout_s: float) -> bool | None:
    """Whether `/ws` accepts a WebSocket (closed again at once); None when unreachable."""
    from openenv.core.utils import convert_to_ws_url
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake

    try:
        async with asyncio.timeout(timeout_s):
            async with connect(f"{convert_to_ws_url(url)}/ws", open_timeout=timeout_s) as ws:
                await ws.send(json.dumps({"type": "close"}))
        return True
    except InvalidHandshake:  # an HTTP answer that is not a WebSocket upgrade (404, 403, ...)
        return False
    except (OSError, TimeoutError, ValueError):
        return None
    except Exception:  # noqa: BLE001 - e.g. the socket closed during the close handshake: it was a WebSocket
        return True
