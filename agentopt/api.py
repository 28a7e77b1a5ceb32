"""The Python API: `agentopt.evaluate(...)` and `agentopt.optimize(...)` for notebooks and scripts.

They write the same run folder as `agentopt eval` and `agentopt run` (summary.json,
report.md, report.html, and best/ for a run): the commands call the functions here and
keep only argument handling, terminal output and exit codes.

    result = agentopt.optimize("agents/qa.yaml", "rubrics/qa.yaml", "dataset:qa.jsonl", max_rollouts=60)
    result.run_dir, result.winner, result.summary

`model=` takes any object with `async def chat(request: ChatRequest) -> ChatResponse`
(`agentopt.models.types.ChatModel`); it then answers every model call (the agent's, the
judge's and the mutator's) instead of agentopt's own client, and no response cache is used.
`operators=` (optimize) takes operator objects (`agentopt.optimizer.types.Operator`) and/or
names of built-in ones: the run uses exactly those; an object named like a built-in
replaces it.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentopt.envs.session import EnvTarget, parse_env
from agentopt.envs.tasks import load_tasks_file
from agentopt.errors import UsageError
from agentopt.evaluation import EvalConfig, EvalResult, default_cache_path, evaluate_async, summary_dict
from agentopt.gate import check_gate
from agentopt.models.types import ChatModel
from agentopt.redact import redact_url
from agentopt.spec.agent import AgentSpec
from agentopt.spec.load import load_agent, load_rubric
from agentopt.spec.rubric import Rubric
from agentopt.store.decisions import CANDIDATES, read_decisions
from agentopt.store.run import REPORT, SUMMARY, RunFolder, read_jsonl
from agentopt.truncation import truncation

if TYPE_CHECKING:  # the optimizer is imported when optimize() runs: `agentopt.evaluate` stays light
    from agentopt.optimizer.loop import Display, RunResult

__all__ = ["EvalRun", "OptimizeResult", "evaluate", "optimize"]

RUN_OPTIONS = "run_options.json"
DEFAULT_ROLLOUTS = 300
DEFAULT_MAX_DROP = 0.0  # as `agentopt eval --max-drop`


# --- inputs: a path or an already-loaded spec/rubric ---
def _agent(agent: AgentSpec | str | Path) -> AgentSpec:
    return agent if isinstance(agent, AgentSpec) else load_agent(str(agent))


def _rubric(rubric: Rubric | str | Path) -> Rubric:
    return rubric if isinstance(rubric, Rubric) else load_rubric(str(rubric))


def snapshot_inputs(run: RunFolder, agent: AgentSpec | str | Path, rubric: Rubric | str | Path, spec: AgentSpec) -> None:
    """inputs/agent.yaml and inputs/rubric.yaml: the files as given, or a loaded spec written out
    (a loaded rubric is copied from the file it came from, when it came from one)."""
    if isinstance(agent, AgentSpec):
        from agentopt.optimizer.artifacts import save_spec

        save_spec(spec, run.path / "inputs")
    else:
        run.snapshot(agent, "agent.yaml")
    source = rubric.source if isinstance(rubric, Rubric) else str(rubric)
    if source and Path(source).is_file():
        run.snapshot(source, "rubric.yaml")


# --- evaluate ---
@dataclass(frozen=True)
class EvalRun:
    """What `evaluate()` returns: the run folder, what summary.json holds, and the raw result."""

    run_dir: Path
    summary: dict[str, Any]
    result: EvalResult

    @property
    def score(self) -> float | None:
        return self.result.summary.mean

    @property
    def n_errors(self) -> int:
        return self.result.n_errors


@dataclass(frozen=True)
class EvalSetup:
    spec: AgentSpec
    rubric: Rubric
    target: EnvTarget
    run: RunFolder
    config: EvalConfig


def prepare_eval(
    agent: AgentSpec | str | Path, rubric: Rubric | str | Path, env: str, *, split: str = "val", episodes: int | None = None,
    runs_dir: str | Path = "runs", concurrency: int = 4, use_cache: bool = True, repeat: int = 1, tasks: str | Path | None = None,
    seed: int = 0, sandbox: str = "local", sandbox_image: str | None = None, baseline: str | Path | None = None,
    max_drop: float = DEFAULT_MAX_DROP, env_replicas: int = 1,
) -> EvalSetup:
    """Load and check the inputs (every mistake before any run folder), then create the run folder."""
    spec, rules = _agent(agent), _rubric(rubric)
    target = parse_env(env, sandbox=sandbox, sandbox_image=sandbox_image, replicas=env_replicas)
    if tasks is not None:
        load_tasks_file(tasks)  # its mistakes are FILE:LINE lines, exit 2, before any run folder
    if baseline is not None:
        check_gate(0.0, None, Path(baseline), max_drop)  # fail fast (exit 2) on a bad baseline file
    run = RunFolder.create(Path(runs_dir), "eval", spec.name)
    snapshot_inputs(run, agent, rubric, spec)
    config = EvalConfig(
        split=split, episodes=episodes, concurrency=concurrency, cache_path=default_cache_path() if use_cache else None,
        repeat=repeat, tasks_file=str(tasks) if tasks is not None else None, seed=seed,
    )
    return EvalSetup(spec, rules, target, run, config)


def write_eval_outputs(
    setup: EvalSetup, result: EvalResult, *, min_score: float | None = None, baseline: str | Path | None = None,
    max_drop: float = DEFAULT_MAX_DROP, junit: str | Path | None = None,
) -> dict[str, Any]:
    """summary.json (with the gate and truncation), report.md, report.html, and the JUnit file when asked."""
    from agentopt.store.eval_html import render_eval_html
    from agentopt.store.junit import write_junit
    from agentopt.store.report import render_report

    spec, run = setup.spec, setup.run
    summary = summary_dict(result, spec, setup.rubric)
    summary["env"] = redact_url(summary["env"])  # the URL still connects; what is written has no credentials
    summary["gate"] = check_gate(result.summary.mean, min_score, Path(baseline) if baseline is not None else None, max_drop)
    summary["truncation"] = truncation((e["trace"] for e in run.episodes()), spec.params.max_tokens)
    run.write_json(SUMMARY, summary)
    run.write_text(REPORT, render_report(summary, run.episodes()))
    run.write_text("report.html", render_eval_html(summary, list(run.episodes())))
    if junit is not None:
        write_junit(Path(junit), f"agentopt.{spec.name}", run.episodes())
    return summary


def evaluate(
    agent: AgentSpec | str | Path, rubric: Rubric | str | Path, env: str, *, split: str = "val", episodes: int | None = None,
    runs_dir: str | Path = "runs", model: ChatModel | None = None, min_score: float | None = None,
    baseline: str | Path | None = None, max_drop: float = DEFAULT_MAX_DROP, junit: str | Path | None = None,
    on_start: Callable[[int], None] | None = None, on_episode: Callable[[Any], None] | None = None,
    notify: Callable[[str], None] | None = None, **options: Any,
) -> EvalRun:
    """Evaluate `agent` on `env`'s `split` and write runs_dir/<time>-eval-<name>/ as `agentopt eval` does.

    `env` is what `--env` takes (dataset:FILE.jsonl, module:factory, a URL, ...). `options`:
    concurrency, use_cache, repeat, tasks, seed, sandbox, sandbox_image, env_replicas."""
    setup = prepare_eval(agent, rubric, env, split=split, episodes=episodes, runs_dir=runs_dir, baseline=baseline, max_drop=max_drop, **options)
    result = asyncio.run(evaluate_async(
        setup.spec, setup.rubric, setup.target, setup.run, setup.config, on_start=on_start, on_episode=on_episode, notify=notify, model=model,
    ))
    summary = write_eval_outputs(setup, result, min_score=min_score, baseline=baseline, max_drop=max_drop, junit=junit)
    return EvalRun(setup.run.path, summary, result)


# --- optimize: what a run writes ---
def run_summary(result: Any, spec_file: Path, rubric: Rubric, env_label: str, config: Any, wall_s: float, usage: Any) -> dict[str, Any]:
    from agentopt.optimizer.account import is_account

    def split(summary: Any) -> dict[str, Any] | None:
        return None if summary is None else asdict(summary)

    return {
        "agent": result.baseline.spec.name,
        "agent_file": str(spec_file),
        "model": result.baseline.spec.model,
        "rubric": rubric.name,
        "env": env_label,
        "mutator_model": config.mutator_model,
        "judge_model": rubric.judge_model,
        "stopped": result.stopped,
        **({"account": result.stopped} if is_account(result.stopped) else {}),  # nothing could be learned: the report opens with it
        "wall_s": round(wall_s, 1),
        "budget": asdict(config.budget),
        "usage": {"rollouts": result.tracker.rollouts, "cost_usd": result.tracker.cost, **{k: v for k, v in asdict(usage).items() if k != "cost_usd"}},
        "splits": {k: len(v) for k, v in json.loads((result.run.path / "splits.json").read_text()).items()},
        "baseline": {"id": result.baseline.id, "val": split(result.summaries["baseline"]["val"]), "test": split(result.summaries["baseline"]["test"])},
        "winner": {"id": result.winner.id, "val": split(result.summaries["winner"]["val"]), "test": split(result.summaries["winner"]["test"])},
        "candidates": result.counts,
    }


def headline(summary: dict[str, Any]) -> str:
    """The report's headline (scores with intervals), naming the two candidates."""
    from agentopt.store.html_report import headline as report_headline

    return f"{summary['baseline']['id']} -> {summary['winner']['id']}: {report_headline(summary)}"


