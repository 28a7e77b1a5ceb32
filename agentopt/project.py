"""The project file, `agentopt.yaml`: what `agentopt eval` and `agentopt run` would otherwise
need on every command line (the agent, the rubric, the environment, splits, budgets, the gate).

It is found in the current directory (or given with `--config FILE`). Paths in it are relative
to the file's own directory. A flag given on the command line always wins over the file.
Mistakes are `file:line:col: field: problem` lines, like the other formats (docs/project.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Strict, TypeAdapter
from pydantic import Field as PydanticField
from pydantic import ValidationError as ModelError
from pydantic.dataclasses import dataclass as model

from agentopt.errors import Problem, UsageError, ValidationError
from agentopt.spec import problems as located
from agentopt.spec import yaml_source
from agentopt.spec.fields import CONFIG, CountInt, Fraction, Name, NonNegative, PositiveInt, json_number
from agentopt.spec.schema import titled
from agentopt.spec.yaml_source import Source

PROJECT_FILE = "agentopt.yaml"
PROJECT_NAMES = ("agentopt.yaml", "agentopt.yml")


Split = Literal["train", "val", "test"]
Path_ = Annotated[str, Strict(), PydanticField(min_length=1)]
# Every field is optional: left out (or null), the command's own default applies.
Seconds = Annotated[float, Strict(), PydanticField(ge=1), BeforeValidator(json_number)]


@model(frozen=True, config=CONFIG)
class EvalSettings:
    """Settings of `agentopt eval`."""

    split: Split | None = PydanticField(default=None, description="Which split's tasks to play.")
    episodes: PositiveInt | None = PydanticField(default=None, description="Play only the first N tasks of the split.")
    concurrency: PositiveInt | None = PydanticField(default=None, description="Episodes run at once.")
    repeat: PositiveInt | None = PydanticField(default=None, description="Play each task this many times.")
    seed: CountInt | None = PydanticField(default=None, description="Base seed of the episodes.")
    max_errors: CountInt | None = PydanticField(default=None, description="Infrastructure errors tolerated before exiting 3.")
    junit: Path_ | None = PydanticField(default=None, description="Write JUnit XML here.")


@model(frozen=True, config=CONFIG)
class GateSettings:
    """The CI gate of `agentopt eval`: exit 1 when it fails."""

    min_score: Fraction | None = PydanticField(default=None, description="Exit 1 when the mean score is below this.")
    baseline: Path_ | None = PydanticField(default=None, description="A summary.json to compare against.")
    max_drop: NonNegative | None = PydanticField(
        default=None, description="With baseline: exit 1 when the score drops by more than this.")


@model(frozen=True, config=CONFIG)
class BudgetSettings:
    """What `agentopt run` may spend."""

    max_rollouts: PositiveInt | None = PydanticField(default=None, description="Episodes to spend in all.")
    max_cost: NonNegative | None = PydanticField(default=None, description="USD to spend at most.")
    max_time: Seconds | None = PydanticField(default=None, description="Seconds to run at most.")
    max_candidates: PositiveInt | None = PydanticField(default=None, description="Candidates to propose at most.")


@model(frozen=True, config=CONFIG)
class RunSettings:
    """Settings of `agentopt run` (concurrency, seed and repeat default to eval's)."""

    mutator: Name | None = PydanticField(default=None, description="The model that rewrites prompts and skills.")
    operators: list[Path_] | None = PydanticField(default=None, description="Operators to use (default: all).")
    minibatch: PositiveInt | None = PydanticField(default=None, description="Train tasks a child is screened on.")
    min_delta: NonNegative | None = PydanticField(
        default=None, description="A child must beat the best val score by at least this.")
    significance: Fraction | None = PydanticField(default=None, description="Also require a paired-bootstrap p-value below this.")
    val_episodes: PositiveInt | None = PydanticField(default=None, description="Use only the first N val tasks.")
    test_episodes: PositiveInt | None = PydanticField(default=None, description="Use only the first N test tasks.")
    concurrency: PositiveInt | None = PydanticField(default=None, description="Episodes run at once.")
    seed: CountInt | None = PydanticField(default=None, description="Seed of the search and the episodes.")
    repeat: PositiveInt | None = PydanticField(default=None, description="Play each task this many times.")
    storage: Name | None = PydanticField(default=None, description="Optuna storage URL shared by several workers.")


@model(frozen=True, config=CONFIG)
class ProjectFile:
    """What `agentopt eval` and `agentopt run` use when no argument is given; flags override it.
    Paths are relative to this file."""

    agent: Path_ | None = PydanticField(default=None, description="The agent spec (agents/NAME.yaml).")
    rubric: Path_ | None = PydanticField(default=None, description="The rubric (rubrics/NAME.yaml).")
    env: Name | None = PydanticField(default=None, description="support, dataset:FILE.jsonl, module:factory, a server URL, or several "
                                                "URLs separated by commas.")
    env_replicas: PositiveInt | None = PydanticField(default=None, description="Launch this many servers of a launched environment; "
                                                                "sessions spread over them.")
    tasks: Path_ | None = PydanticField(default=None, description="A JSONL or YAML file of reset arguments per split "
                                                   "(docs/environments.md).")
    runs_dir: Path_ | None = PydanticField(default=None, description="Where run folders are written (default runs).")
    eval: EvalSettings | None = PydanticField(default=None, description="Settings of `agentopt eval`.")
    gate: GateSettings | None = PydanticField(default=None, description="The CI gate of `agentopt eval`: exit 1 when it fails.")
    budget: BudgetSettings | None = PydanticField(default=None, description="What `agentopt run` may spend.")
    run: RunSettings | None = PydanticField(default=None, description="Settings of `agentopt run` (concurrency, seed and repeat "
                                                       "default to eval's).")


PROJECT: TypeAdapter[ProjectFile] = TypeAdapter(ProjectFile)
SCHEMA: dict[str, Any] = titled("agentopt project file (agentopt.yaml)", PROJECT.json_schema())

# Command-line parameter -> (section, key) in the file, per command. Path-valued ones are
# resolved against the file's directory.
_COMMON = {
    "agent": ("", "agent"), "rubric": ("", "rubric"), "env": ("", "env"), "env_replicas": ("", "env_replicas"),
    "tasks": ("", "tasks"), "runs_dir": ("", "runs_dir"),
}
PARAMETERS: dict[str, dict[str, tuple[str, str]]] = {
    "eval": {
        **_COMMON, "split": ("eval", "split"), "episodes": ("eval", "episodes"), "concurrency": ("eval", "concurrency"),
        "repeat": ("eval", "repeat"), "seed": ("eval", "seed"), "max_errors": ("eval", "max_errors"), "junit": ("eval", "junit"),
        "min_score": ("gate", "min_score"), "baseline": ("gate", "baseline"), "max_drop": ("gate", "max_drop"),
    },
    "run": {
        **_COMMON, **{k: ("budget", k) for k in ("max_rollouts", "max_cost", "max_time", "max_candidates")},
        **{k: ("run", k) for k in ("mutator", "operators", "minibatch", "min_delta", "significance", "val_episodes",
                                   "test_episodes", "concurrency", "seed", "repeat", "storage")},
    },
    "runs": {"runs_dir": ("", "runs_dir")},
}
_PATHS = {"agent", "rubric", "tasks", "runs_dir", "junit", "baseline"}
_FALLBACK = {("run", "concurrency"), ("run", "seed"), ("run", "repeat")}  # else eval's


@dataclass
class Project:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent

    def raw(self, section: str, key: str) -> Any:
        holder = self.data.get(section) if section else self.data
        value = holder.get(key) if isinstance(holder, dict) else None
        if value is None and (section, key) in _FALLBACK:
            return self.raw("eval", key)
        return value

    def value(self, name: str, section: str, key: str) -> Any:
        """The file's value for a command-line parameter, paths resolved against the file's folder."""
        value = self.raw(section, key)
        if value is None:
            return None
        if name in _PATHS:
            return self.root / value
        if name == "env":
            return resolve_env(value, self.root)
        if name == "operators":
            return ",".join(value)
        return value


def resolve_env(env: str, root: Path) -> str:
    """`dataset:FILE` with FILE relative to the project file's folder."""
    kind, sep, rest = env.partition(":")
    if kind == "dataset" and sep and rest and not Path(rest).is_absolute():
        return f"dataset:{root / rest}"
    return env


def is_project_file(path: str | Path) -> bool:
    return Path(path).name in PROJECT_NAMES


def find(config: Path | None, cwd: Path | None = None) -> Path | None:
    """The project file: `--config FILE` (which must exist), else agentopt.yaml in the current folder."""
    if config is not None:
        if not Path(config).is_file():
            raise UsageError(f"--config: {config}: not found")
        return Path(config)
    for name in PROJECT_NAMES:
        candidate = (cwd or Path(".")) / name
        if candidate.is_file():
            return Path(name) if cwd is None else candidate
    return None


def project_problems(path: str | Path) -> list[Problem]:
    """Every mistake in a project file, located; the files it names must exist."""
    source = yaml_source.read(str(path))
    return _problems(source)


def _problems(source: Source) -> list[Problem]:
    if source.problems and source.data is None:
        return list(source.problems)
    if source.data is None:
        return [Problem(source.file, 0, 0, "", "the project file is empty: give at least agent, rubric and env")]
    problems = list(source.problems)
    try:
        PROJECT.validate_python(source.data)
    except ModelError as error:
        problems += located.problems(error, source.data, source, SCHEMA)
    data = source.data if isinstance(source.data, dict) else {}
    root = Path(source.file).parent
    for key in ("agent", "rubric", "tasks"):
        value = data.get(key)
        if isinstance(value, str) and value and not (root / value).is_file():
            problems.append(source.problem(key, f"file not found: {root / value}"))
    env = data.get("env")
    if isinstance(env, str):
        kind, sep, rest = env.partition(":")
        if kind == "dataset" and not rest:
            problems.append(source.problem("env", "dataset needs a file: dataset:path/to/data.jsonl"))
        elif kind == "dataset" and not Path(resolve_env(env, root).partition(":")[2]).is_file():
            problems.append(source.problem("env", f"dataset file not found: {resolve_env(env, root).partition(':')[2]}"))
    return sorted(dict.fromkeys(problems), key=lambda p: (p.line, p.column))


def load(path: Path) -> Project:
    source = yaml_source.read(str(path))
    problems = _problems(source)
    if problems:
        raise ValidationError(problems)
    return Project(Path(path), source.data)


def merged(ctx: Any, command: str, config: Path | None) -> dict[str, Any]:
    """The command's parameters: the command line's where given, else the project file's, else the defaults.

    `ctx` is the click context of `agentopt eval` or `agentopt run`."""
    params = dict(ctx.params)
    path = find(config)
    if path is None:
        return params
    project = load(path)
    for name, (section, key) in PARAMETERS[command].items():
        source = ctx.get_parameter_source(name)  # Typer may ship its own click: compare by name
        if getattr(source, "name", None) == "COMMANDLINE":
            continue
        value = project.value(name, section, key)
        if value is not None:
            params[name] = value
    return params


def named_files(path: str | Path) -> list[Path]:
    """The agent and rubric a project file names, when it can be read and they exist."""
    source = yaml_source.read(str(path))
    data = source.data if isinstance(source.data, dict) else {}
    root = Path(path).parent
    return [root / data[k] for k in ("agent", "rubric") if isinstance(data.get(k), str) and data[k] and (root / data[k]).is_file()]
