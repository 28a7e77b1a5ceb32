"""`agentopt validate`: agent specs, rubrics and project files, one located line per mistake
(or, with --json, one JSON document: docs/json.md)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console

from agentopt import project
from agentopt.errors import Problem, UsageError
from agentopt.spec.load import format_warning, validate_files, warnings_in_files


def targets(files: list[Path] | None, config: Path | None) -> tuple[list[Path], list[Path]]:
    """(project files, agent specs and rubrics) to check. With no FILES: the project file and
    the agent and rubric it names."""
    given = list(files or [])
    if not given:
        found = project.find(config)
        if found is None:
            raise UsageError("nothing to validate: give FILES, or run where agentopt.yaml is (`agentopt init` writes one)")
        given = [found]
    projects = [f for f in given if project.is_project_file(f) or (config is not None and f == config)]
    specs = [f for f in given if f not in projects]
    for path in projects:
        named = project.named_files(path)
        specs += [f for f in named if f not in specs]
    return projects, specs


def _problem(problem: Problem, severity: str) -> dict:
    return {**asdict(problem), "severity": severity, "text": str(problem) if severity == "error" else format_warning(problem)}


def run_validate(files: list[Path] | None, config: Path | None, as_json: bool) -> int:
    projects, specs = targets(files, config)
    paths = [str(f) for f in specs]
    problems = [p for f in projects for p in project.project_problems(f)] + validate_files(paths)
    warnings = warnings_in_files(paths)
    checked = [str(f) for f in projects] + paths
    if as_json:
        document = {
            "ok": not problems, "files": checked,
            "problems": [_problem(p, "error") for p in problems], "warnings": [_problem(w, "warning") for w in warnings],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 2 if problems else 0
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for warning in warnings:
        err.print(format_warning(warning), markup=False)
    for problem in problems:
        err.print(str(problem), markup=False)
    if problems:
        return 2
    Console(highlight=False).print(f"[green]ok[/green]: {len(checked)} file(s) valid")
    return 0