def write_outputs(run: RunFolder, summary: dict[str, Any], result: Any) -> None:
    """best/ (agent.yaml, skills, best_skill.md, diff.md), summary.json and the reports."""
    from agentopt.optimizer.artifacts import best_skill, save_spec, spec_diff
    from agentopt.optimizer.demos import lineage_section

    best = run.path / "best"
    save_spec(result.winner.spec, best)
    diff = spec_diff(result.baseline.spec, result.winner.spec) + lineage_section(read_decisions(run.path / CANDIDATES), result.winner.id)
    skill = best_skill(result.winner.spec, headline(summary))
    (best / "best_skill.md").write_text(skill, encoding="utf-8")
    (best / "diff.md").write_text(diff, encoding="utf-8")
    run.write_json(SUMMARY, summary)
    render_reports(run)


def render_reports(run: RunFolder) -> Path:
    """(Re)write report.md and report.html from the run folder's files."""
    from agentopt.optimizer.budget import plan_note
    from agentopt.store.html_report import render_html_report, render_run_markdown

    summary = json.loads((run.path / SUMMARY).read_text(encoding="utf-8"))
    decisions = read_decisions(run.path / CANDIDATES)  # a decision line a kill cut short is skipped, as --resume does
    best = run.path / "best"
    diff = (best / "diff.md").read_text(encoding="utf-8") if (best / "diff.md").exists() else ""
    skill = (best / "best_skill.md").read_text(encoding="utf-8") if (best / "best_skill.md").exists() else ""
    plan = plan_note(summary)
    run.write_text(REPORT, render_run_markdown(summary, decisions, diff, plan=plan))
    episodes = read_jsonl(run.path / "episodes.jsonl") if (run.path / "episodes.jsonl").exists() else ()
    return run.write_text("report.html", render_html_report(summary, decisions, diff, skill, episodes, plan=plan))


