"""`agentopt eval`: evaluate and write the run folder (`agentopt.api`), show the result, apply the CI gate."""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentopt.api import prepare_eval, write_eval_outputs
from agentopt.commands.json_output import emit, eval_document
from agentopt.errors import InfraError
from agentopt.evaluation import evaluate
from agentopt.redact import redact, redact_url, redacted_errors
from agentopt.store.report import fmt, headline, not_applicable_line, pass_hat_label, pct, summary_markdown
from agentopt.store.run import REPORT
from agentopt.truncation import truncation_line


def criteria_table(summary: dict) -> Table:
    """Score and pass rate over the episodes each criterion applied to; an n/a column counts the
    episodes it did not apply to (shown only when there are some)."""
    criteria = summary["summary"]["criteria"]
    na = any(c.get("n_not_applicable") for c in criteria)
    table = Table(title="Criteria", title_justify="left")
    columns: list[tuple[str, JustifyMethod]] = [("criterion", "left"), ("weight", "right"), ("gate", "center"), ("score", "right"), ("pass rate", "right")]
    for column, justify in columns + ([("n/a", "right")] if na else []):
        table.add_column(column, justify=justify)
    for c in criteria:
        row = [c["id"], f"{c['weight']:g}", "yes" if c["gate"] else "", fmt(c["mean"]), pct(c["pass_rate"])]
        table.add_row(*row, *([str(c.get("n_not_applicable") or 0)] if na else []))
    return table


def tasks_table(summary: dict, most: int = 20) -> Table | None:
    """Per task over its repeats (None when each task was played once)."""
    s = summary["summary"]
    tasks = s.get("per_task") or []
    if (s.get("repeats") or 1) <= 1 or not tasks:
        return None
    more = f" (first {most} of {len(tasks)}; all in summary.json)" if len(tasks) > most else ""
    table = Table(title=f"Tasks over their repeats{more}", title_justify="left")
    columns: list[tuple[str, JustifyMethod]] = [("task", "left"), ("played", "right"), ("scored", "right"), ("mean", "right"), ("passes", "right"), (pass_hat_label(summary), "right")]
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for t in tasks[:most]:
        table.add_row(escape(str(t["task_id"])), str(t["repeats"]), str(t["n"]), fmt(t["mean"]), str(t["passes"]), pct(t["pass_hat_k"]))
    return table


def failures_table(records: list[dict], most: int = 10) -> Table | None:
    """The episodes that failed or hit an error, lowest score first, each with its failed criteria
    and the first one's feedback (None when every episode passed)."""
    from agentopt.store.eval_html import order

    failing = [r for r in order(records) if (r.get("score") or {}).get("error") or (r.get("score") or {}).get("passed") is False]
    if not failing:
        return None
    more = f" (the {most} lowest of {len(failing)}; all in report.html)" if len(failing) > most else ""
    table = Table(title=f"Failed episodes{more}", title_justify="left")
    columns: list[tuple[str, JustifyMethod]] = [("episode", "left"), ("score", "right"), ("failed criteria", "left"), ("first feedback", "left")]
    for column, justify in columns:
        table.add_column(column, justify=justify, overflow="fold")
    for record in failing[:most]:
        score, trace = record.get("score") or {}, record.get("trace") or {}
        failed = [c for c in score.get("criteria") or [] if c.get("passed") is False]
        if score.get("error"):
            cells = ("error", score["error"])
        else:
            cells = (", ".join(c["id"] for c in failed), (failed[0].get("feedback") or "") if failed else "below the pass threshold")
        task = str(score.get("task_id") or trace.get("task_id") or "")
        table.add_row(escape(task), fmt(score.get("score")), escape(cells[0]), escape(_clip(cells[1], 100)))
    return table


def _clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def episode_line(episode) -> str:
    """-v: one line per finished episode."""
    score = episode.score
    if score.error is not None:
        return f"{score.task_id}: error: {score.error}"
    failed = [c.id for c in score.criteria if c.passed is False]
    verdict = "passed" if score.passed else "failed"
    return f"{score.task_id}: {fmt(score.score)} {verdict}" + (f" ({', '.join(failed)})" if failed else "")


