"""`agentopt init [DIR]`: scaffold a project that `agentopt validate` and `agentopt eval` accept
as written (on the embedded model): an agent, a rubric with a commented example of every check
type, tasks, the project file and a README."""

from __future__ import annotations

import shlex
from importlib import resources
from pathlib import Path

from agentopt.errors import UsageError
from agentopt.project import PROJECT_FILE

TEMPLATES = ("dataset", "tools-url")
DEFAULT_URL = "http://127.0.0.1:8000"

# template file (in agentopt/scaffold) -> where it goes in the project
_FILES = {
    "dataset": {
        "dataset.project.yaml": PROJECT_FILE,
        "dataset.agent.yaml": "agents/assistant.yaml",
        "dataset.rubric.yaml": "rubrics/assistant.yaml",
        "dataset.tasks.jsonl": "data/tasks.jsonl",
        "dataset.README.md": "README.md",
    },
    "tools-url": {
        "tools-url.project.yaml": PROJECT_FILE,
        "tools-url.agent.yaml": "agents/assistant.yaml",
        "tools-url.rubric.yaml": "rubrics/assistant.yaml",
        "tools-url.README.md": "README.md",
    },
}
CHECK_EXAMPLES = "check_examples.yaml"


def template_text(name: str) -> str:
    return resources.files("agentopt.scaffold").joinpath(name).read_text(encoding="utf-8")


def planned(template: str, directory: Path, url: str | None = None) -> dict[Path, str]:
    """What `init` writes: path -> text."""
    if template not in TEMPLATES:
        raise UsageError(f"--template: unknown template {template!r}: use {' or '.join(TEMPLATES)}")
    if url is not None and template != "tools-url":
        raise UsageError("--url goes with --template tools-url")
    if template == "tools-url":
        from agentopt.envs.session import parse_env_url

        url = parse_env_url(url or DEFAULT_URL).replace("'", "")  # a bad URL: one usage line, exit 2
    name = directory.resolve().name or "agentopt project"
    files: dict[Path, str] = {}
    for source, target in _FILES[template].items():
        text = template_text(source).replace("{name}", name).replace("{url}", url or "")
        if target.startswith("rubrics/"):
            text += template_text(CHECK_EXAMPLES)
        files[directory / target] = text
    return files


def init_project(directory: Path, template: str, url: str | None = None) -> str:
    """Write the project; return what to tell the user. Nothing is written when any file exists."""
    files = planned(template, directory, url)
    existing = [path for path in files if path.exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UsageError(f"{existing[0]} already exists{more}: nothing written (init never overwrites; pick an empty folder)")
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is a file, not a folder")
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {directory}: {exc.strerror or exc}") from None
    go = "" if directory.resolve() == Path.cwd().resolve() else f"cd {shlex.quote(str(directory))} && "
    lines = [f"created {len(files)} files in {directory}:"] + [f"  {path.relative_to(directory)}" for path in files]
    if template == "tools-url":
        lines.append(f"next: start the environment at {url or DEFAULT_URL} (or `agentopt env serve support --port 8000`), then")
    lines.append(f"next: {go}agentopt eval")
    return "\n".join(lines)