def saved_options(env: str, config: Any) -> dict[str, Any]:
    """run_options.json: the run's settings for --resume, URL credentials left out (`redact_url`)."""
    options = config.to_dict()
    options["storage"] = redact_url(config.storage)
    return {"env": redact_url(env), "config": options}


def new_run_folder(
    held: ExitStack, runs_dir: str | Path, spec: AgentSpec, agent: AgentSpec | str | Path, rubric: Rubric | str | Path, env: str, config: Any,
) -> RunFolder:
    """runs_dir/<time>-run-<name>/, locked for the rest of `held`, with the inputs, c0 and run_options.json."""
    from agentopt.optimizer.artifacts import save_spec

    run = RunFolder.create(Path(runs_dir), "run", spec.name)
    held.enter_context(run.locked())
    snapshot_inputs(run, agent, rubric, spec)
    save_spec(spec, run.path / "candidates" / "c0")
    agent_file = str(Path(agent).resolve()) if not isinstance(agent, AgentSpec) else spec.source
    run.write_json(RUN_OPTIONS, {"agent_file": agent_file, "run_id": run.path.name, **saved_options(env, config)})
    return run


def finish_run(run: RunFolder, result: Any, optimizer: Any, agent_file: str | Path, rubric: Rubric, target: EnvTarget, config: Any, wall_s: float) -> dict[str, Any]:
    """summary.json, best/ and the reports of a finished optimization; returns the summary."""
    summary = run_summary(result, Path(agent_file), rubric, redact_url(target.label) or target.label, config, wall_s, optimizer.evaluator.usage)
    summary["plan"] = optimizer.plan.to_dict()
    summary["truncation"] = truncation((e.trace for e in optimizer.journal.episodes.values()), optimizer.baseline.spec.params.max_tokens)
    summary["tasks"] = optimizer.evaluator.task_info()  # how the episodes were chosen; whether seeds are honoured
    write_outputs(run, summary, result)
    return summary


