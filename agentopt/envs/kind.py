"""Which kind of OpenEnv environment a server is, learnt once from the server; the kinds are an
extension point (`EnvironmentKind`, registry `ENV_KINDS`, entry-point group `agentopt.env_kinds`).
The two built-ins:

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
import json
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from agentopt.errors import InfraError, one_line
from agentopt.registry import Registry, missing_attributes

PROBE_TIMEOUT_S = 10.0


class NotAnOpenEnvServer(InfraError):
    """The URL answers, but not as an OpenEnv server: no episode can run, so the run stops."""


@dataclass(frozen=True)
class EnvKind:
    """What probing a server learnt: its kind's name, and the action schema it published."""

    kind: str  # a registered EnvironmentKind's name: "mcp", "typed", or a plug-in's
    action_schema: dict[str, Any] | None = None  # the action's JSON Schema from /schema (None: an older MCP server)


class Actions(Protocol):
    """How the agent acts in one episode's session of an environment of some kind
    (`mcp_session.McpActions`, `typed_session.TypedActions`)."""

    def client(self, url: str, step_timeout_s: float) -> Any:
        """The session's WebSocket client (OpenEnv's), not yet connected."""
        ...

    async def tools(self, session: Any) -> list[Any]:
        """The tools the agent gets (`observation.ToolSpec`)."""
        ...

    async def call_tool(self, session: Any, name: str, arguments: dict[str, Any]) -> Any:
        """One action of the agent as a step (`observation.StepOutcome`)."""
        ...


class EnvironmentKind(Protocol):
    """A kind of OpenEnv environment: the extension point `ENV_KINDS` (entry-point group
    `agentopt.env_kinds`). `matches` recognises a server's action schema (GET /schema); the
    first kind that does is the server's (plug-ins are asked before the built-ins, `typed`, which
    takes any schema, last)."""

    name: str
    summary: str

    def matches(self, action_schema: dict[str, Any]) -> bool: ...

    def actions(self, action_schema: dict[str, Any] | None) -> Actions: ...


def kind_problem(item: object) -> str | None:
    return missing_attributes(item, {"name": str, "summary": str}, ("matches", "actions"))


def _builtins() -> list[EnvironmentKind]:
    from agentopt.envs.mcp_session import McpKind
    from agentopt.envs.typed_session import TypedKind

    return [McpKind(), TypedKind()]


ENV_KINDS: Registry[EnvironmentKind] = Registry("agentopt.env_kinds", "environment kind", _builtins, kind_problem)
OLDER_SERVER = "mcp"  # a server older than GET /schema: MCP, as agentopt always assumed


def detect(action_schema: dict[str, Any]) -> EnvironmentKind:
    """The kind whose `matches` recognises the schema first: plug-ins, then the built-ins in order."""
    kinds = ENV_KINDS.all()
    order = [n for n in kinds if ENV_KINDS.origin(n) != "agentopt"] + ENV_KINDS.builtin_names()
    return next(kinds[n] for n in order if kinds[n].matches(action_schema))


def actions_for(kind: EnvKind | None) -> Actions:
    """How the agent acts in a session of a server of `kind` (None: not probed yet, taken for MCP)."""
    if kind is None:
        return ENV_KINDS.get(OLDER_SERVER).actions(None)
    return ENV_KINDS.get(kind.kind).actions(kind.action_schema)


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
        return EnvKind(detect(action).name, action)
    answered = f"GET /schema answered HTTP {response.status_code}" + ("" if response.status_code != 200 else " without an action schema")
    websocket = await _has_websocket(url, timeout_s)
    if websocket is False:
        raise NotAnOpenEnvServer(one_line(f"--env {label}: not an OpenEnv server (no /ws WebSocket endpoint; {answered})"))
    return EnvKind(OLDER_SERVER)  # an OpenEnv server older than /schema


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
