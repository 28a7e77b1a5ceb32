"""The conformance suite every environment kind passes (the `agentopt.env_kinds` extension point).

Subclass `EnvironmentKindConformance` and give it the kind as the `kind` fixture; agentopt's
own suite runs it over every registered kind (tests/envs/test_env_kind_conformance.py).
Without a server it checks the Protocol, that `matches` answers a bool for any action schema
(the same every time, the schema left as it was) without claiming every schema (only the
built-in `typed`, asked last, may), and that `actions` gives a session's `Actions`. Give a
running server of the kind and one valid action as the `served` fixture (`Served`) and it also
checks that probing the server finds this kind and that an episode's session runs: reset, the
tools, a wrong tool name answered as the agent's error (the session goes on), then the action
as one step.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agentopt.envs.kind import EnvironmentKind, kind_problem, probe
from agentopt.envs.observation import StepOutcome, ToolSpec
from agentopt.envs.session import RunningEnv, parse_env

CATCH_ALL = "typed"  # the one kind that takes any schema: asked last
UNKNOWN_TOOL = "agentopt_conformance_no_such_tool"

# Action schemas as OpenEnv servers publish them at GET /schema.
SCHEMAS: dict[str, dict[str, Any]] = {
    "mcp call_tool": {"title": "CallToolAction", "type": "object", "properties": {
        "type": {"const": "call_tool", "default": "call_tool", "type": "string"}, "tool_name": {"type": "string"},
        "arguments": {"type": "object"}, "metadata": {"type": "object"}}, "required": ["tool_name"]},
    "typed code": {"title": "CodeAction", "type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
    "typed enum": {"title": "GridAction", "type": "object", "properties": {
        "direction": {"enum": ["up", "down", "left", "right"], "type": "string"}, "metadata": {"type": "object"}}},
    "nested": {"title": "Order", "type": "object", "$defs": {"Item": {"type": "object", "properties": {"sku": {"type": "string"}}}},
               "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/Item"}}, "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}}},
    "untitled": {"type": "object"},
}


@dataclass(frozen=True)
class Served:
    """A running server of the kind under test and one action the agent could take in it."""

    url: str
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    reset: dict[str, Any] = field(default_factory=lambda: {"split": "val", "index": 0, "seed": 0})


class EnvironmentKindConformance:
    @pytest.fixture
    def kind(self) -> EnvironmentKind:
        raise NotImplementedError("give the environment kind under test as the `kind` fixture")

    @pytest.fixture
    def schemas(self, kind: EnvironmentKind) -> list[dict[str, Any]]:
        """Action schemas the kind recognises: by default those of `SCHEMAS` it matches."""
        return [s for s in SCHEMAS.values() if kind.matches(copy.deepcopy(s))]

    @pytest.fixture
    def served(self, kind: EnvironmentKind) -> Served:
        pytest.skip(f"environment kind {kind.name!r}: give a server of this kind as the `served` fixture to run a session")

    def test_declares_the_environment_kind_protocol(self, kind: EnvironmentKind) -> None:
        assert kind_problem(kind) is None, kind_problem(kind)
        assert kind.name.strip() and kind.name == kind.name.strip() and " " not in kind.name
        assert kind.summary.strip() and "\n" not in kind.summary

    def test_matches_answers_a_bool_for_any_schema_the_same_every_time(self, kind: EnvironmentKind) -> None:
        for label, schema in SCHEMAS.items():
            given = copy.deepcopy(schema)
            first = kind.matches(given)
            assert isinstance(first, bool), f"{label}: matches returned {first!r}"
            assert kind.matches(given) is first, label
            assert given == schema, f"{label}: matches changed the schema"

    def test_only_the_catch_all_kind_takes_every_schema(self, kind: EnvironmentKind) -> None:
        # A kind from a package is asked before the built-ins: taking every schema would take MCP servers too.
        if kind.name != CATCH_ALL:
            assert not all(kind.matches(copy.deepcopy(s)) for s in SCHEMAS.values()), "matches takes every action schema"

    def test_actions_give_a_session_client_tools_and_steps(self, kind: EnvironmentKind, schemas: list[dict[str, Any]]) -> None:
        assert schemas, "the kind recognises none of SCHEMAS: give action schemas it matches as the `schemas` fixture"
        for schema in schemas:
            actions = kind.actions(copy.deepcopy(schema))
            assert inspect.iscoroutinefunction(actions.tools) and inspect.iscoroutinefunction(actions.call_tool)
            client = actions.client("http://127.0.0.1:9", 5.0)  # built, not connected: nothing listens there
            for method in ("connect", "reset"):
                assert callable(getattr(client, method, None)), f"the client has no {method}()"

    def test_probing_the_server_finds_this_kind(self, kind: EnvironmentKind, served: Served) -> None:
        found = asyncio.run(probe(served.url, served.url))
        assert found is not None and found.kind == kind.name, found

    def test_a_session_resets_lists_tools_and_steps(self, kind: EnvironmentKind, served: Served, tmp_path: Path) -> None:
        env = RunningEnv(parse_env(served.url), tmp_path / "logs", step_timeout_s=30).start()
        try:
            tools, wrong, step = asyncio.run(self._episode(env, served))
        finally:
            env.stop()
        assert all(isinstance(t, ToolSpec) and t.name and isinstance(t.input_schema, dict) for t in tools), tools
        assert served.tool in [t.name for t in tools]
        assert isinstance(wrong, StepOutcome) and wrong.error and "\n" not in wrong.error.strip() and not wrong.done
        assert isinstance(step, StepOutcome) and step.error is None, step
        assert isinstance(step.text, str) and isinstance(step.done, bool)
        assert step.reward is None or isinstance(step.reward, float)

    @staticmethod
    async def _episode(env: RunningEnv, served: Served) -> tuple[list[ToolSpec], StepOutcome, StepOutcome]:
        async with env.session() as session:
            reset = dict(served.reset)
            await session.reset(reset.pop("split"), reset.pop("index"), reset.pop("seed", None), **reset)
            tools = await session.tools()
            wrong = await session.call_tool(UNKNOWN_TOOL, {})  # the agent's mistake, not the session's end
            step = await session.call_tool(served.tool, served.arguments)
        return tools, wrong, step
