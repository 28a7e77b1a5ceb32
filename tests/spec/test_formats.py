"""One definition per format: the pydantic models validate files, and the JSON Schema generated from
them accepts exactly what they accept.

Every shipped file (agents/, rubrics/, examples/, the `agentopt init` templates with every commented
check example switched on) must load; then each
is broken in the ways the schema can express (unknown field, wrong type, missing required field, value
not in an enum, out of range) and the loader and the generated schema must agree on every one, the
loader with one `file:line:col: field: message` line naming the field.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import ValidationError as ModelError

from agentopt import project
from agentopt.commands.init import TEMPLATES, planned
from agentopt.scoring.base import all_checks
from agentopt.spec import yaml_source
from agentopt.spec.agent import AgentSpec, LoopSettings, ToolOverride
from agentopt.spec.load import load_agent, load_rubric, validate_file
from agentopt.spec.rubric import Criterion, Rubric
from agentopt.spec.schema import agent_json_schema, rubric_json_schema

REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<field>[\w.\[\]]+): (?P<message>.+)$")


def shipped(tmp: Path) -> dict[str, list[Path]]:
    """Every agent spec (and, as the formats move over, every other file) the project ships, by kind."""
    files: dict[str, list[Path]] = {"agent": [], "rubric": [], "project": []}
    examples = sorted((REPO / "examples").rglob("*.yaml"))
    files["agent"] += sorted((REPO / "agents").glob("*.yaml"))
    files["agent"] += [p for p in examples if "criteria" not in p.read_text()]
    files["rubric"] += sorted((REPO / "rubrics").glob("*.yaml"))
    files["rubric"] += [p for p in examples if "criteria" in p.read_text()]
    for template in TEMPLATES:
        for path, text in planned(template, tmp / template).items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            kind = {"agents": "agent", "rubrics": "rubric"}.get(path.parent.name)
            kind = "project" if project.is_project_file(path) else kind
            if kind:
                files[kind].append(path)
            if kind == "rubric":  # and every commented example of a check, switched on
                every = tmp / template / "rubrics" / "every_check.yaml"
                lines = [line[2:] for line in text.splitlines() if line.startswith("#  ")]
                every.write_text("name: every check\ncriteria:\n" + "\n".join(lines) + "\n")
                files["rubric"].append(every)
    return files


def project_schema() -> dict[str, Any]:
    return project.SCHEMA


SCHEMAS = {"agent": agent_json_schema, "rubric": rubric_json_schema, "project": project_schema}


def problems_in(kind: str, path: Path) -> list[Any]:
    return project.project_problems(path) if kind == "project" else validate_file(str(path))


def schema_accepts(kind: str, path: Path) -> bool:
    data = yaml_source.read(str(path)).data
    return Draft202012Validator(SCHEMAS[kind]()).is_valid(data)


def test_every_shipped_file_validates_and_the_schema_accepts_it(tmp_path: Path):
    files = shipped(tmp_path)
    assert len(files["agent"]) >= 4 and len(files["rubric"]) >= 6 and len(files["project"]) >= 2
    for kind, paths in files.items():
        for path in paths:
            assert problems_in(kind, path) == [], path
            assert schema_accepts(kind, path), path
    every = [p for p in files["rubric"] if p.name == "every_check.yaml"]
    assert {c.check for p in every for c in load_rubric(str(p)).criteria} == set(all_checks())


# --- the loader and the schema agree, on good files and broken ones -----------------------------

KEEP = object()  # a mutation that deletes the field
AGENT_BREAKS: list[tuple[str, tuple[Any, ...], Any]] = [  # (what, where, value: KEEP deletes it)
    ("unknown field", ("colour",), "blue"),
    ("unknown field", ("model_params", "temprature"), 0.5),
    ("unknown field", ("loop", "max_turn"), 3),
    ("unknown field", ("tools", "submit", "descripton"), "x"),
    ("unknown field", ("optimize", "search_space", "model"), ["local"]),
    ("unknown field", ("params",), {"temperature": 0.1}),  # the Python name, not the file's
    ("unknown field", ("source",), "elsewhere.yaml"),  # set by the loader, never by a file
    ("wrong type", ("name",), 3),
    ("wrong type", ("model_params", "temperature"), "hot"),
    ("wrong type", ("model_params", "max_tokens"), "many"),
    ("wrong type", ("model_params", "seed"), 1.5),
    ("wrong type", ("model_params", "timeout_s"), True),
    ("wrong type", ("loop", "final_answer"), "yes"),
    ("wrong type", ("loop", "max_turns"), [1]),
    ("wrong type", ("tools",), ["submit"]),
    ("wrong type", ("tools",), []),
    ("wrong type", ("tools",), [{"name": "submit", "description": "S."}]),  # the Python shape
    ("wrong type", ("optimize", "search_space", "temperature"), [0, 1]),  # the Python shape
    ("wrong type", ("tools", "submit"), "just text"),
    ("wrong type", ("tools", "submit", "hidden"), "no"),
    ("wrong type", ("examples",), {"input": "a"}),
    ("wrong type", ("examples",), [{"input": "a", "output": 5}]),
    ("wrong type", ("skills",), [1]),
    ("wrong type", ("optimize", "search_space", "temperature"), 0.5),
    ("wrong type", ("optimize", "search_space", "temperature"), None),
    ("missing required", ("name",), KEEP),
    ("missing required", ("examples",), [{"input": "a"}]),
    ("missing required", ("optimize", "search_space", "max_examples"), {"low": 1}),
    ("bad enum value", ("loop", "tool_mode"), "fast"),
    ("bad enum value", ("loop", "skills"), "lazy"),
    ("bad enum value", ("loop", "example_pick"), "nearest"),
    ("bad enum value", ("optimize", "components"), ["system_prompt", "memory"]),
    ("out of range", ("model_params", "temperature"), 2.5),
    ("out of range", ("model_params", "top_p"), -0.1),
    ("out of range", ("model_params", "timeout_s"), 0),
    ("out of range", ("loop", "max_tokens"), 0),
    ("out of range", ("loop", "examples_shown"), -1),
    ("out of range", ("optimize", "search_space", "temperature"), {"low": 0, "high": 3}),
    ("empty", ("name",), ""),
    ("empty", ("skills",), [""]),
    ("repeated", ("optimize", "components"), ["tools", "tools"]),
]
AGENT_FINE: list[tuple[str, tuple[Any, ...], Any]] = [
    ("integer written as a float", ("model_params", "max_tokens"), 300.0),
    ("integer for a number", ("model_params", "temperature"), 1),
    ("null where null means none", ("model_params", "seed"), None),
    ("null where null means none", ("loop", "max_observation_chars"), None),
    ("a mapping as an example's output", ("examples",), [{"input": "a", "output": {"k": [1, 2]}}]),
    ("a hidden tool", ("tools", "submit"), {"hidden": True}),
    ("a range", ("optimize", "search_space", "max_examples"), {"low": 0, "high": 2}),
]

RUBRIC_BREAKS: list[tuple[str, tuple[Any, ...], Any]] = [
    ("unknown field", ("judge",), "local"),
    ("unknown field", ("criteria", 0, "wieght"), 1),
    ("unknown field", ("criteria", 0, "params"), {"value": "x"}),  # the Python name: fields go in `check`
    ("unknown field", ("criteria", 0, "check", "patern"), "x"),
    ("unknown field", ("source",), "elsewhere.yaml"),
    ("wrong type", ("name",), ["r"]),
    ("wrong type", ("criteria",), {"id": "a"}),
    ("wrong type", ("criteria", 0, "weight"), "heavy"),
    ("wrong type", ("criteria", 0, "gate"), "yes please"),
    ("wrong type", ("criteria", 0, "check"), "contains"),
    ("wrong type", ("criteria", 0, "check", "type"), 5),
    ("wrong type", ("criteria", 0, "check"), {"type": "max_turns", "limit": "few"}),
    ("wrong type", ("criteria", 0, "check"), {"type": "contains", "value": 5}),
    ("wrong type", ("criteria", 0, "check"), {"type": "llm_judge", "prompt": "p", "scale": {"max": "ten"}}),
    ("missing required", ("name",), KEEP),
    ("missing required", ("criteria", 0, "id"), KEEP),
    ("missing required", ("criteria", 0, "check"), KEEP),
    ("missing required", ("criteria", 0, "check"), {"value": "x"}),
    ("missing required", ("criteria", 0, "check"), {"type": "regex"}),
    ("bad enum value", ("criteria", 0, "check", "type"), "contain"),
    ("bad enum value", ("criteria", 0, "check"), {"type": "contains", "value": "x", "mode": "most"}),
    ("bad enum value", ("criteria", 0, "check"), {"type": "regex", "pattern": "x", "flags": ["verbose"]}),
    ("bad enum value", ("criteria", 0, "check"), {"type": "env_reward", "aggregate": "median"}),
    ("out of range", ("pass_threshold",), 1.5),
    ("out of range", ("criteria", 0, "weight"), -1),
    ("out of range", ("criteria", 0, "pass_at"), 2),
    ("out of range", ("criteria", 0, "check"), {"type": "tool_called", "tool": "t", "min_times": 0}),
    ("not matching", ("criteria", 0, "id"), "Bad Id"),
    ("empty", ("criteria",), []),
    ("empty", ("criteria", 0, "check"), {"type": "contains", "value": []}),
    ("empty", ("criteria", 0, "check"), {"type": "tool_not_called", "tool": ""}),
]
RUBRIC_FINE: list[tuple[str, tuple[Any, ...], Any]] = [
    ("an integer weight", ("criteria", 0, "weight"), 2),
    ("a check's defaults", ("criteria", 0, "check"), {"type": "env_reward"}),
    ("a list of texts", ("criteria", 0, "check"), {"type": "contains", "value": ["a", "b"], "mode": "any"}),
    ("any JSON value", ("criteria", 0, "check"), {"type": "equals", "value": {"a": [1, None]}}),
    ("null: not given", ("criteria", 0, "check"), {"type": "max_length", "max_words": None, "max_chars": 9}),
    ("a judge's scale", ("criteria", 0, "check"), {"type": "llm_judge", "prompt": "p", "scale": {"min": 0, "max": 3}}),
]
PROJECT_BREAKS: list[tuple[str, tuple[Any, ...], Any]] = [
    ("unknown field", ("rubirc",), "rubrics/assistant.yaml"),
    ("unknown field", ("eval", "episode"), 3),
    ("wrong type", ("eval", "episodes"), "three"),
    ("wrong type", ("run", "operators"), "reflect"),
    ("wrong type", ("budget",), 5),
    ("wrong type", ("gate", "baseline"), 5),
    ("bad enum value", ("eval", "split"), "dev"),
    ("out of range", ("eval", "concurrency"), 0),
    ("out of range", ("gate", "min_score"), 1.5),
    ("empty", ("env",), ""),
]
PROJECT_FINE: list[tuple[str, tuple[Any, ...], Any]] = [
    ("null: not given", ("gate", "baseline"), None),
    ("a budget", ("budget",), {"max_rollouts": 40, "max_cost": 0.5}),
    ("operators", ("run", "operators"), ["reflect", "fewshot"]),
]


def set_at(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        node = node[key] if isinstance(node, list) or isinstance(node.get(key), list) else node.setdefault(key, {})
        node = {} if node is None else node
    if value is KEEP:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return data


def broken_files(tmp: Path, kind: str, breaks: list[tuple[str, tuple[Any, ...], Any]]):
    """Each shipped file of `kind`, broken each way, written beside a copy of its folder's files."""
    for n, original in enumerate(shipped(tmp / "shipped")[kind]):
        folder = tmp / f"{kind}{n}"
        shutil.copytree(original.parent, folder)
        data = yaml.safe_load(original.read_text())
        for m, (what, where, value) in enumerate(breaks):
            path = folder / f"broken{m}.yaml"
            path.write_text(yaml.safe_dump(set_at(data, where, value), sort_keys=False))
            yield what, where, path


