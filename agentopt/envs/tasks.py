"""Where a split's episodes come from, and how each is reset (docs/environments.md).

Three sources, in this order:
- `--tasks FILE`: reset arguments per split, one entry a line (JSONL) or a YAML list;
- OpenEnv's Task API (`/list_environments`, `/{env}/splits`, `/{env}/tasks`);
- neither: seeded episodes. Each split has its own seed range (train from 0, val from
  1,000,000, test from 2,000,000), so held-out splits never replay training episodes.

`--repeat R` plays each task R times: repeat r of task i (of n) resets with seed
`base + i + r * n`, where base is `--seed` (plus the split's range start for seeded
episodes), so repeat 0 is the episode a run without --repeat plays and every episode of a
split has its own seed.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentopt.errors import Problem, UsageError, ValidationError

SEEDED_SPLITS = ("train", "val", "test")
SEED_SPAN = 1_000_000
SEED_BASES = {split: i * SEED_SPAN for i, split in enumerate(SEEDED_SPLITS)}  # train 0, val 1e6, test 2e6
DEFAULT_SEEDED_EPISODES = 10

# Fields that differ between two resets of one seed in any environment: ids and clocks.
VOLATILE = re.compile(r"(^|_)(id|ids|uuid|time|timestamp|created|started|elapsed|latency)$|^(episode|session|request|run)_?id", re.I)


@dataclass(frozen=True)
class TaskRef:
    """Which episode to play: a split and an index into it (OpenEnv's Task API, a --tasks
    file, or seeded episodes), which repeat of that task, and how to reset it."""

    split: str
    index: int
    spec: dict[str, Any] = field(default_factory=dict)  # the task spec, {} for seeded episodes
    repeat: int = 0  # which of --repeat R plays of this task (0 .. R-1)
    seed: int | None = None  # the reset's seed; None: the evaluator's --seed + index
    reset: dict[str, Any] = field(default_factory=dict)  # more reset arguments (a --tasks file's entry)

    @property
    def base_task_id(self) -> str:
        """The task's id, the same for all its repeats (group repeats by this)."""
        return str(self.spec.get("id", f"{self.split}-{self.index}"))

    @property
    def task_id(self) -> str:
        """The episode's id: the task's id, plus `#rN` for repeat N > 0 (journals key episodes by it)."""
        return self.base_task_id if self.repeat == 0 else f"{self.base_task_id}#r{self.repeat}"


@dataclass(frozen=True)
class TasksFile:
    """A `--tasks` file: each split's entries, each `{"id": ..., "reset": {...}}`."""

    path: str
    splits: dict[str, list[dict[str, Any]]]


def load_tasks_file(path: str | Path) -> TasksFile:
    """Read and check a tasks file; any mistake is a ValidationError at FILE:LINE (exit 2)."""
    name = str(path)
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"--tasks: file not found: {name}")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--tasks: cannot read {name}: {exc}") from None
    entries: list[tuple[int, Any]] = []
    if p.suffix.lower() in (".yaml", ".yml"):
        entries = _yaml_entries(name, text)
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                entries.append((number, json.loads(line)))
            except ValueError as exc:
                raise ValidationError(Problem(name, number, 0, "", f"not a JSON object: {exc}")) from None
    splits: dict[str, list[dict[str, Any]]] = {}
    seen: set[tuple[str, str]] = set()
    problems: list[Problem] = []
    for number, entry in entries:
        def bad(field: str, message: str, number: int = number) -> None:
            problems.append(Problem(name, number, 0, field, message))

        if not isinstance(entry, dict):
            bad("", 'each entry is an object: {"split": "val", "reset": {"task_id": "t3"}}')
            continue
        unknown = sorted(set(entry) - {"split", "reset", "id"})
        if unknown:
            bad(unknown[0], "unknown field (an entry has split, reset and an optional id)")
            continue
        split, reset, given_id = entry.get("split"), entry.get("reset", {}), entry.get("id")
        if not isinstance(split, str) or not split:
            bad("split", "needs a split name, e.g. \"val\"")
            continue
        if not isinstance(reset, dict):
            bad("reset", "is an object of reset arguments, e.g. {\"task_id\": \"t3\"}")
            continue
        if given_id is not None and not isinstance(given_id, (str, int)):
            bad("id", "is a string")
            continue
        index = len(splits.get(split, []))
        task_id = str(given_id) if given_id is not None else _default_id(split, index, reset)
        if (split, task_id) in seen:
            bad("id", f"task id {task_id!r} appears twice in split {split!r} (give each entry its own id)")
            continue
        seen.add((split, task_id))
        splits.setdefault(split, []).append({"id": task_id, "reset": reset, "line": number})
    if problems:
        raise ValidationError(problems)
    if not splits:
        raise ValidationError(Problem(name, 0, 0, "", "no tasks in the file"))
    return TasksFile(name, splits)


