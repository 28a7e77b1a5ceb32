"""`agentopt runs` and `agentopt report`: look at past runs."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agentopt.errors import UsageError
from agentopt.store.report import fmt
from agentopt.store.run import SUMMARY, RunFolder


def _score(summary: dict) -> str:
    if "winner" in summary:  # an optimization run
        before, after = summary["baseline"]["val"], summary["winner"]["val"]
        return f"val {fmt(before and before['mean'])} -> {fmt(after and after['mean'])}"
    return f"{summary.get('split', '')} {fmt(summary['summary']['mean'])}"


def list_runs(runs_dir: Path) -> None:
    table = Table("run", "agent", "env", "score", "status")
    for folder in sorted(p for p in Path(runs_dir).glob("*") if p.is_dir()):
        summary_path = folder / SUMMARY
        if summary_path.exists():
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            table.add_row(folder.name, summary.get("agent", ""), summary.get("env", ""), _score(summary), summary.get("stopped", "done"))
        else:
            table.add_row(folder.name, "", "", "", "unfinished (agentopt run --resume)")
    Console().print(table)


def rerender(run_dir: Path) -> str:
    from agentopt.commands.run import render_reports
    from agentopt.optimize.journal import CANDIDATES

    if not (run_dir / SUMMARY).exists():
        raise UsageError(f"{run_dir}: no summary.json (not a finished run folder)")
    if not (run_dir / CANDIDATES).exists():
        return f"{run_dir / 'report.md'} (an evaluation run: its report was written when it finished)"
    return str(render_reports(RunFolder(run_dir)))
