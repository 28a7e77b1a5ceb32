"""evaluate(): run a split's episodes concurrently, score each trace, write the run folder.

Used by `agentopt eval` and, later, by the optimizer. A plain function a notebook can call.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

from agentopt.envs.observation import ToolSpec
from agentopt.envs.replicas import EnvPool, open_env
from agentopt.envs.session import CAPACITY_RETRIES, EnvTarget, RunningEnv, capacity_limit
from agentopt.envs.tasks import (
    DEFAULT_SEEDED_EPISODES,
    SEED_BASES,
    SEED_SPAN,
    TaskEnv,
    TaskRef,
    TasksFile,
    file_tasks,
    load_tasks_file,
    seeded_tasks,
    unknown_split,
    with_repeats,
)
from agentopt.episode import run_episode
from agentopt.episode_record import Episode
from agentopt.errors import EnvError, Problem, UsageError, ValidationError
from agentopt.models.client import ModelClient, Usage
from agentopt.models.local import LocalModelServer
from agentopt.models.types import ChatModel, ChatRequest, ChatResponse
from agentopt.scoring.aggregate import score_trace, summarize
from agentopt.scoring.base import CheckContext
from agentopt.scoring.result import EpisodeScore, SplitSummary
from agentopt.spec.agent import AgentSpec
from agentopt.spec.load import problem_at
from agentopt.spec.rubric import Rubric
from agentopt.store.run import RunFolder

DEFAULT_EPISODES_WITHOUT_TASK_API = DEFAULT_SEEDED_EPISODES


def default_cache_path() -> Path:
    return Path(os.environ.get("AGENTOPT_HOME", ".agentopt-cache")) / "responses.db"


@dataclass(frozen=True)
class EvalConfig:
    split: str = "val"
    episodes: int | None = None  # None: every task of the split
    concurrency: int = 4
    seed: int = 0
    step_timeout_s: float = 60.0
    cache_path: Path | None = field(default_factory=default_cache_path)  # None: no cache
    repeat: int = 1  # --repeat: each task played this many times, each with its own seed
    tasks_file: str | None = None  # --tasks: reset arguments per split (docs/environments.md)


@dataclass(frozen=True)
class EvalResult:
    run: RunFolder
    split: str
    env: str
    summary: SplitSummary
    scores: list[EpisodeScore]
    usage: Usage
    wall_s: float
    tasks: dict[str, Any] = field(default_factory=dict)  # how the episodes were chosen (Evaluator.task_info)

    @property
    def n_errors(self) -> int:
        return self.summary.n_errors


OnEpisode = Callable[[Episode], None]


def select_tasks(
    env: RunningEnv | EnvPool, split: str, episodes: int | None, seed: int = 0, repeat: int = 1, tasks_file: TasksFile | None = None,
) -> list[TaskRef]:
    """The split's episodes: from the --tasks file, else OpenEnv's Task API, else seeded
    (each split its own seed range); the first `episodes` tasks, each `repeat` times.
    An unknown split is a UsageError listing the splits there are."""
    if tasks_file is not None:
        refs = file_tasks(tasks_file, split)
        return with_repeats(refs[:episodes] if episodes else refs, repeat, seed)
    known = env.splits()
    if known is not None and split not in known:
        raise unknown_split(split, known, f"environment {env.target.label}")
    specs = env.tasks(split)
    if specs is None:  # no Task API: seeded episodes from the split's own range
        return seeded_tasks(split, episodes or DEFAULT_SEEDED_EPISODES, seed, repeat)
    if not specs:
        raise ValidationError(Problem("--split", 0, 0, "", f"the environment has no tasks in split {split!r}"))
    refs = [TaskRef(split=split, index=i, spec=s) for i, s in enumerate(specs)]
    return with_repeats(refs[:episodes] if episodes else refs, repeat, seed)


class _Limit:
    """How many episodes run at once; lowered while running when the server turns out to
    take fewer sessions."""

    def __init__(self, limit: int):
        self.limit = max(1, limit)
        self.active = 0
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.active < self.limit)
            self.active += 1

    async def __aexit__(self, *exc: Any) -> None:
        async with self._changed:
            self.active -= 1
            self._changed.notify_all()

    def lower(self, limit: int) -> bool:
        if limit >= self.limit:
            return False
        self.limit = max(1, limit)
        return True


def _stderr_notice(text: str) -> None:
    sys.stderr.write(f"notice: {text}\n")  # at call time: rich's Live redirects sys.stderr above its panel
    sys.stderr.flush()


class CountedModel:
    """A caller's chat model (`agentopt.evaluate(..., model=...)`), with the usage totals the
    report needs counted here: the model itself owes agentopt nothing but `chat`."""

    def __init__(self, model: ChatModel):
        self.model = model
        self.usage = Usage()

    async def chat(self, request: ChatRequest) -> ChatResponse:
        response = await self.model.chat(request)
        self.usage.calls += 1
        self.usage.prompt_tokens += response.prompt_tokens
        self.usage.completion_tokens += response.completion_tokens
        self.usage.cost_usd += response.cost_usd
        return response


class Evaluator:
    """An environment server and a model client kept up across many evaluations.

    `async with Evaluator(...) as ev:` starts both; `await ev.run(spec, tasks)` plays and
    scores episodes concurrently. The optimizer evaluates hundreds of candidates through
    one Evaluator; `agentopt eval` evaluates one spec.
    """

    def __init__(
        self, env_target: EnvTarget, rubric: Rubric, logs: Path, config: EvalConfig = EvalConfig(),
        notify: Callable[[str], None] | None = None, model: ChatModel | None = None,
    ):
        self.rubric = rubric
        self.config = config
        self.notify = notify or _stderr_notice  # one-line notices and warnings for the terminal
        # A bad --tasks file or --repeat stops here (exit 2), before any server starts.
        self.tasks_file = load_tasks_file(config.tasks_file) if config.tasks_file else None
        if config.repeat < 1:
            raise UsageError(f"--repeat {config.repeat}: give 1 or more")
        self.env = open_env(env_target, logs, step_timeout_s=config.step_timeout_s)  # one server, or replicas
        # `model`: a caller's ChatModel answers every request (agent, judge, mutator) instead of ours.
        self._owns_client = model is None
        self.client: Any = (
            ModelClient(cache_path=config.cache_path, local_server=LocalModelServer(log_path=logs / "local-model.log"))
            if model is None else CountedModel(model)
        )
        self._limit = _Limit(config.concurrency)
        self._ctx = CheckContext(judge=self.client, judge_model=rubric.judge_model)
        self.task_source: str | None = None  # "tasks_file", "task_api" or "seeds": how episodes were chosen
        self.seeds_honoured: bool | None = None  # seeded episodes: whether one seed gives one episode
        self.seeds_by_split: dict[str, list[int]] = {}  # the seeds of each split's episodes

    async def __aenter__(self) -> Evaluator:
        # The env server boots in its own process while we import OpenEnv's client here
        # (both take ~5 s: overlapping them halves the wait before the first episode).
        try:
            await asyncio.gather(asyncio.to_thread(self.env.start), asyncio.to_thread(import_module, "openenv.core.generic_client"))
            await self.env.kind()  # a URL that is no OpenEnv server stops here, in one line, before any notice
        except BaseException:
            await self.__aexit__()
            raise
        limit = self.env.session_limit
        if limit is not None and self._limit.lower(limit):
            servers = "server takes" if isinstance(self.env, RunningEnv) else f"{len(self.env.replicas)} servers take"
            self.notify(f"the environment {servers} {limit} session(s) at once: concurrency lowered from {self.config.concurrency} to {limit}")
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._owns_client:
            await self.client.aclose()
        await asyncio.to_thread(self.env.stop)

    @property
    def usage(self) -> Usage:
        return self.client.usage

    async def tasks(self, split: str, limit: int | None = None) -> list[TaskRef]:
        """The split's episodes (see `select_tasks`). For seeded episodes, the first call
        also checks that the environment honours seeds, and says so when it does not."""
        c = self.config
        tasks = await asyncio.to_thread(select_tasks, self.env, split, limit, c.seed, c.repeat, self.tasks_file)
        seeded = self.tasks_file is None and not tasks[0].spec if tasks else False
        self.task_source = "tasks_file" if self.tasks_file is not None else "seeds" if seeded else "task_api"
        self.seeds_by_split[split] = [t.seed for t in tasks if t.seed is not None]
        if seeded:
            if limit is None:
                seeds = self.seeds_by_split[split]
                self.notify(
                    f"the environment has no Task API: playing {len(tasks)} seeded episode(s) of split {split} "
                    f"(seeds {min(seeds)}-{max(seeds)}); --episodes N to play more or fewer, --tasks FILE to name tasks"
                )
            if self.seeds_honoured is None:
                await self._check_seeds()
        return tasks

    async def _check_seeds(self) -> None:
        try:
            self.seeds_honoured = await self.env.seeds_honoured(SEED_BASES["train"] + self.config.seed)
        except EnvError as exc:
            self.notify(f"could not check that the environment honours seeds: {exc}")
            return
        if not self.seeds_honoured:
            self.notify(
                "warning: the environment ignores the reset seed (two resets with one seed gave different observations): "
                "episodes cannot be replayed and held-out (val/test) results are unreliable; use --repeat, or --tasks FILE"
            )

    def task_info(self) -> dict[str, Any]:
        """How the run's episodes were chosen, for summary.json and the report."""
        info: dict[str, Any] = {"source": self.task_source, "repeat": self.config.repeat}
        if self.tasks_file is not None:
            info["tasks_file"] = self.tasks_file.path
        if self.task_source == "seeds":
            info["seed_ranges"] = {s: [b, b + SEED_SPAN - 1] for s, b in SEED_BASES.items()}
            info["seeds_honoured"] = self.seeds_honoured
        info["seeds"] = {s: [min(v), max(v)] for s, v in self.seeds_by_split.items() if v}
        return info

    async def env_tools(self) -> list[ToolSpec]:
        """The environment's tools, outside an episode. Listed before any reset first (one round
        trip); an environment that answers only once an episode has begun (its step reads the
        task) is asked again after a reset of the first train task."""
        try:
            async with self.env.session() as session:
                return await session.tools()
        except EnvError as first:
            try:
                async with self.env.session() as session:
                    await session.reset("train", 0)
                    return await session.tools()
            except EnvError:
                raise first from None

    async def check_spec(self, spec: AgentSpec) -> None:
        """A tool description in the spec (or a tool in optimize.search_space.tools) for a tool
        the environment lacks is a spec error."""
        searched = spec.optimize.search_space.tools
        if not spec.tools and not searched:
            return
        names = {t.name for t in await self.env_tools()}
        has = f"(it has: {', '.join(sorted(names))})"
        problems = [
            problem_at(spec.source, f"tools.{t.name}", f"the environment has no tool {t.name!r} {has}")
            for t in spec.tools
            if t.name not in names
        ] + [
            problem_at(spec.source, f"optimize.search_space.tools[{i}]", f"the environment has no tool {name!r} {has}")
            for i, name in enumerate(searched)
            if name not in names
        ]
        if problems:
            raise ValidationError(problems)

    async def play(self, spec: AgentSpec, task: TaskRef) -> Episode:
        """Play and score one episode. A session the server refuses at capacity is no
        episode error: concurrency is lowered to the server's limit and the episode waits
        for its turn and is played again."""
        seed = task.seed if task.seed is not None else self.config.seed + task.index
        env = TaskEnv(self.env, task.reset) if task.reset else self.env
        for attempt in range(CAPACITY_RETRIES + 1):
            async with self._limit:
                trace = await run_episode(spec, env, self.client, task, seed=seed)
                limit = capacity_limit(trace.error) if trace.turns == 0 else None
                if limit is None or attempt == CAPACITY_RETRIES:
                    score = await score_trace(trace, self.rubric, self._ctx)
                    return Episode(trace, score)
            before, total = self._limit.limit, self.env.capacity(limit)
            if total is not None and self._limit.lower(total):
                servers = "server takes" if isinstance(self.env, RunningEnv) else f"{len(self.env.replicas)} servers take"
                self.notify(
                    f"the environment {servers} {total} session(s) at once (one refused a session: at capacity): "
                    f"concurrency lowered from {before} to {total}"
                )
            await asyncio.sleep(min(0.1 * 2**attempt, 1.0))  # a closing session frees its slot a moment later
        raise AssertionError("unreachable")

    async def run(self, spec: AgentSpec, tasks: list[TaskRef], on_episode: OnEpisode | None = None) -> list[Episode]:
        """Play and score every task; results in the order of `tasks`."""
        return await self._each(spec, tasks, on_episode, lambda episode: episode)

    async def run_scores(self, spec: AgentSpec, tasks: list[TaskRef], on_episode: OnEpisode | None = None) -> list[EpisodeScore]:
        """Like `run`, but keeps only the scores: each trace is dropped once `on_episode` has
        had it (written to traces.jsonl), so memory does not grow with the episode count."""
        return await self._each(spec, tasks, on_episode, lambda episode: episode.score)

    async def _each(self, spec: AgentSpec, tasks: list[TaskRef], on_episode: OnEpisode | None, keep: Callable[[Episode], Any]) -> list[Any]:
        async def one(task: TaskRef) -> Any:
            episode = await self.play(spec, task)
            if on_episode:
                on_episode(episode)
            return keep(episode)

        return list(await asyncio.gather(*(one(t) for t in tasks)))


