"""The `--json` documents of `agentopt eval`, `run`, `validate` and `runs` (docs/json.md): one JSON
document on stdout; everything for people goes to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from agentopt.errors import AgentoptError, ValidationError

VERSION = 1  # the shape's version: a field is never removed or renamed without changing it


def emit(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"schema_version": VERSION, **document}, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def error_document(command: str, error: AgentoptError) -> dict[str, Any]:
    """What a command that stopped on an error prints with --json (its stderr lines stay)."""
    problems = [
        {"file": p.file, "line": p.line, "column": p.column, "field": p.field, "message": p.message, "text": str(p)}
        for p in error.problems
    ] if isinstance(error, ValidationError) else []
    return {"command": command, "ok": False, "exit_code": error.exit_code, "error": str(error).splitlines()[0] if str(error) else type(error).__name__, "problems": problems}


def eval_document(summary: dict[str, Any], records: list[dict[str, Any]], run_dir: str, exit_code: int, error: str | None = None) -> dict[str, Any]:
    s = summary["summary"]
    episodes = []
    for record in records:
        score, trace = record.get("score") or {}, record.get("trace") or {}
        episodes.append({
            "task_id": score.get("task_id") or trace.get("task_id"),
            "score": score.get("score"),
            "passed": score.get("passed"),
            "error": score.get("error"),
            "failed_criteria": [
                {"id": c["id"], "score": c.get("score"), "feedback": c.get("feedback")}
                for c in score.get("criteria") or [] if c.get("passed") is False
            ],
        })
    return {
        "command": "eval",
        "ok": exit_code == 0,
        "exit_code": exit_code,
        "error": error,
        "run_dir": run_dir,
        "agent": summary.get("agent"),
        "model": summary.get("model"),
        "rubric": summary.get("rubric"),
        "env": summary.get("env"),
        "split": summary.get("split"),
        "score": {k: s.get(k) for k in ("mean", "ci_low", "ci_high", "pass_rate", "n", "n_errors", "n_not_applicable")},
        "criteria": [
            {k: c.get(k) for k in ("id", "weight", "gate", "mean", "pass_rate", "n_not_applicable")} for c in s.get("criteria") or []
        ],
        "episodes": episodes,
        "gate": summary.get("gate"),
        "usage": summary.get("usage"),
        "files": {name: f"{run_dir}/{name}" for name in ("summary.json", "report.md", "report.html", "traces.jsonl")},
    }


def _split(split: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if not split else {k: split.get(k) for k in ("mean", "ci_low", "ci_high", "pass_rate", "n", "n_errors")}


def run_document(summary: dict[str, Any], run_dir: str, exit_code: int) -> dict[str, Any]:
    """`agentopt run --json`: the baseline and the winner on val and test, why the run stopped, what it cost, its files."""
    return {
        "command": "run",
        "ok": exit_code == 0,
        "exit_code": exit_code,
        "error": None,
        "run_dir": run_dir,
        "agent": summary.get("agent"),
        "model": summary.get("model"),
        "rubric": summary.get("rubric"),
        "env": summary.get("env"),
        "stopped": summary.get("stopped"),
        **{side: {"id": summary[side]["id"], "val": _split(summary[side].get("val")), "test": _split(summary[side].get("test"))}
           for side in ("baseline", "winner")},
        "improved": summary["winner"]["id"] != summary["baseline"]["id"],
        "candidates": summary.get("candidates"),
        "usage": summary.get("usage"),
        "wall_s": summary.get("wall_s"),
        "files": {
            "agent.yaml": f"{run_dir}/best/agent.yaml", "best_skill.md": f"{run_dir}/best/best_skill.md",
            "diff.md": f"{run_dir}/best/diff.md", "summary.json": f"{run_dir}/summary.json",
            "candidates.jsonl": f"{run_dir}/candidates.jsonl", "report.html": f"{run_dir}/report.html",
        },
    }
