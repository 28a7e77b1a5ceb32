"""Load agent specs and rubrics from YAML, reporting every problem as file:line:col.

Structure and types are checked by the models themselves (`agentopt.spec.agent`,
`agentopt.spec.rubric` and each check type's fields), whose errors are located in the YAML
(`agentopt.spec.problems`); this module reads the files a spec names and adds what a model
cannot express (files that must exist, Jinja2 templates that must parse, unique names, each
check's own rules). Loading never stops at the first problem and never shows a traceback:
`load_*` raise one `ValidationError` carrying all of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pydantic import TypeAdapter
from pydantic import ValidationError as ModelError

from agentopt.errors import Problem, ValidationError, one_line
from agentopt.spec import problems as located
from agentopt.spec import schema as schemas
from agentopt.spec import yaml_source
from agentopt.spec.agent import LOCAL_MODEL, AgentSpec, Skill
from agentopt.spec.check_formats import check_formats
from agentopt.spec.rubric import Rubric
from agentopt.spec.yaml_source import Source

# --- Public API ------------------------------------------------------------------------------


def load_agent(path: str) -> AgentSpec:
    return _load(path, _agent)


def load_rubric(path: str) -> Rubric:
    return _load(path, _rubric)


def validate_file(path: str) -> list[Problem]:
    """Every problem in one file: a rubric if it has `criteria`, an agent spec otherwise."""
    source = yaml_source.read(path)
    is_rubric = isinstance(source.data, dict) and "criteria" in source.data
    return (_rubric if is_rubric else _agent)(source)[1]


def validate_files(paths: Iterable[str]) -> list[Problem]:
    return [problem for path in paths for problem in validate_file(path)]


def warnings_in_files(paths: Iterable[str]) -> list[Problem]:
    """What is risky but not wrong (a rubric regex that can backtrack catastrophically), located like problems."""
    return [warning for path in paths for warning in _rubric_warnings(yaml_source.read(path))]


def format_warning(warning: Problem) -> str:
    """`file:line:col: warning: field: message`, one line."""
    where = f"{warning.file}:{warning.line}:{warning.column}" if warning.line else warning.file
    field = f"{warning.field}: " if warning.field else ""
    return one_line(f"{where}: warning: {field}{warning.message}")


def problem_at(file: str, field: str, message: str) -> Problem:
    """A problem found after loading (e.g. by the environment), located in the file where `field` was written."""
    if file and Path(file).is_file():
        return yaml_source.read(file).problem(field, message)
    return Problem(file, 0, 0, field, message)


def agent_to_yaml(spec: AgentSpec) -> str:
    """The spec as YAML that loads back into the same spec (when written beside its files)."""
    data: dict[str, Any] = {"name": spec.name, "model": spec.model, "model_params": _fields(spec.params)}
    if spec.system_prompt_file is not None:
        data["system_prompt_file"] = spec.system_prompt_file
    else:
        data["system_prompt"] = spec.system_prompt
    data["skills"] = [skill.path for skill in spec.skills]
    data["tools"] = {tool.name: {**({"description": tool.description} if tool.description is not None else {}),
                                 **({"hidden": True} if tool.hidden else {})} for tool in spec.tools}
    data["examples"] = [{"input": ex.input, "output": ex.output} for ex in spec.examples]
    data["loop"] = _fields(spec.loop)
    space = spec.optimize.search_space
    data["optimize"] = {
        "components": list(spec.optimize.components),
        "max_component_tokens": spec.optimize.max_component_tokens,
        "search_space": {
            "models": list(space.models),
            **({"temperature": dict(zip(("low", "high"), space.temperature))} if space.temperature else {}),
            **({"max_examples": dict(zip(("low", "high"), space.max_examples))} if space.max_examples else {}),
            "skills": list(space.skills),
            **({"max_tokens": dict(zip(("low", "high"), space.max_tokens))} if space.max_tokens else {}),
            **({"tools": list(space.tools)} if space.tools else {}),
        },
    }
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (prompts) as readable `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


# --- Shared machinery ------------------------------------------------------------------------

Built = tuple[Any, list[Problem]]


def _load(path: str, build: Callable[[Source], Built]) -> Any:
    result, problems = build(yaml_source.read(path))
    if problems:
        raise ValidationError(problems)
    return result


def _finish(source: Source, problems: list[Problem]) -> list[Problem]:
    """Without duplicates, the main file first, in file order."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file != source.file, p.file, p.line, p.column))