def resolve_operators(operators: Iterable[Any] | None) -> tuple[tuple[str, ...], dict[str, Any]]:
    """`operators=`: names of built-in operators and/or operator objects -> (the names to use, the objects by name)."""
    from agentopt.optimizer.types import operator_problem

    if operators is None:
        return (), {}
    names: list[str] = []
    objects: dict[str, Any] = {}
    for op in operators.values() if isinstance(operators, dict) else operators:
        if isinstance(op, str):
            names.append(op)
        elif isinstance(getattr(op, "name", None), str) and callable(getattr(op, "propose", None)):
            problem = operator_problem(op)
            if problem:
                raise UsageError(f"operators: {op.name!r} is not an agentopt.optimizer.types.Operator: {problem}")
            names.append(op.name)
            objects[op.name] = op
        else:
            raise UsageError(f"operators: {op!r} is neither an operator name nor an object with `name` and `propose` (agentopt.optimizer.types.Operator)")
    if not names:
        raise UsageError("operators: give at least one (None: every built-in operator)")
    return tuple(dict.fromkeys(names)), objects


@dataclass(frozen=True)
class OptimizeResult:
    """What `optimize()` returns: the run folder, the winning spec, what summary.json holds, and the raw result."""

    run_dir: Path
    winner: AgentSpec
    summary: dict[str, Any]
    result: RunResult


def optimize(
    agent: AgentSpec | str | Path, rubric: Rubric | str | Path, env: str, *, max_rollouts: int | None = DEFAULT_ROLLOUTS,
    max_cost: float | None = None, max_time_s: float | None = None, max_candidates: int | None = None,
    runs_dir: str | Path = "runs", model: ChatModel | None = None, operators: Iterable[Any] | None = None,
    display: Display | None = None, sandbox: str = "local", sandbox_image: str | None = None, env_replicas: int = 1, **options: Any,
) -> OptimizeResult:
    """Optimize `agent` on `env` and write runs_dir/<time>-run-<name>/ as `agentopt run` does (best/, summary.json, reports).

    `options`: RunConfig's settings (minibatch, min_delta, significance, seed, mutator_model,
    val_episodes, test_episodes, run_test, storage) and EvalConfig's (concurrency, repeat,
    tasks_file, step_timeout_s; use_cache=False for no response cache). `display`: an object
    with step/note/warn/update (agentopt.optimizer.loop.Display); default: logging."""
    from agentopt.optimizer.budget import Budget
    from agentopt.optimizer.loop import RunConfig

    names, objects = resolve_operators(operators)
    run_fields = {f.name for f in fields(RunConfig)} - {"budget", "operators", "eval"}
    eval_fields = {f.name for f in fields(EvalConfig)} - {"split", "episodes", "cache_path"}
    unknown = set(options) - run_fields - eval_fields - {"use_cache"}
    if unknown:
        raise TypeError(f"optimize() got unexpected option(s): {', '.join(sorted(unknown))}")
    use_cache = options.pop("use_cache", True)
    eval_options = {k: v for k, v in options.items() if k in eval_fields and k != "seed"}
    if eval_options.get("tasks_file") is not None:
        eval_options["tasks_file"] = str(Path(eval_options["tasks_file"]).resolve())
    seed = options.get("seed", 0)
    config = RunConfig(
        budget=Budget(max_rollouts=max_rollouts, max_cost=max_cost, max_time_s=max_time_s, max_candidates=max_candidates),
        operators=names, **{k: v for k, v in options.items() if k in run_fields},
        eval=EvalConfig(seed=seed, cache_path=default_cache_path() if use_cache else None, **eval_options),
    )
    with ExitStack() as held:
        setup = prepare_run(held, agent, rubric, env, runs_dir, config, sandbox=sandbox, sandbox_image=sandbox_image, env_replicas=env_replicas)
        optimizer = setup.optimizer(display, model=model, extra_operators=objects)
        started = time.monotonic()
        result = setup.play(optimizer)
        summary = setup.finish(result, optimizer, time.monotonic() - started)
    return OptimizeResult(setup.run.path, result.winner.spec, summary, result)


