"""report.html of `agentopt eval`: the headline, the criteria (a chart and a table), and every
episode one click away: an expandable section with its criteria (score, feedback), tool calls
and messages. Failures come first: infrastructure errors, then failed episodes by score, then
passes. Self-contained (no network), well-formed XML like the run report."""

from __future__ import annotations

import json
from typing import Any

from agentopt.store import plots
from agentopt.store.jinja import ENV as _env
from agentopt.store.report import fmt, headline, pct

MAX_TEXT = 20_000  # characters of one message or tool result shown; the rest is in traces.jsonl


def _clip(text: Any) -> str:
    text = text if isinstance(text, str) else json.dumps(text, indent=2, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"\n… ({len(text) - MAX_TEXT} more characters in traces.jsonl)"


def _status(score: dict[str, Any]) -> str:
    if score.get("error"):
        return "error"
    if score.get("not_applicable"):
        return "n/a"
    return "passed" if score.get("passed") else "failed"


def order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors, then failures (lowest score first), then the rest; ties keep the file's order."""
    rank = {"error": 0, "failed": 1, "n/a": 2, "passed": 3}

    def key(item: tuple[int, dict[str, Any]]) -> tuple:
        index, record = item
        score = record.get("score") or {}
        value = score.get("score")
        return rank[_status(score)], value if isinstance(value, (int, float)) else 0.0, index

    return [record for _, record in sorted(enumerate(records), key=key)]


def episode_view(index: int, record: dict[str, Any], prefix: str = "episode") -> dict[str, Any]:
    """What an episode's section shows; its anchor is `<prefix>-<index + 1>`."""
    trace, score = record.get("trace") or {}, record.get("score") or {}
    criteria = score.get("criteria") or []
    return {
        "anchor": f"{prefix}-{index + 1}",
        "key": (str(trace.get("task_id") or score.get("task_id")), trace.get("repeat") or score.get("repeat") or 0),
        "task_id": str(trace.get("task_id") or score.get("task_id") or f"episode {index + 1}"),
        "status": _status(score),
        "score": score.get("score"),
        "error": score.get("error") or trace.get("error"),
        "failed": [c["id"] for c in criteria if c.get("passed") is False],
        "gate_failed": score.get("gate_failed") or [],
        "criteria": [{**c, "details": _clip(c["details"]) if c.get("details") else ""} for c in criteria],
        "tool_calls": [{**call, "arguments": _clip(call.get("arguments")), "result": _clip(call.get("result") or "")} for call in trace.get("tool_calls") or []],
        "messages": [{"role": m.get("role", ""), "content": _clip(m.get("content") or ""), "tool_calls": _clip(m["tool_calls"]) if m.get("tool_calls") else ""}
                     for m in trace.get("messages") or []],
        "final_answer": _clip(trace.get("final_answer") or ""),
        "stats": {k: trace.get(k) for k in ("turns", "stop_reason", "reward", "prompt_tokens", "completion_tokens", "latency_s")},
        "input": _clip((trace.get("task") or {}).get("input", "")) if isinstance(trace.get("task"), dict) else "",
        "expected": _clip((trace.get("task") or {}).get("expected")) if isinstance(trace.get("task"), dict) and "expected" in trace["task"] else "",
    }


def criteria_chart(summary: dict[str, Any]) -> str:
    criteria = summary["summary"]["criteria"]
    return plots.bar_rows_chart(
        [c["id"] for c in criteria], [("mean score", [c.get("mean") for c in criteria])],
        title=f"Mean score per criterion on {summary.get('split', '')}", x_label="mean score",
    )


def render_eval_html(summary: dict[str, Any], records: list[dict[str, Any]]) -> str:
    episodes = [episode_view(i, r) for i, r in enumerate(order(list(records)))]
    counts = {status: sum(1 for e in episodes if e["status"] == status) for status in ("error", "failed", "n/a", "passed")}
    return _env.get_template("eval_report.html.j2").render(
        s=summary, headline=headline(summary), episodes=episodes, counts=counts, fmt=fmt, pct=pct,
        chart=plots_markup(criteria_chart(summary)) if summary["summary"]["criteria"] else "",
    )


def plots_markup(svg: str) -> Any:
    from markupsafe import Markup

    return Markup(svg)