@pytest.mark.parametrize("kind,breaks,fine", [("agent", AGENT_BREAKS, AGENT_FINE), ("rubric", RUBRIC_BREAKS, RUBRIC_FINE),
                                              ("project", PROJECT_BREAKS, PROJECT_FINE)])
def test_the_generated_schema_accepts_exactly_what_the_models_accept(tmp_path: Path, kind: str, breaks, fine):
    checked = 0
    for what, where, path in broken_files(tmp_path / "bad", kind, breaks):
        problems = problems_in(kind, path)
        assert problems, (what, where, path.read_text())
        assert not schema_accepts(kind, path), (what, where)
        for problem in problems:  # each is one located line naming a field
            assert LINE.match(str(problem)), str(problem)
        checked += 1
    for what, where, path in broken_files(tmp_path / "good", kind, fine):
        assert problems_in(kind, path) == [], (what, where)
        assert schema_accepts(kind, path), (what, where)
    assert checked >= 2 * len(breaks)


# --- each kind of mistake: one line with file:line:col and the dotted field ------------------------

AGENT_ERRORS = [
    ("unknown field", "name: x\nloop:\n  max_turn: 3\n", "agents/a.yaml:3:3: loop.max_turn: unknown field 'max_turn' (did you mean 'max_turns' or 'max_tokens'?)"),
    ("unknown field in a tool", "name: x\ntools:\n  submit: {hidden: true, descripton: x}\n",
     "agents/a.yaml:3:26: tools.submit.descripton: unknown field 'descripton' (did you mean 'description'?)"),
    ("wrong type", "name: x\nmodel_params:\n  max_tokens: many\n",
     "agents/a.yaml:3:3: model_params.max_tokens: expected an integer, got 'many'"),
    ("wrong type in a union", "name: x\nexamples:\n  - {input: a, output: 5}\n",
     "agents/a.yaml:3:16: examples[0].output: expected a string or a mapping, got 5"),
    ("missing required field", "model: local\n", "agents/a.yaml:1:1: name: missing required field"),
    ("missing required field in a range", "name: x\noptimize:\n  search_space:\n    max_examples: {low: 1}\n",
     "agents/a.yaml:4:5: optimize.search_space.max_examples.high: missing required field"),
    ("bad enum value", "name: x\nloop: {skills: lazy}\n",
     "agents/a.yaml:2:8: loop.skills: expected one of 'inline', 'on_demand', got 'lazy'"),
]