async def evaluate_async(
    spec: AgentSpec,
    rubric: Rubric,
    env_target: EnvTarget,
    run: RunFolder,
    config: EvalConfig = EvalConfig(),
    on_start: Callable[[int], None] | None = None,
    on_episode: OnEpisode | None = None,
    notify: Callable[[str], None] | None = None,
    model: ChatModel | None = None,
) -> EvalResult:
    loop = asyncio.get_running_loop()
    started = loop.time()

    def record(episode: Episode) -> None:
        run.append_episode(episode.to_record())
        if on_episode:
            on_episode(episode)

    async with Evaluator(env_target, rubric, run.logs, config, notify=notify, model=model) as evaluator:
        tasks = await evaluator.tasks(config.split, config.episodes)
        await evaluator.check_spec(spec)
        if on_start:
            on_start(len(tasks))
        scores = await evaluator.run_scores(spec, tasks, on_episode=record)
    return EvalResult(
        run=run,
        split=config.split,
        env=env_target.label,
        summary=summarize(scores, rubric),
        scores=scores,
        usage=evaluator.usage,
        wall_s=loop.time() - started,
        tasks=evaluator.task_info(),
    )


def evaluate(spec: AgentSpec, rubric: Rubric, env_target: EnvTarget, run: RunFolder, config: EvalConfig = EvalConfig(), **callbacks: Any) -> EvalResult:
    return asyncio.run(evaluate_async(spec, rubric, env_target, run, config, **callbacks))


def summary_dict(result: EvalResult, spec: AgentSpec, rubric: Rubric) -> dict[str, Any]:
    """What summary.json holds: enough for a later `--baseline` comparison and a reader."""
    return {
        "agent": spec.name,
        "agent_file": spec.source,
        "model": spec.model,
        "rubric": rubric.name,
        "rubric_file": rubric.source,
        "env": result.env,
        "split": result.split,
        "tasks": result.tasks,
        "summary": asdict(result.summary),
        "usage": asdict(result.usage),
        "wall_s": round(result.wall_s, 2),
        "run_dir": str(result.run.path),
    }