def _mapping(data: Any, *keys: str) -> dict[str, Any]:
    """data[k1][k2]..., or {} when any level is missing or not a mapping."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _validated(adapter: TypeAdapter[Any], data: Any, source: Source, schema: Callable[[], dict[str, Any]]) -> Built:
    """The model built from `data` as a file writes it (aliases only), or its located problems."""
    try:
        return adapter.validate_python(data, by_alias=True, by_name=False, context={"file": source.file}), []
    except ModelError as error:
        reported = {problem.field for problem in source.problems}  # e.g. a lone surrogate, already said by the parser
        return None, [p for p in located.problems(error, source.data, source, schema()) if p.field not in reported]


AGENT: TypeAdapter[AgentSpec] = TypeAdapter(AgentSpec)
RUBRIC: TypeAdapter[Rubric] = TypeAdapter(Rubric)
INTERNAL = ("source",)  # fields the loader sets, which a file may not


def _internal_problems(source: Source, data: dict[str, Any], schema: Callable[[], dict[str, Any]]) -> list[Problem]:
    if not any(key in data for key in INTERNAL):
        return []
    known = list(schema()["properties"])
    return [source.problem(key, located.unknown_field(key, known)) for key in INTERNAL if key in data]


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _template_error(text: str) -> tuple[int, str] | None:
    """(line within the template, message) when `text` is not a valid Jinja2 template."""
    try:
        jinja2.Environment().parse(text)
    except jinja2.TemplateSyntaxError as err:
        return err.lineno, f"template error: {err.message}"
    except RecursionError:  # Jinja2 parses recursively: thousands of `(` or `[`
        return 1, "template error: nested too deeply"
    return None


def _read_text(path: str, written: str) -> tuple[str | None, str]:
    """(content, "") of a text file, or (None, why it cannot be read) naming it as `written`."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), ""
    except UnicodeDecodeError:
        return None, f"not a UTF-8 text file: {written}"
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return None, f"file not found: {written}"


# --- Agent specs -----------------------------------------------------------------------------


def _agent(source: Source) -> Built:
    if source.problems and source.data is None:
        return None, list(source.problems)  # unreadable or not YAML: nothing more to say
    problems = list(source.problems)
    data = source.data
    if isinstance(data, dict):
        prompt, prompt_problems = _system_prompt(source, data)
        skills, skill_problems = _skills(source, data.get("skills"))
        problems += prompt_problems + skill_problems
        problems += _search_space(source, data, [s for s in skills if isinstance(s, Skill)], not skill_problems)
        problems += _observation_template_problems(source, _mapping(data, "loop").get("observation_template"))
        problems += _tool_mode_problems(source, data) + _tool_override_problems(source, data)
        problems += _internal_problems(source, data, schemas.agent_json_schema)
        data = {key: value for key, value in data.items() if key not in INTERNAL} | {"source": source.file}
        if isinstance(data.get("skills"), list):
            data["skills"] = skills
        if "system_prompt" not in data and isinstance(data.get("system_prompt_file"), str):
            data["system_prompt"] = prompt
    spec, found = _validated(AGENT, data, source, schemas.agent_json_schema)
    problems += found
    if problems:
        return None, _finish(source, problems)
    return spec, []


def _tool_override_problems(source: Source, data: dict[str, Any]) -> list[Problem]:
    """A tool entry must say something: a description, or hidden: true."""
    return [source.problem(f"tools.{name}", "give a description, or hidden: true")
            for name, tool in _mapping(data, "tools").items()
            if isinstance(tool, dict) and tool.get("description") is None and tool.get("hidden") is not True]


def _tool_mode_problems(source: Source, data: dict[str, Any]) -> list[Problem]:
    """`tool_mode: native` with the embedded model: it never emits a native tool call (0 of 360 turns
    measured), so every episode would end with no action; refused at load rather than scored 0."""
    if _mapping(data, "loop").get("tool_mode") == "native" and data.get("model", LOCAL_MODEL) == LOCAL_MODEL:
        return [source.problem("loop.tool_mode", "native tool calls do not work with model: local (the embedded model "
                                                 "never makes one); use structured (or auto, which picks it)")]
    return []