RULE = "name: r\ncriteria:\n  - id: a\n    description: d\n"
RUBRIC_ERRORS = [
    ("unknown field", RULE + "    wieght: 2\n    check: {type: max_turns, limit: 3}\n",
     "rubrics/r.yaml:5:5: criteria[0].wieght: unknown field 'wieght' (did you mean 'weight'?)"),
    ("unknown check field", RULE + "    check: {type: tool_called, tool: t, min_time: 2}\n",
     "rubrics/r.yaml:5:41: criteria[0].check.min_time: unknown field 'min_time' (did you mean 'min_times'?)"),
    ("wrong type of a check field", RULE + "    check: {type: max_turns, limit: few}\n",
     "rubrics/r.yaml:5:30: criteria[0].check.limit: expected an integer, got 'few'"),
    ("wrong type in a union", RULE + "    check: {type: contains, value: 5}\n",
     "rubrics/r.yaml:5:29: criteria[0].check.value: expected a string or a list, got 5"),
    ("wrong type in a nested check field", RULE + "    check: {type: llm_judge, prompt: p, scale: {max: ten}}\n",
     "rubrics/r.yaml:5:49: criteria[0].check.scale.max: expected an integer, got 'ten'"),
    ("missing required check field", RULE + "    check: {type: regex}\n",
     "rubrics/r.yaml:5:5: criteria[0].check.pattern: missing required field"),
    ("bad enum value", RULE + "    check: {type: env_reward, aggregate: median}\n",
     "rubrics/r.yaml:5:31: criteria[0].check.aggregate: expected one of 'last', 'sum', 'max', 'mean', got 'median'"),
    ("bad enum value in a list", RULE + "    check: {type: regex, pattern: x, flags: [verbose]}\n",
     "rubrics/r.yaml:5:46: criteria[0].check.flags[0]: expected one of 'ignorecase', 'multiline', 'dotall', "
     "got 'verbose'"),
]
PROJECT_ERRORS = [
    ("unknown field", "eval:\n  episode: 3\n", "agentopt.yaml:2:3: eval.episode: unknown field 'episode' "
                                                "(did you mean 'episodes'?)"),
    ("wrong type", "run:\n  operators: reflect\n", "agentopt.yaml:2:3: run.operators: expected a list or null, got 'reflect'"),
    ("bad enum value", "eval: {split: dev}\n",
     "agentopt.yaml:1:8: eval.split: expected one of 'train', 'val', 'test', got 'dev'"),
]
CASES = [("agent", *case) for case in AGENT_ERRORS] + [("rubric", *case) for case in RUBRIC_ERRORS] + [
    ("project", *case) for case in PROJECT_ERRORS]