def _default_id(split: str, index: int, reset: dict[str, Any]) -> str:
    for key in ("task_id", "id", "task"):
        if isinstance(reset.get(key), (str, int)):
            return str(reset[key])
    return f"{split}-{index}"


def _yaml_entries(name: str, text: str) -> list[tuple[int, Any]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ValidationError(Problem(name, mark.line + 1 if mark else 0, 0, "", f"not valid YAML: {getattr(exc, 'problem', exc)}")) from None
    if node is None:
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise ValidationError(Problem(name, node.start_mark.line + 1, 0, "", "a YAML tasks file is a list of entries (- split: val ...)"))
    loader_entries = []
    for item in node.value:
        value = yaml.safe_load(yaml.serialize(item))
        loader_entries.append((item.start_mark.line + 1, value))
    return loader_entries


def unknown_split(split: str, known: list[str], where: str) -> UsageError:
    return UsageError(f"--split {split!r}: {where} has no such split; it has: {', '.join(known) or 'none'}")


def check_seeded_split(split: str) -> None:
    if split not in SEEDED_SPLITS:
        raise unknown_split(split, list(SEEDED_SPLITS), "an environment without the Task API (seeded episodes)")


def with_repeats(tasks: list[TaskRef], repeat: int, base_seed: int) -> list[TaskRef]:
    """Each task `repeat` times, each episode with its own seed (`base + i + r * n`)."""
    n = len(tasks)
    out = []
    for r in range(max(1, repeat)):
        for t in tasks:
            own = t.reset.get("seed") if isinstance(t.reset.get("seed"), int) else None
            seed = (own + r) if own is not None else base_seed + t.index + r * n
            out.append(TaskRef(split=t.split, index=t.index, spec=t.spec, repeat=r, seed=seed, reset=t.reset))
    # Task by task: the repeats of one task next to each other (journals, reports).
    return sorted(out, key=lambda t: (t.index, t.repeat))


def seeded_tasks(split: str, count: int, seed: int, repeat: int) -> list[TaskRef]:
    check_seeded_split(split)
    if count * max(1, repeat) + seed > SEED_SPAN or seed < 0:
        raise UsageError(
            f"seeded episodes: {count} episode(s) x {repeat} repeat(s) from --seed {seed} do not fit in a split's "
            f"range of {SEED_SPAN:,} seeds (use fewer)"
        )
    base = SEED_BASES[split] + seed
    return with_repeats([TaskRef(split=split, index=i) for i in range(count)], repeat, base)


def file_tasks(tasks: TasksFile, split: str) -> list[TaskRef]:
    """The split's entries of a --tasks file, in file order (spec: the id and the reset arguments)."""
    if split not in tasks.splits:
        raise unknown_split(split, sorted(tasks.splits), f"--tasks {tasks.path}")
    return [
        TaskRef(split=split, index=i, spec={**e["reset"], "id": e["id"]}, reset=dict(e["reset"]))
        for i, e in enumerate(tasks.splits[split])
    ]


def comparable(observation: Any) -> Any:
    """An observation without the fields that differ between two resets of one seed anyway."""
    if isinstance(observation, dict):
        return {k: comparable(v) for k, v in observation.items() if not (isinstance(k, str) and VOLATILE.search(k))}
    if isinstance(observation, list):
        return [comparable(v) for v in observation]
    return observation


def reset_with(session: Any, extra: dict[str, Any]) -> Any:
    """`session` whose reset also sends `extra` (a tasks file's reset arguments) to the server."""
    return _ResetArgsSession(session, extra) if extra else session


class _ResetArgsSession:
    """Wraps an episode's environment session: everything as is, but reset sends `extra` too."""

    def __init__(self, inner: Any, extra: dict[str, Any]):
        self._inner = inner
        self._extra = {k: v for k, v in extra.items() if k != "seed"}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def __aenter__(self) -> _ResetArgsSession:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)

    async def reset(self, split: str, index: int, seed: int | None = None, **kwargs: Any) -> Any:
        params = inspect.signature(self._inner.reset).parameters
        if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return await self._inner.reset(split, index, seed=seed, **{**self._extra, **kwargs})
        # The session sends its reset through OpenEnv's client (`client.reset(**kwargs)`):
        # add the arguments there, for this one call.
        client = self._inner._live()
        client.reset = functools.partial(type(client).reset.__get__(client), **self._extra)
        try:
            return await self._inner.reset(split, index, seed=seed, **kwargs)
        finally:
            del client.reset


class TaskEnv:
    """A RunningEnv as one task's episode sees it: its sessions reset with the task's arguments."""

    def __init__(self, env: Any, extra: dict[str, Any]):
        self._env = env
        self._extra = extra

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)

    def session(self) -> Any:
        return reset_with(self._env.session(), self._extra)