@dataclass
class RunSetup:
    """A new or resumed run, ready to optimize: the commands and `optimize()` share it."""

    spec: AgentSpec
    rubric: Rubric
    target: EnvTarget
    run: RunFolder
    config: Any  # RunConfig
    agent_file: str
    env: str
    resumed: bool = False
    retry_errors: bool = False
    run_id: str | None = None  # from run_options.json: names the Optuna study (default: the folder's name)

    def optimizer(self, display: Any = None, model: ChatModel | None = None, extra_operators: dict[str, Any] | None = None) -> Any:
        from agentopt.optimizer.loop import Optimizer

        if self.config.storage:  # the run's state in the database: this process is one of its workers
            from agentopt.optimizer.workers import SharedOptimizer

            if self.retry_errors:
                raise UsageError("--retry-errors is not available with --storage (a shared run): resume it without --storage first")
            return SharedOptimizer(
                self.spec, self.rubric, self.target, self.run, self.config, display, model=model, extra_operators=extra_operators,
                run_id=self.run_id, store=self.shared_store(),
            )
        return Optimizer(
            self.spec, self.rubric, self.target, self.run, self.config, display, retry_errors=self.retry_errors,
            model=model, extra_operators=extra_operators, run_id=self.run_id,
        )

    def shared_store(self) -> Any:
        """The run's rows in --storage's database, registered by the first process of the run."""
        from agentopt.optimizer.shared import SqlRunStore

        store = SqlRunStore(self.config.storage, self.run_id or self.run.path.name)
        store.create_schema()
        options = json.loads((self.run.path / RUN_OPTIONS).read_text(encoding="utf-8"))
        inputs = {p.relative_to(self.run.path / "inputs").as_posix(): p.read_text(encoding="utf-8")
                  for p in sorted((self.run.path / "inputs").rglob("*")) if p.is_file()}
        if self.config.eval.tasks_file and Path(self.config.eval.tasks_file).is_file():
            tasks = Path(self.config.eval.tasks_file)
            inputs[f"tasks{tasks.suffix}"] = tasks.read_text(encoding="utf-8")
        store.register(options, inputs)
        c0 = self.run.path / "candidates" / "c0"
        if (c0 / "agent.yaml").exists():
            store.put_folder("c0", c0)
        return store

    def finish(self, result: Any, optimizer: Any, wall_s: float) -> dict[str, Any]:
        """summary.json, best/ and the reports; a shared run's folder is then written from the database
        (the worker that played the final test stored the summary there first)."""
        if not self.config.storage:
            return finish_run(self.run, result, optimizer, self.agent_file, self.rubric, self.target, self.config, wall_s)
        from agentopt.export_run import export_run

        store = optimizer.store
        try:
            if result.summaries is not None:
                summary = finish_run(self.run, result, optimizer, self.agent_file, self.rubric, self.target, self.config, wall_s)
                store.complete(summary)
            export_run(store, self.run, write_outputs)
        finally:
            optimizer.close()
        written: dict[str, Any] = json.loads((self.run.path / SUMMARY).read_text(encoding="utf-8"))
        return written

    def play(self, optimizer: Any) -> Any:
        """Run the search; a plan refused before any episode leaves no half-made run folder."""
        from agentopt.optimizer.loop import PlanRefused

        try:
            # asyncio.run turns Ctrl-C into a cancellation, so the servers are stopped on the way out.
            return asyncio.run(optimizer.optimize())
        except PlanRefused:
            if not self.resumed:  # nothing was played: no half-made run folder is left to resume
                shutil.rmtree(self.run.path, ignore_errors=True)
            raise
        except BaseException:
            if self.config.storage:
                optimizer.close()  # a shared run's heartbeat stops: its claim expires and another worker takes it over
            raise