FILES = {"agent": "agents/a.yaml", "rubric": "rubrics/r.yaml", "project": "agentopt.yaml"}


@pytest.mark.parametrize("kind,what,text,expected", CASES, ids=[f"{case[0]}: {case[1]}" for case in CASES])
def test_each_kind_of_mistake_is_one_located_line(kind: str, what: str, text: str, expected: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    Path(FILES[kind]).parent.mkdir(exist_ok=True)
    Path(FILES[kind]).write_text(text)
    assert [str(problem) for problem in problems_in(kind, Path(FILES[kind]))] == [expected]


# --- the models themselves: frozen, no unknown fields, re-validated when derived --------------------


def test_models_are_frozen_refuse_unknown_fields_and_validate_when_derived():
    spec = AgentSpec("x", tools=(ToolOverride("submit", "Submit."),))
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "y"  # type: ignore[misc]
    with pytest.raises(ModelError):
        AgentSpec("x", colour="blue")  # type: ignore[call-arg]
    with pytest.raises(ModelError):
        dataclasses.replace(spec, loop=LoopSettings(max_turns=0))
    assert dataclasses.replace(spec, params=dataclasses.replace(spec.params, temperature=1)).params.temperature == 1.0


def test_a_rubric_criterion_splits_the_check_into_its_type_and_fields(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text(RULE + "    check: {type: llm_judge, prompt: Grade it.}\n")
    rubric = load_rubric(str(path))
    assert rubric.criteria == (Criterion("a", "d", 1.0, "llm_judge", {"prompt": "Grade it."}, pass_at=0.5),)
    assert rubric.source == str(path)
    with pytest.raises(ModelError):
        Rubric("r", ())  # at least one criterion
    with pytest.raises(ModelError):
        dataclasses.replace(rubric.criteria[0], pass_at=2)


def test_a_loaded_spec_has_the_python_shapes(tmp_path: Path):
    path = tmp_path / "a.yaml"
    path.write_text("name: x\ntools: {submit: {description: S.}, search: {hidden: true}}\n"
                    "optimize: {search_space: {temperature: {low: 0, high: 1}}}\n")
    spec = load_agent(str(path))
    assert spec.tools == (ToolOverride("submit", "S."), ToolOverride("search", None, True))
    assert spec.optimize.search_space.temperature == (0.0, 1.0)
    assert spec.source == str(path)


# --- the property: at every field, for a spread of JSON values, schema and model agree ------------------
# Every field path of each generated schema (a check's fields for each check type) is set, in turn, to
# each of VALUES in every shipped file; the model and the schema must accept or refuse it together.

VALUES = [None, True, False, 0, -1, 1, 1.5, 3, 300, "", "x", "auto", "answer", [], ["x"], [1], {}, {"a": 1}]


def field_paths(root: dict[str, Any], node: dict[str, Any], path: tuple[Any, ...] = (), depth: int = 0):
    """Every field path the schema describes: mapping keys (`submit` for a mapping by name) and the
    first item of a list, down to the leaves."""
    if depth > 6:
        return
    if "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    for branch in node.get("anyOf", []):
        yield from field_paths(root, branch, path, depth + 1)
    for name, sub in node.get("properties", {}).items():
        yield (*path, name)
        yield from field_paths(root, sub, (*path, name), depth + 1)
    if isinstance(node.get("additionalProperties"), dict):
        yield (*path, "submit")
        yield from field_paths(root, node["additionalProperties"], (*path, "submit"), depth + 1)
    if isinstance(node.get("items"), dict):
        yield (*path, 0)
        yield from field_paths(root, node["items"], (*path, 0), depth + 1)


def put(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    data = copy.deepcopy(data)
    node = data
    for key, after in zip(path[:-1], path[1:]):
        empty: Any = [] if isinstance(after, int) else {}
        if isinstance(node, list):
            while len(node) <= key:
                node.append(copy.deepcopy(empty))
            if not isinstance(node[key], list | dict):
                node[key] = empty
        elif not isinstance(node.get(key), list | dict):
            node[key] = empty
        node = node[key]
    if isinstance(node, list):
        while len(node) <= path[-1]:
            node.append(None)
    node[path[-1]] = value
    return data


# What no JSON Schema can say, so only the model refuses it: a search range's low above its high,
# and a skill path that names a file (the loader reads it, then hands the model the skill).
MODEL_ONLY = {"range_order", "skill_not_read"}


def model_errors(adapter: Any, data: Any) -> set[str] | None:
    """The error types the model gives `data` as a file writes it; None when it accepts it."""
    try:
        adapter.validate_python(data, by_alias=True, by_name=False, context={"file": "x.yaml"})
    except ModelError as error:
        return {item["type"] for item in error.errors()}
    return None


def disagreements(adapter: Any, schema: dict[str, Any], bases: list[Any], paths: list[tuple[Any, ...]]):
    """(path, value, the model's errors) wherever the schema and the model disagree, but for MODEL_ONLY."""
    validator = Draft202012Validator(schema)
    for base in bases:
        for path in paths:
            for value in VALUES:
                data = put(base, path, value)
                errors = model_errors(adapter, data)
                if (errors is None) != validator.is_valid(data) and not (errors and errors <= MODEL_ONLY):
                    yield path, value, errors


def test_at_every_field_the_generated_schema_and_the_models_accept_the_same_values(tmp_path: Path):
    from pydantic import TypeAdapter

    files = shipped(tmp_path)
    agent_schema, rubric_schema = agent_json_schema(), rubric_json_schema()
    agents = [yaml.safe_load(p.read_text()) for p in files["agent"][:2]]
    agent_paths = sorted(set(field_paths(agent_schema, agent_schema)), key=str)
    assert len(agent_paths) >= 40
    assert list(disagreements(TypeAdapter(AgentSpec), agent_schema, agents, agent_paths)) == []

    every = next(p for p in files["rubric"] if p.name == "every_check.yaml")
    rubrics = [{"name": "r", "criteria": [criterion]} for criterion in yaml.safe_load(every.read_text())["criteria"]]
    rubric_paths = sorted(set(field_paths(rubric_schema, rubric_schema)), key=str)
    check_fields = {name for check in all_checks().values() for name in check.params_schema["properties"]}
    rubric_paths += [("criteria", 0, "check", name) for name in sorted(check_fields)]
    assert len(rubrics) == len(all_checks()) and len(rubric_paths) >= 30
    assert list(disagreements(TypeAdapter(Rubric), rubric_schema, rubrics, rubric_paths)) == []

    projects = [yaml.safe_load(p.read_text()) for p in files["project"]]
    project_paths = sorted(set(field_paths(project.SCHEMA, project.SCHEMA)), key=str)
    assert list(disagreements(project.PROJECT, project.SCHEMA, projects, project_paths)) == []
