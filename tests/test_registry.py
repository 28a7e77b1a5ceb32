"""Extension points (agentopt.registry): built-ins, then what installed packages declare as entry points."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from agentopt.errors import UsageError
from agentopt.optimizer.types import operator_problem
from agentopt.registry import Registry


class Thing:
    def __init__(self, name: str = "builtin"):
        self.name = name

    def run(self) -> str:
        return self.name


def thing_problem(item: object) -> str | None:
    if not isinstance(getattr(item, "name", None), str):
        return "it has no `name`"
    return None if callable(getattr(item, "run", None)) else "it has no method `run`"


def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str, entry_points: str) -> None:
    """An installed distribution as importlib.metadata finds one: a module and a .dist-info on sys.path."""
    (tmp_path / "thingplugin.py").write_text(code)
    info = tmp_path / "thingplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thingplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "thingplugin", raising=False)  # another test's copy


def registry() -> Registry[Thing]:
    return Registry("agentopt.test_things", "thing", lambda: [Thing()], thing_problem)


PLUGIN = "class Extra:\n    name = 'extra'\n    def run(self):\n        return 'from a package'\n"


def test_a_package_adds_one_through_its_entry_point(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, PLUGIN, "[agentopt.test_things]\nextra = thingplugin:Extra\n")
    things = registry()
    assert things.names() == ["builtin", "extra"]
    assert things.get("extra").run() == "from a package"
    assert things.origin("extra") == "entry point agentopt.test_things:extra (thingplugin:Extra)"
    assert things.origin("builtin") == "agentopt"


@pytest.mark.parametrize(
    ("code", "entry", "message"),
    [
        (PLUGIN, "builtin = thingplugin:Extra", r"^entry point agentopt.test_things:builtin \(thingplugin:Extra\): the thing is named 'extra', not 'builtin'"),
        ("class Extra:\n    name = 'builtin'\n    def run(self): ...\n", "builtin = thingplugin:Extra",
         r"a thing named 'builtin' is already registered by agentopt; rename it$"),
        ("raise RuntimeError('boom\\nsecond line')\n", "extra = thingplugin:Extra",
         r"cannot load the thing: RuntimeError: boom\\nsecond line$"),
        ("class Extra:\n    name = 'extra'\n", "extra = thingplugin:Extra", r"not a thing: it has no method `run`$"),
    ],
    ids=["misnamed", "shadows a built-in", "fails to import", "does not conform"],
)
def test_a_broken_plugin_is_one_usage_error_naming_its_entry_point(tmp_path, monkeypatch, code, entry, message):
    install(tmp_path, monkeypatch, code, f"[agentopt.test_things]\n{entry}\n")
    with pytest.raises(UsageError, match=message) as raised:
        registry().all()
    assert "\n" not in str(raised.value)


def test_an_operator_must_declare_what_it_edits_its_first_settings_and_whether_it_needs_a_mutator():
    class Bare:
        name = "bare"

        def search_space(self, parent):
            return {}

        async def propose(self, ctx):
            return None

    assert operator_problem(Bare()) == "it has no `edits`"
    Bare.edits, Bare.first_params = "prompt", {}
    assert operator_problem(Bare()) == "it has no `needs_mutator`"
    Bare.needs_mutator = False
    assert operator_problem(Bare()) == "`edits` is 'prompt', not one of system_prompt, skills, tools, examples or None"
    Bare.edits = None
    assert operator_problem(Bare()) is None


def test_a_component_is_parsed_once_and_stays_the_text_the_journal_keeps():
    from agentopt.records import Component

    skill = Component("skill:refunds")
    assert (skill.kind, skill.name, skill.edits) == ("skill", "refunds", "skills")
    assert skill == "skill:refunds" and json.dumps({"component": skill}) == '{"component": "skill:refunds"}'
    assert Component.tool("lookup").edits == "tools" and Component("system_prompt").name is None
    assert Component("merge").edits is None and Component("examples").edits == "examples"
    assert (skill.named("skill"), skill.named("tool"), Component("system_prompt").named("skill")) == ("refunds", None, None)
    for bad in ("skill", "skill:", "system_prompt:x", "Skill:x", ""):
        with pytest.raises(ValueError):
            Component(bad)


def test_an_environment_kind_from_a_package_is_asked_before_the_built_ins():
    from agentopt.envs.kind import ENV_KINDS, EnvKind, actions_for, detect
    from agentopt.envs.mcp_session import McpActions
    from agentopt.envs.typed_session import TypedActions

    mcp = {"title": "CallToolAction", "properties": {"type": {"const": "call_tool"}}}
    code = {"title": "CodeAction", "properties": {"code": {"type": "string"}}, "required": ["code"]}
    assert ENV_KINDS.names() == ["mcp", "typed"]
    assert (detect(mcp).name, detect(code).name) == ("mcp", "typed")
    assert isinstance(actions_for(None), McpActions)  # not probed yet: an older MCP server
    typed = actions_for(EnvKind("typed", code))
    assert isinstance(typed, TypedActions) and typed.tool.name == "code_action"

    class Shell:
        name, summary = "shell", "Shell environments: one command per step."

        def matches(self, action_schema):
            return action_schema.get("title") == "CodeAction"

        def actions(self, action_schema):
            return TypedActions(action_schema or {})

    ENV_KINDS.add(Shell(), origin="entry point agentopt.env_kinds:shell (test)")
    try:
        assert (detect(code).name, detect(mcp).name) == ("shell", "mcp")
    finally:
        ENV_KINDS.reload()
    assert detect(code).name == "typed"
