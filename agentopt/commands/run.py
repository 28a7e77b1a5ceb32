"""`agentopt run`: optimize a spec with a live display, then ship the winner and the reports."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

# What a run writes lives in agentopt.api (the CLI and the Python API share it); these names stay importable from here.
from agentopt.api import (  # noqa: F401
    DEFAULT_ROLLOUTS,
    RUN_OPTIONS,
    finish_run,
    headline,
    prepare_run,
    render_reports,
    resume_options,
    run_summary,
    saved_options,
    write_outputs,
)
from agentopt.errors import UsageError
from agentopt.optimizer.loop import RunConfig
from agentopt.redact import redact_url, redacted_errors
from agentopt.store.report import fmt
from agentopt.truncation import truncation_line


class LiveDisplay:
    """The rich panel: budget, candidates, best val vs baseline, cost, the current step.
    verbose (-v): every step is also printed as a line; quiet (-q): no panel, only warnings."""

    def __init__(self, live: Live | _NoLive, verbosity: int = 0):
        self.live = live
        self.current = "starting"
        self.stats: dict[str, Any] = {}
        self.verbosity = verbosity

    def step(self, text: str) -> None:
        self.current = text
        if self.verbosity > 0:
            self.live.console.print(text, markup=False, highlight=False, soft_wrap=True)
        self.live.update(self.render())

    def warn(self, text: str) -> None:
        self.live.console.print(f"[yellow]warning:[/yellow] {text}")

    def note(self, text: str) -> None:
        if self.verbosity >= 0:
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


def run_optimize(
    agent: Path | None, rubric: Path | None, env: str | None, resume: Path | None, runs_dir: Path, config: RunConfig, sandbox: str = "local", retry_errors: bool = False,
    sandbox_image: str | None = None, env_replicas: int = 1, as_json: bool = False, verbosity: int = 0,
) -> int:
    """as_json: people's output goes to stderr and one JSON document (docs/json.md) to stdout.
    verbosity: -1 (-q) no live panel, only warnings and the result; 1 (-v) every step as a line."""
    if retry_errors and resume is None:
        raise UsageError("--retry-errors goes with --resume RUN_DIR: it plays that run's infrastructure-error episodes again")
    with redacted_errors(), ExitStack() as held:  # the run folder's lock, from before its first read to the last write
        return _optimize(held, agent, rubric, env, resume, runs_dir, config, sandbox, retry_errors, sandbox_image, env_replicas, as_json, verbosity)


def _optimize(
    held: ExitStack, agent: Path | None, rubric: Path | None, env: str | None, resume: Path | None, runs_dir: Path,
    config: RunConfig, sandbox: str, retry_errors: bool, sandbox_image: str | None, env_replicas: int = 1, as_json: bool = False,
    verbosity: int = 0,
) -> int:
    setup = prepare_run(
        held, agent, rubric, env, runs_dir, config, resume=resume, sandbox=sandbox, sandbox_image=sandbox_image, retry_errors=retry_errors,
        env_replicas=env_replicas,
    )
    return play_run(setup, retry_errors, as_json, verbosity)


def play_run(setup: Any, retry_errors: bool = False, as_json: bool = False, verbosity: int = 0) -> int:
    """The live display, the search and the run folder's outputs (`agentopt run` and `agentopt worker`)."""
    console = Console(highlight=False, stderr=as_json)  # with --json, stdout holds only the JSON document
    quiet = verbosity < 0
    spec, rules, target, run, config = setup.spec, setup.rubric, setup.target, setup.run, setup.config

    if not quiet:
        console.print(f"Optimizing [bold]{spec.name}[/bold] ({spec.model}) on [bold]{redact_url(target.label)}[/bold]; mutator {config.mutator_model}")
        console.print(f"Run folder: {run.path}  (touch {run.path / 'STOP'} to stop cleanly; --resume {run.path} to continue)")
    if config.storage and not quiet:
        console.print(f"Shared run {setup.run_id} in {redact_url(config.storage)}: add workers from any machine with "
                      f"agentopt worker {setup.run_id} --storage URL", markup=False, soft_wrap=True)
    if config.mutator_model == rules.judge_model and any(c.check == "llm_judge" for c in rules.criteria):
        console.print("[yellow]warning:[/yellow] the mutator and the judge are the same model: it may learn to please itself")
    with Live(console=console, refresh_per_second=4, transient=False) if not quiet else _NoLive(console) as live:
        display = LiveDisplay(live, verbosity)
        optimizer = setup.optimizer(display)
        left_out = "" if config.operators or config.mutator_model != "local" else " (reflect and skill need a capable --mutator)"
        if not quiet:
            live.console.print(f"Operators: {', '.join(optimizer.operators)}{left_out}")
        started = time.monotonic()
        try:
            result = setup.play(optimizer)
        except KeyboardInterrupt:
            live.stop()
            console.print(f"interrupted: everything finished is kept; continue with --resume {run.path}")
            return 130
    if not console.is_terminal and not quiet:
        console.line()  # rich leaves a non-terminal Live's last line open: end it before the summary
    summary = setup.finish(result, optimizer, time.monotonic() - started)
    if retry_errors:
        console.print(f"retried {optimizer.retried} episode(s) that had hit infrastructure errors")
    if line := truncation_line(summary["truncation"]):
        console.print(f"[yellow]warning:[/yellow] {line}", soft_wrap=True)
    if config.storage and result.summaries is None:
        console.print("the final test was played by another worker of the run; this folder was written from the database")
    console.print(f"stopped: {result.stopped}", markup=False, soft_wrap=True)  # one line, however long
    if config.curriculum:
        from agentopt.optimizer.curriculum import report

        console.print(report(run), markup=False, soft_wrap=True)
    console.print(f"[bold]{headline(summary)}[/bold]")
    console.print(f"winner: {run.path / 'best' / 'agent.yaml'} · skill: {run.path / 'best' / 'best_skill.md'} · report: {run.path / 'report.html'}")
    if as_json:
        from agentopt.commands.json_output import emit, run_document

        emit(run_document(summary, str(run.path), 0))
    return 0


class _NoLive:
    """-q: what Live offers the display (console, update, stop), showing nothing."""

    def __init__(self, console: Console):
        self.console = console

    def __enter__(self) -> _NoLive:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *args: object, **kwargs: object) -> None:
        return None

    def stop(self) -> None:
        return None
