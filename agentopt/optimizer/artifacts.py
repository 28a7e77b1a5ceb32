"""What a run ships: specs a person and `agentopt eval` can load, best_skill.md, diff.md.

A spec is saved as a folder, `agent.yaml` plus `skills/<name>.md`, with the system prompt
inline, so it loads anywhere with `agentopt eval FOLDER/agent.yaml`.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import replace
from pathlib import Path

import yaml

from agentopt.names import safe_name
from agentopt.spec.agent import AgentSpec, Skill
from agentopt.spec.load import agent_to_yaml, load_agent


def skill_markdown(skill: Skill) -> str:
    front = yaml.safe_dump({"name": skill.name, "description": skill.description}, sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n{skill.body.strip()}\n"


def portable(spec: AgentSpec) -> AgentSpec:
    """The spec as save_spec writes it: prompt inline, skills at skills/<name>.md.

    A skill the search switched off also leaves this spec's search space, so the file
    loads on its own (the run itself takes its search space from the baseline)."""
    skills = tuple(replace(s, path=f"skills/{file}.md") for s, file in zip(spec.skills, skill_files(spec.skills)))
    names = {s.name for s in skills}
    space = replace(spec.optimize.search_space, skills=tuple(n for n in spec.optimize.search_space.skills if n in names))
    return replace(spec, skills=skills, system_prompt_file=None, optimize=replace(spec.optimize, search_space=space), source="")


def skill_files(skills: tuple[Skill, ...]) -> list[str]:
    """Each skill's file name (without `.md`): its name made safe (`store.run.safe_name`), so a
    name such as `../../x` written by a user or a mutator never leaves `skills/`; two names
    that give the same file (also differing only in case) get `-2`, `-3`, ..."""
    files, taken = [], set()
    for skill in skills:
        base = safe_name(skill.name, "skill")
        file, n = base, 1
        while file.lower() in taken:
            n += 1
            file = f"{base}-{n}"
        taken.add(file.lower())
        files.append(file)
    return files


def save_spec(spec: AgentSpec, folder: Path) -> Path:
    """Write `spec` as folder/agent.yaml + folder/skills/*.md; returns the agent.yaml path."""
    spec = portable(spec)
    folder.mkdir(parents=True, exist_ok=True)
    for skill in spec.skills:
        target = folder / skill.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(skill_markdown(skill), encoding="utf-8")
    path = folder / "agent.yaml"
    path.write_text(agent_to_yaml(spec), encoding="utf-8")
    return path


def load_candidate_spec(folder: Path) -> AgentSpec:
    return load_agent(str(folder / "agent.yaml"))


def best_skill(winner: AgentSpec, headline: str) -> str:
    """Everything the winner knows, as ONE markdown skill a person can paste into any agent."""
    sections = [f"# {winner.name}: what agentopt learned\n\n{headline}"]
    if winner.system_prompt.strip():
        sections.append("## Instructions\n\n" + winner.system_prompt.strip())
    for skill in winner.skills:
        sections.append(f"## Procedure: {skill.name}\n\n_{skill.description}_\n\n{skill.body.strip()}")
    if winner.tools:
        sections.append("## Tools\n\n" + "\n".join(f"- `{t.name}`: {'(not to be used)' if t.hidden else t.description}"
                                                    for t in winner.tools if t.hidden or t.description is not None))
    if winner.examples:
        shown = [f"- Input: {e.input}\n  Answer: {_text(e.output)}" for e in winner.examples]
        sections.append("## Examples\n\n" + _how_shown(winner) + "\n".join(shown))
    description = f"How to do the {winner.name} task well, distilled by agentopt from scored episodes."
    skill = Skill(name=f"{winner.name}-optimized", description=description, body="\n\n".join(sections), path="best_skill.md")
    return skill_markdown(skill)


def spec_diff(baseline: AgentSpec, winner: AgentSpec) -> str:
    """What changed from the baseline to the winner, component by component (markdown)."""
    parts = []
    if baseline.system_prompt != winner.system_prompt:
        parts.append("## System prompt\n\n```diff\n" + _unified(baseline.system_prompt, winner.system_prompt) + "\n```")
    before, after = {s.name: s for s in baseline.skills}, {s.name: s for s in winner.skills}
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None and new is not None:
            parts.append(f"## Skill `{name}` (added)\n\n{new.description}\n\n```markdown\n{new.body.strip()}\n```")
        elif new is None:
            parts.append(f"## Skill `{name}` (removed)")
        elif old is not None:
            parts.append(f"## Skill `{name}`\n\n```diff\n" + _unified(skill_markdown(old), skill_markdown(new)) + "\n```")
    tools_before = {t.name: t.description for t in baseline.tools}
    for tool in winner.tools:
        if tools_before.get(tool.name) != tool.description:
            parts.append(f"## Tool `{tool.name}`\n\n- before: {tools_before.get(tool.name, '(the environment’s own)')}\n- after: {tool.description}")
    if baseline.examples != winner.examples:
        shown = "\n".join(f"- {e.input} -> {_text(e.output)}" for e in winner.examples) or "(none)"
        parts.append(f"## Examples ({len(baseline.examples)} -> {len(winner.examples)})\n\n{_how_shown(winner)}{shown}")
    settings = _settings_diff(baseline, winner)
    if settings:
        parts.append("## Settings\n\nOnly what changed, as it reads in the agent spec:\n\n```diff\n" + settings + "\n```")
    return "\n\n".join(parts) + "\n" if parts else "The winner is the baseline: no candidate beat it on val.\n"


def _settings_diff(baseline: AgentSpec, winner: AgentSpec) -> str:
    """model, model_params and loop fields that changed, as YAML lines of the agent spec (-/+)."""
    lines: list[str] = []
    if baseline.model != winner.model:
        lines += [f"-model: {_yaml_value(baseline.model)}", f"+model: {_yaml_value(winner.model)}"]
    for section, old, new in (("model_params", vars(baseline.params), vars(winner.params)), ("loop", vars(baseline.loop), vars(winner.loop))):
        changed = [key for key in old if old[key] != new.get(key)]
        if changed:
            lines.append(f" {section}:")
            for key in changed:
                lines += [f"-  {key}: {_yaml_value(old[key])}", f"+  {key}: {_yaml_value(new[key])}"]
    return "\n".join(lines)


def _yaml_value(value: object) -> str:
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False).strip().removesuffix("\n...").removesuffix("...").strip()


def _how_shown(spec: AgentSpec) -> str:
    """A line saying which examples a prompt shows, when it is not simply all of them."""
    k = spec.loop.examples_shown
    if spec.loop.example_pick == "similar":
        count = "the example" if k == 1 else "all the examples" if k is None else f"the {k} examples"
        return f"Show {count} whose input is most like the task at hand (`loop.example_pick: similar`).\n\n"
    return "" if k is None or k >= len(spec.examples) else f"Show the first {k}.\n\n"


def _unified(old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), "baseline", "winner", lineterm="")
    return "\n".join(lines)


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