def _system_prompt(source: Source, data: dict[str, Any]) -> tuple[str, list[Problem]]:
    """The prompt text (inline or from its file), and problems with it."""
    inline, path = data.get("system_prompt"), data.get("system_prompt_file")
    problems = []
    if inline is not None and path is not None:
        problems.append(source.problem("system_prompt_file", "give system_prompt or system_prompt_file, not both"))
    if isinstance(inline, str):
        return inline, problems + _inline_template_problems(source, inline)
    if isinstance(path, str) and path:
        text, found = _prompt_file(source, path)
        return text, problems + found
    return "", problems


def _inline_template_problems(source: Source, text: str) -> list[Problem]:
    error = _template_error(text)
    if error is None:
        return []
    line, column = source.at("system_prompt")
    node = source.nodes["system_prompt"]
    if getattr(node, "style", None) == "|":  # a literal block keeps the template's lines, starting below the `|`
        line = node.start_mark.line + 1 + source.line_offset + error[0]
    # other styles fold or escape line breaks: the template's line is not the file's, so point at the field
    return [Problem(source.file, line, column, "system_prompt", error[1])]


def _observation_template_problems(source: Source, text: Any) -> list[Problem]:
    error = _template_error(text) if isinstance(text, str) else None
    return [source.problem("loop.observation_template", error[1])] if error else []


def _prompt_file(source: Source, path: str) -> tuple[str, list[Problem]]:
    full = _beside(source, path)
    text, why = _read_text(full, path)
    if text is None:
        return "", [source.problem("system_prompt_file", why)]
    error = _template_error(text)
    return text, [Problem(full, error[0], 1, "system_prompt_file", error[1])] if error else []


def _beside(source: Source, path: str) -> str:
    """A path written in a spec, resolved relative to the spec's folder."""
    return os.path.join(os.path.dirname(source.file), path)


def _skills(source: Source, paths: Any) -> tuple[list[Any], list[Problem]]:
    """The skill files read, in the list's order: a Skill for each path that could be read (a placeholder
    Skill for one that could not, whose problems are reported), other items as written for the model to refuse."""
    skills: list[Any] = []
    problems: list[Problem] = []
    first_index: dict[str, int] = {}
    for i, path in enumerate(paths if isinstance(paths, list) else []):
        if not isinstance(path, str) or not path:
            skills.append(path)  # the model says what is wrong with it
            continue
        skill, found = _skill(source, f"skills[{i}]", path)
        problems += found
        if skill is None:
            skills.append(Skill(f"unread skill {i}", "", "", path))
            continue
        if skill.name in first_index:
            message = f"duplicate skill name '{skill.name}' (also in skills[{first_index[skill.name]}])"
            problems.append(source.problem(f"skills[{i}]", message))
        first_index.setdefault(skill.name, i)
        skills.append(skill)
    return skills, problems


def _skill(source: Source, field: str, path: str) -> tuple[Skill | None, list[Problem]]:
    """One skill file: YAML front matter with `name` and `description`, then the markdown body."""
    full = _beside(source, path)
    text, why = _read_text(full, path)
    if text is None:
        return None, [source.problem(field, why)]
    lines = text.splitlines(keepends=True)
    closing = next((i for i, line in enumerate(lines[1:], 1) if line.rstrip() == "---"), None)
    if not lines or lines[0].rstrip() != "---" or closing is None:
        return None, [Problem(full, 1, 1, "", "missing front matter: start with a --- line, then name: and "
                              "description: lines, then ---")]
    front = yaml_source.parse("".join(lines[1:closing]), full, line_offset=1)
    if front.problems and front.data is None:
        return None, front.problems  # not YAML: nothing more to say
    meta = front.data if isinstance(front.data, dict) else {}
    problems = list(front.problems)
    for key in ("name", "description"):
        value = meta.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(front.problem(key, "missing or empty in the front matter"))
        elif key == "description" and "\n" in value.strip():
            problems.append(front.problem(key, "must be one line"))
        elif key == "name" and not _plain_name(value.strip()):
            message = "must be a plain name (no '/', '\\', control characters or leading '.'): it names the skill's file"
            problems.append(front.problem(key, message))
    if problems:
        return None, problems
    body = "".join(lines[closing + 1:]).strip()
    return Skill(meta["name"].strip(), meta["description"].strip(), body, path), []


