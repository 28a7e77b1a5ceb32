"""`agentopt run`: optimize a spec with a live display, then ship the winner and the reports."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from contextlib import ExitStack
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from agentopt.envs.session import parse_env
from agentopt.envs.tasks import load_tasks_file
from agentopt.errors import UsageError
from agentopt.optimize.artifacts import best_skill, load_candidate_spec, save_spec, spec_diff
from agentopt.optimize.account import is_account
from agentopt.optimize.budget import Budget
from agentopt.optimize.demos import lineage_section
from agentopt.optimize.journal import CANDIDATES
from agentopt.optimize.loop import Optimizer, PlanRefused, RunConfig, RunResult
from agentopt.redact import HIDDEN, redact_url, redacted_errors
from agentopt.spec.load import load_agent, load_rubric
from agentopt.store.html_report import headline as report_headline
from agentopt.store.html_report import render_html_report, render_run_markdown
from agentopt.store.report import fmt
from agentopt.store.run import REPORT, SUMMARY, RunFolder, read_jsonl
from agentopt.truncation import truncation, truncation_line

RUN_OPTIONS = "run_options.json"
DEFAULT_ROLLOUTS = 300


class LiveDisplay:
    """The rich panel: budget, candidates, best val vs baseline, cost, the current step."""

    def __init__(self, live: Live):
        self.live = live
        self.current = "starting"
        self.stats: dict[str, Any] = {}

    def step(self, text: str) -> None:
        self.current = text
        self.live.update(self.render())

    def warn(self, text: str) -> None:
        self.live.console.print(f"[yellow]warning:[/yellow] {text}")

    def note(self, text: str) -> None:
        self.live.console.print(text, markup=False, soft_wrap=True)

    def update(self, stats: dict[str, Any]) -> None:
        self.stats = stats
        self.live.update(self.render())

    def render(self) -> Group:
        s = self.stats
        table = Table.grid(padding=(0, 2))
        budget = f"/{s['max_rollouts']}" if s.get("max_rollouts") else ""
        table.add_row("rollouts", f"{s.get('rollouts', 0)}{budget}", "cost", f"${s.get('cost', 0.0):.4f}")
        table.add_row(
            "candidates",
            f"{s.get('proposed', 0)} proposed · {s.get('screened_out', 0)} screened out · {s.get('rejected', 0)} rejected · {s.get('accepted', 0)} accepted"
            f" · {s.get('duplicate', 0)} duplicate · {s.get('invalid', 0)} nothing to propose",
            "",
            "",
        )
        table.add_row("best val", f"{fmt(s.get('best_val'))} ({s.get('best', '-')})", "baseline", fmt(s.get("baseline_val")))
        return Group(table, f"[dim]{self.current}[/dim]")


def run_summary(result: RunResult, spec_file: Path, rubric, env_label: str, config: RunConfig, wall_s: float, usage) -> dict[str, Any]:
    def split(summary) -> dict[str, Any] | None:
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
    return f"{summary['baseline']['id']} -> {summary['winner']['id']}: {report_headline(summary)}"


def write_outputs(run: RunFolder, summary: dict[str, Any], result: RunResult) -> None:
    best = run.path / "best"
    save_spec(result.winner.spec, best)
    diff = spec_diff(result.baseline.spec, result.winner.spec) + lineage_section(list(read_jsonl(run.path / CANDIDATES)), result.winner.id)
    skill = best_skill(result.winner.spec, headline(summary))
    (best / "best_skill.md").write_text(skill, encoding="utf-8")
    (best / "diff.md").write_text(diff, encoding="utf-8")
    run.write_json(SUMMARY, summary)
    render_reports(run)


def render_reports(run: RunFolder) -> Path:
    """(Re)write report.md and report.html from the run folder's files."""
    summary = json.loads((run.path / SUMMARY).read_text(encoding="utf-8"))
    candidates = list(read_jsonl(run.path / CANDIDATES))  # a decision line a kill cut short is skipped, as --resume does
    best = run.path / "best"
    diff = (best / "diff.md").read_text(encoding="utf-8") if (best / "diff.md").exists() else ""
    skill = (best / "best_skill.md").read_text(encoding="utf-8") if (best / "best_skill.md").exists() else ""
    run.write_text(REPORT, render_run_markdown(summary, candidates, diff))
    return run.write_text("report.html", render_html_report(summary, candidates, diff, skill))


def saved_options(env: str, config: RunConfig) -> dict[str, Any]:
    """run_options.json: the run's settings for --resume, URL credentials left out (`redact_url`)."""
    options = config.to_dict()
    options["storage"] = redact_url(config.storage)
    return {"env": redact_url(env), "config": options}


