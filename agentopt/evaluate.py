"""evaluate(): run a split's episodes concurrently, score each trace, write the run folder.

Used by `agentopt eval` and, later, by the optimizer. A plain function a notebook can call.
"""

from __future__ import annotations

import asyncio
import os
from importlib import import_module
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from agentopt.envs.session import EnvTarget, RunningEnv
from agentopt.episode import TaskRef, run_episode
from agentopt.errors import Problem, ValidationError
from agentopt.models.client import ModelClient, Usage
from agentopt.models.local import LocalModelServer
from agentopt.scoring.aggregate import score_trace, summarize
from agentopt.scoring.base import CheckContext
from agentopt.scoring.result import EpisodeScore, SplitSummary
from agentopt.spec.agent import AgentSpec
from agentopt.spec.load import problem_at
from agentopt.spec.rubric import Rubric
from agentopt.store.run import RunFolder
from agentopt.trace import Trace

DEFAULT_EPISODES_WITHOUT_TASK_API = 10


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


@dataclass(frozen=True)
class EvalResult:
    run: RunFolder
    split: str
    env: str
    summary: SplitSummary
    scores: list[EpisodeScore]
    usage: Usage
    wall_s: float

    @property
    def n_errors(self) -> int:
        return self.summary.n_errors


@dataclass(frozen=True)
class Episode:
    """One played and scored episode."""

    trace: Trace
    score: EpisodeScore

    def to_record(self) -> dict[str, Any]:
        return {"trace": self.trace.to_dict(), "score": self.score.to_dict()}


OnEpisode = Callable[[Episode], None]


def select_tasks(env: RunningEnv, split: str, episodes: int | None) -> list[TaskRef]:
    specs = env.tasks(split)
    if specs is None:  # no Task API: N episodes seeded 0..N-1
        count = episodes or DEFAULT_EPISODES_WITHOUT_TASK_API
        return [TaskRef(split=split, index=i) for i in range(count)]
    if not specs:
        raise ValidationError(Problem("--split", 0, 0, "", f"the environment has no tasks in split {split!r}"))
    refs = [TaskRef(split=split, index=i, spec=s) for i, s in enumerate(specs)]
    return refs[:episodes] if episodes else refs


class Evaluator:
    """An environment server and a model client kept up across many evaluations.

    `async with Evaluator(...) as ev:` starts both; `await ev.run(spec, tasks)` plays and
    scores episodes concurrently. The optimizer evaluates hundreds of candidates through
    one Evaluator; `agentopt eval` evaluates one spec.
    """

    def __init__(self, env_target: EnvTarget, rubric: Rubric, logs: Path, config: EvalConfig = EvalConfig()):
        self.rubric = rubric
        self.config = config
        self.env = RunningEnv(env_target, logs, step_timeout_s=config.step_timeout_s)
        self.client = ModelClient(cache_path=config.cache_path, local_server=LocalModelServer(log_path=logs / "local-model.log"))
        self._limit = asyncio.Semaphore(max(1, config.concurrency))
        self._ctx = CheckContext(judge=self.client, judge_model=rubric.judge_model)

    async def __aenter__(self) -> "Evaluator":
        # The env server boots in its own process while we import OpenEnv's client here
        # (both take ~5 s: overlapping them halves the wait before the first episode).
        try:
            await asyncio.gather(asyncio.to_thread(self.env.start), asyncio.to_thread(import_module, "openenv.core.mcp_client"))
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.client.aclose()
        await asyncio.to_thread(self.env.stop)

    @property
    def usage(self) -> Usage:
        return self.client.usage

    async def tasks(self, split: str, limit: int | None = None) -> list[TaskRef]:
        return await asyncio.to_thread(select_tasks, self.env, split, limit)

    async def check_spec(self, spec: AgentSpec) -> None:
        """A tool description in the spec for a tool the environment lacks is a spec error."""
        if not spec.tools:
            return
        async with self.env.session() as session:
            names = {t.name for t in await session.tools()}
        problems = [
            problem_at(spec.source, f"tools.{t.name}", f"the environment has no tool {t.name!r} (it has: {', '.join(sorted(names))})")
            for t in spec.tools
            if t.name not in names
        ]
        if problems:
            raise ValidationError(problems)

    async def play(self, spec: AgentSpec, task: TaskRef) -> Episode:
        async with self._limit:
            trace = await run_episode(spec, self.env, self.client, task, seed=self.config.seed + task.index)
            score = await score_trace(trace, self.rubric, self._ctx)
        return Episode(trace, score)

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
) -> EvalResult:
    loop = asyncio.get_running_loop()
    started = loop.time()

    def record(episode: Episode) -> None:
        run.append_episode(episode.to_record())
        if on_episode:
            on_episode(episode)

    async with Evaluator(env_target, rubric, run.logs, config) as evaluator:
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
        "summary": asdict(result.summary),
        "usage": asdict(result.usage),
        "wall_s": round(result.wall_s, 2),
        "run_dir": str(result.run.path),
    }
