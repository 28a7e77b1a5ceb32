"""How the agent acts in a typed-action environment (an `Environment` with its own Action
model): one tool named after the action, its parameters the action's JSON Schema; each
call is one `step(action)` over the session's WebSocket (OpenEnv's GenericEnvClient).

Arguments are checked against the schema before they are sent, so a malformed action is an
error the agent reads (and may correct), not a server error; an action the server still
rejects, or one its `step` raises on, is shown to the agent the same way. The episode goes
on: the server keeps the session after such an error.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

import jsonschema

from agentopt.envs.observation import StepOutcome, ToolSpec, observation_fields, step_text

if TYPE_CHECKING:
    from agentopt.envs.session import EnvSession

# OpenEnv's client raises RuntimeError("Server error: MESSAGE (code: CODE)") for an error frame.
_REJECTED = re.compile(r"^Server error: (?P<message>.*) \(code: (?P<code>VALIDATION_ERROR|EXECUTION_ERROR)\)$", re.S)


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


class _Rejected:
    """The server refused the action, or its step raised: the agent's error, not the session's
    (returned, not raised, so the session's guard does not end the episode)."""

    def __init__(self, message: str):
        self.message = message


async def _step(client: Any, action: dict[str, Any]) -> Any:
    try:
        return await client.step(action)
    except RuntimeError as exc:
        found = _REJECTED.match(str(exc))
        if found is None:
            raise
        what = "invalid action" if found["code"] == "VALIDATION_ERROR" else "the environment could not run this action"
        return _Rejected(f"{what}: {found['message']}")


class TypedActions:
    def __init__(self, action_schema: dict[str, Any]):
        params = tool_parameters(action_schema)
        self.tool = ToolSpec(tool_name(action_schema), tool_description(action_schema), params)
        try:
            self._validator: Any = jsonschema.validators.validator_for(params)(params)
        except (jsonschema.SchemaError, TypeError, ValueError):
            self._validator = None  # the server validates anyway

    def client(self, url: str, step_timeout_s: float) -> Any:
        from agentopt.envs.client import session_client

        return session_client(url, step_timeout_s)

    async def tools(self, session: EnvSession) -> list[ToolSpec]:
        return [self.tool]

    def _problem(self, name: str, arguments: dict[str, Any]) -> str | None:
        if name != self.tool.name:
            return f"there is no tool {name!r}: act with {self.tool.name!r}"
        if self._validator is None:
            return None
        error = next(iter(sorted(self._validator.iter_errors(arguments), key=lambda e: list(e.path))), None)
        if error is None:
            return None
        where = ".".join(str(p) for p in error.path)
        return f"invalid arguments for {name}: {where + ': ' if where else ''}{error.message}"[:500]

    async def call_tool(self, session: EnvSession, name: str, arguments: dict[str, Any]) -> StepOutcome:
        problem = self._problem(name, arguments)
        if problem is None:
            result = await session._guard(f"action {name!r}", _step(session._live(), arguments))
            if isinstance(result, _Rejected):
                problem = result.message[:500]
        if problem is not None:
            return StepOutcome(text=f"ERROR: {problem}", error=problem, reward=None, done=False, metadata={})
        fields = observation_fields(result)
        reward = result.reward
        return StepOutcome(
            text=step_text(fields),
            error=None,
            reward=float(reward) if reward is not None else None,
            done=bool(result.done),
            metadata=dict(fields.get("metadata") or {}),
            fields=fields,
        )


class TypedKind:
    """Typed-action environments (`create_app(factory, MyAction, MyObservation)`): one tool, the action.

    It takes any action schema: the kind a server is when no other kind recognises its action."""

    name = "typed"
    summary = "Typed-action environments: the agent gets one tool, the action's JSON Schema; each call is a step."

    def matches(self, action_schema: dict[str, Any]) -> bool:
        return True

    def actions(self, action_schema: dict[str, Any] | None) -> TypedActions:
        return TypedActions(action_schema or {})