def _plain_name(name: str) -> bool:
    """A skill name that can be a file name as written: saved specs write `skills/<name>.md`."""
    return not name.startswith(".") and not any(c in "/\\" or ord(c) < 32 or ord(c) == 127 for c in name)


def _search_space(source: Source, data: dict[str, Any], skills: list[Skill], skills_ok: bool) -> list[Problem]:
    """Skills the optimizer may switch must be the spec's own."""
    space = _mapping(data, "optimize", "search_space")
    names = {skill.name for skill in skills}
    problems = []
    for i, name in enumerate(_list(space, "skills") if skills_ok else []):
        if isinstance(name, str) and name not in names:
            message = located.unknown_field(name, sorted(names), "skill")
            problems.append(source.problem(f"optimize.search_space.skills[{i}]", message))
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- Rubrics ---------------------------------------------------------------------------------


def _rubric(source: Source) -> Built:
    if source.problems and source.data is None:
        return None, list(source.problems)  # unreadable or not YAML: nothing more to say
    problems = list(source.problems)
    data = source.data
    schema = schemas.rubric_json_schema  # built only to word a problem
    if isinstance(data, dict):
        criteria = _list(data, "criteria")
        problems += _duplicate_ids(source, criteria)
        weights = [c.get("weight", 1) for c in criteria if isinstance(c, dict)]
        if criteria and all(_is_number(w) and w >= 0 for w in weights) and sum(weights) == 0:
            problems.append(source.problem("criteria", "the weights sum to 0: give some criterion a weight above 0"))
        problems += _internal_problems(source, data, schema)
        data = {key: value for key, value in data.items() if key not in INTERNAL} | {"source": source.file}
    rubric, found = _validated(RUBRIC, data, source, schema)
    problems += found
    if isinstance(source.data, dict):  # each check's own rules, where its fields are right
        wrong = {p.field for p in problems}
        for i, criterion in enumerate(_list(source.data, "criteria")):
            path = f"criteria[{i}].check"
            if not any(field == path or field.startswith((f"{path}.", f"{path}[")) for field in wrong):
                problems += _check_rules(source, path, _mapping(criterion, "check"))
    if problems:
        return None, _finish(source, problems)
    return rubric, []


def _duplicate_ids(source: Source, criteria: list[Any]) -> list[Problem]:
    problems: list[Problem] = []
    first_index: dict[str, int] = {}
    for i, criterion in enumerate(criteria):
        cid = criterion.get("id") if isinstance(criterion, dict) else None
        if not isinstance(cid, str):
            continue
        if cid in first_index:
            message = f"duplicate id '{cid}' (also in criteria[{first_index[cid]}])"
            problems.append(source.problem(f"criteria[{i}].id", message))
        first_index.setdefault(cid, i)
    return problems


def _check_rules(source: Source, path: str, check: dict[str, Any]) -> list[Problem]:
    """What a check's typed fields cannot say (a regex that does not compile, ...), from the check itself."""
    form = check_formats().get(check.get("type"))  # type: ignore[arg-type]
    if form is None:
        return []
    try:
        found = form.validate(_params(check))
    except RecursionError:  # e.g. a regex or template nested thousands of levels deep
        found = [("", "nested too deeply to check")]
    except OverflowError as err:  # e.g. a regex repeat count such as `a{99999999999}`
        found = [("", f"a number in it is too large: {err}")]
    return [source.problem(yaml_source.join(path, field) if field else path, message) for field, message in found]


def _rubric_warnings(source: Source) -> list[Problem]:
    if not isinstance(source.data, dict) or "criteria" not in source.data:
        return []
    formats = check_formats()
    found = []
    for i, criterion in enumerate(_list(source.data, "criteria")):
        check, path = _mapping(criterion, "check"), f"criteria[{i}].check"
        name = check.get("type")
        if not isinstance(name, str) or name not in formats:
            continue  # validate reports it as a problem
        try:
            pairs = formats[name].warnings(_params(check))
        except Exception:  # noqa: BLE001 - a warning is advice: a value it cannot read is validate's to report
            continue
        found += [source.problem(yaml_source.join(path, field) if field else path, message) for field, message in pairs]
    return found


def _params(check: dict[str, Any]) -> dict[str, Any]:
    """A check's own fields: everything but its `type`, as the user wrote them."""
    return {key: value for key, value in check.items() if key != "type"}