def resume_options(run: RunFolder, budget: Budget, env: str | None = None, storage: str | None = None) -> tuple[RunConfig, str]:
    """The resumed run's saved settings; budget limits given on the command line replace theirs.

    A URL saved without its credentials (`--env`, `--storage`) needs them again: the same
    option on the command line, with the same URL once redacted, gives them back."""
    path = run.path / RUN_OPTIONS
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        config = RunConfig.from_dict(saved["config"])
        saved_env = saved["env"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # cut short, edited by hand, another version
        raise UsageError(f"--resume: {path} is not a run_options.json agentopt can read ({type(exc).__name__}: {exc})") from None
    given = {k: v for k, v in asdict(budget).items() if v is not None}
    env = _with_credentials("--env", saved_env, env)
    config = replace(config, budget=replace(config.budget, **given), storage=_with_credentials("--storage", config.storage, storage))
    return config, env


def _with_credentials(option: str, saved: str | None, given: str | None) -> str | None:
    if given is None:
        if saved and HIDDEN in saved:
            raise UsageError(f"--resume: the run's {option} had credentials, which are not saved: give {option} {saved} again, with them")
        return saved
    if redact_url(given) != saved:
        raise UsageError(f"--resume: {option} {redact_url(given)} is not the run's ({saved}): a resumed run keeps its {option}")
    return given


def run_optimize(
    agent: Path | None, rubric: Path | None, env: str | None, resume: Path | None, runs_dir: Path, config: RunConfig, sandbox: str = "local", retry_errors: bool = False,
    sandbox_image: str | None = None,
) -> int:
    if retry_errors and resume is None:
        raise UsageError("--retry-errors goes with --resume RUN_DIR: it plays that run's infrastructure-error episodes again")
    with redacted_errors(), ExitStack() as held:  # the run folder's lock, from before its first read to the last write
        return _optimize(held, agent, rubric, env, resume, runs_dir, config, sandbox, retry_errors, sandbox_image)


def _optimize(
    held: ExitStack, agent: Path | None, rubric: Path | None, env: str | None, resume: Path | None, runs_dir: Path,
    config: RunConfig, sandbox: str, retry_errors: bool, sandbox_image: str | None,
) -> int:
    console = Console(highlight=False)
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
        spec = load_agent(str(agent))
        config = replace(config, budget=config.budget if any(asdict(config.budget).values()) else Budget(max_rollouts=DEFAULT_ROLLOUTS))
    rules = load_rubric(str(rubric))
    if config.eval.tasks_file:
        load_tasks_file(config.eval.tasks_file)  # its mistakes are FILE:LINE lines, exit 2, before any run folder
    target = parse_env(env, sandbox=sandbox, sandbox_image=sandbox_image)  # --sandbox is per invocation, not saved for --resume
    if resume is None:
        run = RunFolder.create(runs_dir, "run", spec.name)
        held.enter_context(run.locked())
        run.snapshot(agent, "agent.yaml")
        run.snapshot(rubric, "rubric.yaml")
        save_spec(spec, run.path / "candidates" / "c0")
        run.write_json(RUN_OPTIONS, {"agent_file": str(Path(agent).resolve()), **saved_options(env, config)})

    console.print(f"Optimizing [bold]{spec.name}[/bold] ({spec.model}) on [bold]{redact_url(target.label)}[/bold]; mutator {config.mutator_model}")
    console.print(f"Run folder: {run.path}  (touch {run.path / 'STOP'} to stop cleanly; --resume {run.path} to continue)")
    if config.mutator_model == rules.judge_model and any(c.check == "llm_judge" for c in rules.criteria):
        console.print("[yellow]warning:[/yellow] the mutator and the judge are the same model: it may learn to please itself")
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        display = LiveDisplay(live)
        optimizer = Optimizer(spec, rules, target, run, config, display, retry_errors=retry_errors)
        left_out = "" if config.operators or config.mutator_model != "local" else " (reflect and skill need a capable --mutator)"
        live.console.print(f"Operators: {', '.join(optimizer.operators)}{left_out}")
        started = time.monotonic()
        try:
            # asyncio.run turns Ctrl-C into a cancellation, so the servers are stopped on the way out.
            result = asyncio.run(optimizer.optimize())
        except KeyboardInterrupt:
            live.stop()
            console.print(f"interrupted: everything finished is kept; continue with --resume {run.path}")
            return 130
        except PlanRefused:
            if resume is None:  # nothing was played: no half-made run folder is left to resume
                shutil.rmtree(run.path, ignore_errors=True)
            raise
    if not console.is_terminal:
        console.line()  # rich leaves a non-terminal Live's last line open: end it before the summary
    summary = run_summary(result, Path(agent), rules, redact_url(target.label), config, time.monotonic() - started, optimizer.evaluator.usage)
    summary["plan"] = optimizer.plan.to_dict()
    summary["truncation"] = truncation((e.trace for e in optimizer.journal.episodes.values()), spec.params.max_tokens)
    summary["tasks"] = optimizer.evaluator.task_info()  # how the episodes were chosen; whether seeds are honoured
    write_outputs(run, summary, result)
    if retry_errors:
        console.print(f"retried {optimizer.retried} episode(s) that had hit infrastructure errors")
    if line := truncation_line(summary["truncation"]):
        console.print(f"[yellow]warning:[/yellow] {line}", soft_wrap=True)
    console.print(f"stopped: {result.stopped}", markup=False, soft_wrap=True)  # one line, however long
    console.print(f"[bold]{headline(summary)}[/bold]")
    console.print(f"winner: {run.path / 'best' / 'agent.yaml'} · skill: {run.path / 'best' / 'best_skill.md'} · report: {run.path / 'report.html'}")
    return 0