@redacted_errors()
def run_eval(
    agent: Path, rubric: Path, env: str, split: str, episodes: int | None, concurrency: int,
    min_score: float | None, baseline: Path | None, max_drop: float, junit: Path | None,
    runs_dir: Path, use_cache: bool, max_errors: int, sandbox: str = "local", sandbox_image: str | None = None,
    repeat: int = 1, tasks: Path | None = None, seed: int = 0, as_json: bool = False, env_replicas: int = 1, verbosity: int = 0,
) -> int:
    """verbosity: -1 (-q) only the result lines, warnings and errors; 0 the progress bar and tables; 1 (-v) also a line per episode."""
    console = Console(highlight=False, stderr=as_json)  # with --json, stdout holds only the JSON document
    quiet = verbosity < 0
    setup = prepare_eval(
        agent, rubric, env, split=split, episodes=episodes, runs_dir=runs_dir, concurrency=concurrency, use_cache=use_cache,
        repeat=repeat, tasks=tasks, seed=seed, sandbox=sandbox, sandbox_image=sandbox_image, baseline=baseline, max_drop=max_drop,
        env_replicas=env_replicas,
    )
    spec, rules, target, run, config = setup.spec, setup.rubric, setup.target, setup.run, setup.config

    if not quiet:
        console.print(f"Evaluating [bold]{spec.name}[/bold] ({spec.model}) on [bold]{redact_url(target.label)}[/bold], split {split}")
        console.print(f"Run folder: {run.path}")
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("mean {task.fields[mean]}"),
        TimeElapsedColumn(), console=console, transient=False, disable=quiet,
    ) as progress:
        bar = progress.add_task("starting environment and model", total=None, mean="-")
        done: list[float] = []

        def on_start(total: int) -> None:
            progress.update(bar, total=total, description="episodes")

        def on_episode(episode) -> None:
            if episode.score.error is None:
                done.append(episode.score.score)
            progress.update(bar, advance=1, mean=f"{sum(done) / len(done):.2f}" if done else "-")
            if verbosity > 0:
                progress.console.print(episode_line(episode), markup=False, highlight=False)

        def notify(text: str) -> None:
            warning = text.startswith("warning: ")
            if quiet and not warning:
                return
            progress.console.print("[yellow]warning:[/yellow] " if warning else "[dim]notice:[/dim] ", end="")
            progress.console.print(text.removeprefix("warning: "), markup=False, highlight=False)

        result = evaluate(spec, rules, target, run, config, on_start=on_start, on_episode=on_episode, notify=notify)

    summary = write_eval_outputs(setup, result, min_score=min_score, baseline=baseline, max_drop=max_drop, junit=junit)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
            handle.write(summary_markdown(summary) + "\n")

    if not quiet:
        console.print(criteria_table(summary))
        if (per_task := tasks_table(summary)) is not None:
            console.print(per_task)
        if (failing := failures_table(list(run.episodes()))) is not None:
            console.print(failing)
    console.print(f"[bold]{escape(headline(summary))}[/bold]")
    if line := not_applicable_line(summary):
        console.print(line, markup=False)
    if line := truncation_line(summary["truncation"]):
        console.print(f"[yellow]warning:[/yellow] {line}", soft_wrap=True)
    usage = summary["usage"]
    console.print(f"model calls: {usage['calls']} ({usage['cached']} cached) · wall {result.wall_s:.1f}s · report: {run.path / 'report.html'}")
    if junit is not None and not quiet:
        console.print(f"JUnit: {junit}")

    if result.n_errors > max_errors:
        errors = [s.error for s in result.scores if s.is_infra_error]
        error = InfraError(redact(f"{result.n_errors} episode(s) hit infrastructure errors (first: {errors[0]}); see {run.path / REPORT}"))
        if as_json:
            emit(eval_document(summary, list(run.episodes()), str(run.path), error.exit_code, str(error)))
            error.reported_as_json = True  # the CLI prints no second document
        raise error
    gate, code = summary["gate"], 0
    if gate is not None:
        verdict = "[green]PASSED[/green]" if gate["passed"] else "[red]FAILED[/red]"
        console.print(f"CI gate {verdict}: " + "; ".join(gate["reasons"]))
        code = 0 if gate["passed"] else 1
    if as_json:
        emit(eval_document(summary, list(run.episodes()), str(run.path), code))
    return code
