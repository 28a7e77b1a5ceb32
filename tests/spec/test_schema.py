"""The JSON Schemas: valid for editors, described field by field, in step with the loader and docs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from agentopt.spec.load import validate_files
from agentopt.spec.schema import agent_json_schema, rubric_json_schema

from .test_load_agent import FULL
from .test_load_rubric import VALID

DOCS = Path(__file__).parents[2] / "docs" / "formats.md"


def accepts(schema: dict[str, Any], text: str) -> bool:
    return Draft202012Validator(schema).is_valid(yaml.safe_load(text))


def properties(schema: Any):
    """Every (name, subschema) listed under a `properties` anywhere in the schema."""
    if isinstance(schema, dict):
        yield from schema.get("properties", {}).items()
        for value in schema.values():
            yield from properties(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from properties(value)


def check_of(rubric: dict[str, Any]) -> dict[str, Any]:
    """The schema of a criterion's `check` (criteria items refer to the Criterion definition)."""
    ref = rubric["properties"]["criteria"]["items"]["$ref"]
    return rubric["$defs"][ref.rsplit("/", 1)[-1]]["properties"]["check"]


def test_schemas_are_valid_draft_2020_12(fake_checks):
    for schema in (agent_json_schema(), rubric_json_schema()):
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def described(schema: dict[str, Any], sub: dict[str, Any]) -> bool:
    """A field's own description, or that of the definition it refers to (pydantic writes it once)."""
    if sub.get("description"):
        return True
    ref = sub.get("$ref", "")
    return bool(ref) and bool(schema["$defs"][ref.rsplit("/", 1)[-1]].get("description"))


def test_every_field_has_a_description(fake_checks):
    for schema in (agent_json_schema(), rubric_json_schema()):
        missing = [name for name, sub in properties(schema) if not described(schema, sub)]
        assert missing == []


def test_agent_schema_accepts_valid_and_rejects_broken_specs():
    schema = agent_json_schema()
    assert accepts(schema, FULL)
    assert accepts(schema, "name: x\n")
    assert not accepts(schema, FULL.replace("temperature: 0.5", "temperature: hot"))
    assert not accepts(schema, FULL.replace("tool_mode: native", "tool_mode: fast"))
    assert not accepts(schema, FULL + "unknown: 1\n")
    assert not accepts(schema, "model: local\n")


def test_rubric_check_is_one_of_the_registered_checks(fake_checks):
    check = check_of(rubric_json_schema())
    branches = {b["properties"]["type"]["const"]: b for b in check["oneOf"]}
    assert sorted(branches) == ["t_match", "t_reply"]
    assert branches["t_match"]["required"] == ["type", "pattern"]
    assert branches["t_match"]["additionalProperties"] is False
    assert branches["t_match"]["description"] == "The answer matches a regex."


def test_rubric_schema_accepts_valid_and_rejects_broken_rubrics(fake_checks):
    schema = rubric_json_schema()
    assert accepts(schema, VALID)
    assert not accepts(schema, VALID.replace("type: t_match", "type: t_mach"))
    assert not accepts(schema, VALID.replace('pattern: "billing|tech"', 'patern: "billing|tech"'))
    assert not accepts(schema, VALID.replace("pass_threshold: 0.8", "pass_threshold: 2"))
    assert not accepts(schema, VALID.replace("id: matches", "id: Matches"))


def test_rubric_schema_covers_every_builtin_check(builtin_checks):
    check = check_of(rubric_json_schema())
    assert sorted(b["properties"]["type"]["const"] for b in check["oneOf"]) == sorted(builtin_checks)


# --- docs/formats.md stays true ---------------------------------------------------------------


def doc_examples() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), re.DOTALL)


def test_docs_examples_are_valid(builtin_checks, tmp_path: Path):
    agent, rubric = [text for text in doc_examples() if text.startswith("name:")]
    assert accepts(agent_json_schema(), agent)
    assert accepts(rubric_json_schema(), rubric)
    (tmp_path / "skills").mkdir()
    (tmp_path / "skills" / "refunds.md").write_text("---\nname: refunds\ndescription: Refunds.\n---\nBody\n")
    (tmp_path / "agent.yaml").write_text(agent)
    (tmp_path / "rubric.yaml").write_text(rubric)
    assert validate_files([str(tmp_path / "agent.yaml"), str(tmp_path / "rubric.yaml")]) == []


def test_docs_list_every_builtin_check_and_its_fields(builtin_checks):
    rows = re.findall(r"^\| `(\w+)` \| (.*?) \|", DOCS.read_text(), re.MULTILINE)
    documented = {name: set(re.findall(r"`(\w+)`", fields)) for name, fields in rows if name in builtin_checks}
    assert sorted(documented) == sorted(builtin_checks)
    for name, check in builtin_checks.items():
        assert documented[name] == set(check.params_schema.get("properties", {})), name