def prepare_run(
    held: ExitStack, agent: AgentSpec | str | Path | None, rubric: Rubric | str | Path | None, env: str | None, runs_dir: str | Path,
    config: Any, *, resume: Path | None = None, sandbox: str = "local", sandbox_image: str | None = None, retry_errors: bool = False,
    env_replicas: int = 1,
) -> RunSetup:
    """Load and check the inputs, then create the run folder (or reopen `resume`'s), locked for the rest of `held`."""
    from agentopt.optimizer.artifacts import load_candidate_spec
    from agentopt.optimizer.budget import Budget

    if resume is not None:
        if not (resume / RUN_OPTIONS).exists():
            raise UsageError(f"--resume: {resume} is not an agentopt run folder (no {RUN_OPTIONS})")
        run = RunFolder(resume)
        held.enter_context(run.locked())  # a second writer on this folder stops here: one line, exit 2
        config, env = resume_options(run, config.budget, env, config.storage)
        agent, rubric = run.path / "inputs" / "agent.yaml", run.path / "inputs" / "rubric.yaml"
        spec = load_candidate_spec(run.path / "candidates" / "c0")  # the baseline exactly as it started, skills included
    else:
        if agent is None or rubric is None or env is None:
            raise UsageError("agentopt run needs AGENT, --rubric and --env (or --resume RUN_DIR)")
        spec = _agent(agent)
        config = replace(config, budget=config.budget if any(asdict(config.budget).values()) else Budget(max_rollouts=DEFAULT_ROLLOUTS))
    rules = _rubric(rubric)
    from agentopt.optimizer.operators import all_operators

    all_operators()  # a broken operator plug-in is one line, exit 2, before any run folder
    if config.eval.tasks_file:
        load_tasks_file(config.eval.tasks_file)  # its mistakes are FILE:LINE lines, exit 2, before any run folder
    if config.storage:
        from agentopt.storage_url import check_storage

        check_storage(config.storage)  # a bad URL, a missing driver, a wrong password: one line now, before any episode
    # --sandbox and --env-replicas are per invocation, not saved for --resume
    target = parse_env(env, sandbox=sandbox, sandbox_image=sandbox_image, replicas=env_replicas)
    if resume is None:
        run = new_run_folder(held, runs_dir, spec, agent, rubric, env, config)
    agent_file = spec.source if isinstance(agent, AgentSpec) else str(agent)
    run_id = _saved_run_id(run)
    return RunSetup(spec, rules, target, run, config, agent_file, env, resumed=resume is not None, retry_errors=retry_errors, run_id=run_id)


def _saved_run_id(run: RunFolder) -> str:
    """The run id run_options.json keeps (a run folder copied or renamed keeps its study); older runs: the folder's name."""
    try:
        saved = json.loads((run.path / RUN_OPTIONS).read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        saved = None
    return saved if isinstance(saved, str) and saved else run.path.name


def resume_options(run: RunFolder, budget: Any, env: str | None = None, storage: str | None = None) -> tuple[Any, str]:
    """The resumed run's saved settings; budget limits given on the command line replace theirs.

    A URL saved without its credentials (`--env`, `--storage`) needs them again: the same
    option on the command line, with the same URL once redacted, gives them back."""
    from agentopt.optimizer.loop import RunConfig

    path = run.path / RUN_OPTIONS
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        config = RunConfig.from_dict(saved["config"])
        saved_env = saved["env"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # cut short, edited by hand, another version
        raise UsageError(f"--resume: {path} is not a run_options.json agentopt can read ({type(exc).__name__}: {exc})") from None
    given = {k: v for k, v in asdict(budget).items() if v is not None}
    env = _with_credentials("--env", saved_env, env) or saved_env
    config = replace(config, budget=replace(config.budget, **given), storage=_with_credentials("--storage", config.storage, storage))
    return config, env


def _with_credentials(option: str, saved: str | None, given: str | None) -> str | None:
    from agentopt.redact import HIDDEN

    if given is None:
        if saved and HIDDEN in saved:
            raise UsageError(f"--resume: the run's {option} had credentials, which are not saved: give {option} {saved} again, with them")
        return saved
    if redact_url(given) != saved:
        raise UsageError(f"--resume: {option} {redact_url(given)} is not the run's ({saved}): a resumed run keeps its {option}")
    return given
