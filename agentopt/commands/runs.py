"""`agentopt runs` and `agentopt report`: look at past runs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rich.console import Console

from agentopt.errors import UsageError
from agentopt.store.report import fmt
from agentopt.store.run import SUMMARY, TRACES, RunFolder

_KIND = re.compile(r"^\d{8}-\d{6}-(eval|run)-")


def _score(summary: dict) -> str:
    if "winner" in summary:  # an optimization run
        before, after = summary["baseline"]["val"], summary["winner"]["val"]
        return f"val {fmt(before and before['mean'])} -> {fmt(after and after['mean'])}"
    return f"{summary.get('split', '')} {fmt(summary['summary']['mean'])}"


def kind_of(folder: Path) -> str:
    """eval or run: from the folder's files, else its name (`<time>-<kind>-<agent>`)."""
    if (folder / "run_options.json").exists() or (folder / "candidates").is_dir():
        return "run"
    match = _KIND.match(folder.name)
    return match.group(1) if match else "eval"


def describe(folder: Path) -> dict[str, Any]:
    """One run folder: what it is, how it ended, and what to do next."""
    kind = kind_of(folder)
    row: dict[str, Any] = {"id": folder.name, "path": str(folder), "kind": kind, "agent": "", "env": "", "score": None, "score_text": ""}
    summary_path = folder / SUMMARY
    summary = None
    if summary_path.exists():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            summary = None
    if summary is None:
        if kind == "run":
            row.update(status="unfinished", next=f"agentopt run --resume {folder} · as far as it got: agentopt report {folder}")
        else:
            row.update(status="unfinished", next=f"agentopt eval (again: an evaluation cannot be resumed) · as far as it got: agentopt report {folder}")
        return row
    row.update(agent=summary.get("agent", ""), env=summary.get("env", ""), score_text=_score(summary))
    if kind == "run":
        after = (summary.get("winner") or {}).get("val") or {}
        row.update(score=after.get("mean"), status=summary.get("stopped", "done"), next=f"winner: {folder / 'best' / 'agent.yaml'} · report: {folder / 'report.html'}")
    else:
        gate = summary.get("gate")
        status = "done" if gate is None else ("gate passed" if gate.get("passed") else "gate failed")
        report = folder / "report.html" if (folder / "report.html").exists() else folder / "report.md"
        row.update(score=summary["summary"].get("mean"), status=status, next=f"report: {report}")
    return row


def list_runs(runs_dir: Path, as_json: bool = False) -> None:
    folders = sorted(p for p in Path(runs_dir).glob("*") if p.is_dir()) if Path(runs_dir).is_dir() else []
    rows = [describe(folder) for folder in folders]
    if as_json:
        from agentopt.commands.json_output import emit

        emit({"command": "runs", "ok": True, "runs_dir": str(runs_dir),
              "runs": [{k: v for k, v in row.items() if k != "score_text"} for row in rows]})
        return
    console = Console(highlight=False, soft_wrap=True)  # never cut: ids and paths are what you type next
    if not rows:
        console.print(f"no runs in {runs_dir} (agentopt eval writes one)", markup=False)
        return
    widths = [max(len(header), *(len(str(row[key])) for row in rows)) for header, key in _COLUMNS]
    console.print("  ".join(h.ljust(w) for (h, _), w in zip(_COLUMNS, widths)).rstrip(), markup=False, style="bold")
    for row in rows:
        console.print("  ".join(str(row[key]).ljust(w) for (_, key), w in zip(_COLUMNS, widths)).rstrip(), markup=False)
        if row["agent"] or row["env"]:
            console.print(f"    {row['agent']} on {row['env']}", markup=False, style="dim")
        console.print(f"    next: {row['next']}", markup=False)


_COLUMNS = (("run", "id"), ("kind", "kind"), ("score", "score_text"), ("status", "status"))


def rerender(run_dir: Path) -> str:
    """Write report.md and report.html again; an unfinished run is rendered as far as it got
    (summary.json is not written for it)."""
    from agentopt.commands.run import render_reports
    from agentopt.store.decisions import CANDIDATES

    if not run_dir.exists():
        raise UsageError(f"{run_dir}: not found")
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: not a run folder (a file)")
    if not any((run_dir / name).exists() for name in (SUMMARY, TRACES, CANDIDATES, "episodes.jsonl")):
        raise UsageError(f"{run_dir}: not a run folder (no summary.json, traces.jsonl or candidates.jsonl)")
    if not (run_dir / SUMMARY).exists():
        return str(_render_unfinished(RunFolder(run_dir)))
    if not (run_dir / CANDIDATES).exists():
        return str(_rerender_eval(RunFolder(run_dir)))
    return str(render_reports(RunFolder(run_dir)))


def _render_unfinished(run: RunFolder) -> Path:
    from agentopt.optimizer.budget import plan_note
    from agentopt.store import partial
    from agentopt.store.decisions import CANDIDATES, read_decisions
    from agentopt.store.eval_html import render_eval_html
    from agentopt.store.html_report import render_html_report, render_run_markdown
    from agentopt.store.report import render_report
    from agentopt.store.run import REPORT, read_jsonl

    if kind_of(run.path) == "run":
        decisions = read_decisions(run.path / CANDIDATES)
        summary = partial.run_summary(run.path, decisions)
        episodes = read_jsonl(run.path / partial.EPISODES) if (run.path / partial.EPISODES).exists() else ()
        plan = plan_note(summary)
        run.write_text(REPORT, f"**{summary['unfinished']}**\n\n" + render_run_markdown(summary, decisions, plan=plan))
        return run.write_text("report.html", render_html_report(summary, decisions, "", "", episodes, plan=plan))
    summary, records = partial.eval_summary(run.path)
    run.write_text(REPORT, f"**{summary['unfinished']}**\n\n" + render_report(summary, records))
    return run.write_text("report.html", render_eval_html(summary, records))


def _rerender_eval(run: RunFolder) -> Path:
    from agentopt.store.eval_html import render_eval_html
    from agentopt.store.report import render_report
    from agentopt.store.run import REPORT

    summary = json.loads((run.path / SUMMARY).read_text(encoding="utf-8"))
    episodes = list(run.episodes())
    run.write_text(REPORT, render_report(summary, episodes))
    return run.write_text("report.html", render_eval_html(summary, episodes))
