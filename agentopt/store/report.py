"""report.md for an evaluation: the score, each criterion, and the failures with their feedback."""

from __future__ import annotations

from typing import Any, Iterable

from agentopt.redact import redact_url  # also when re-rendering a run written before URLs were redacted

MAX_FAILURES_SHOWN = 20


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def headline(summary: dict[str, Any]) -> str:
    s = summary["summary"]
    return (
        f"Score {fmt(s['mean'])} (95% CI {fmt(s['ci_low'])}-{fmt(s['ci_high'])}) on {summary['split']}: "
        f"{s['n']} episodes scored, {s['n_errors']} infrastructure errors, pass rate {pct(s['pass_rate'])}"
    )


def criteria_table(summary: dict[str, Any]) -> str:
    rows = ["| criterion | weight | gate | mean score | pass rate |", "|---|---:|:---:|---:|---:|"]
    for c in summary["summary"]["criteria"]:
        rows.append(f"| {c['id']} | {c['weight']:g} | {'yes' if c['gate'] else ''} | {fmt(c['mean'])} | {pct(c['pass_rate'])} |")
    return "\n".join(rows)


def gate_section(gate: dict[str, Any] | None) -> str:
    if not gate:
        return ""
    verdict = "PASSED" if gate["passed"] else "FAILED"
    return f"## CI gate: {verdict}\n\n" + "\n".join(f"- {reason}" for reason in gate["reasons"]) + "\n"


def failures_section(episodes: Iterable[dict[str, Any]]) -> str:
    lines = []
    for record in episodes:
        score, trace = record["score"], record["trace"]
        if score.get("error"):
            lines.append(f"- **{trace['task_id']}**: infrastructure error: {score['error']}")
            continue
        failed = [c for c in score["criteria"] if not c["passed"]]
        if failed:
            reasons = "; ".join(f"`{c['id']}`: {c['feedback']}" for c in failed)
            lines.append(f"- **{trace['task_id']}** (score {fmt(score['score'])}): {reasons}")
    if not lines:
        return "## Failures\n\nNone: every criterion passed on every episode.\n"
    shown = lines[:MAX_FAILURES_SHOWN]
    more = f"\n- ... and {len(lines) - len(shown)} more in traces.jsonl" if len(lines) > len(shown) else ""
    return "## Failures\n\n" + "\n".join(shown) + more + "\n"


def summary_markdown(summary: dict[str, Any]) -> str:
    """The short form: for the terminal's CI summary (GITHUB_STEP_SUMMARY) and the report's top."""
    return (
        f"### agentopt eval: {summary['agent']} on {redact_url(summary['env'])}\n\n"
        f"{headline(summary)}\n\n{criteria_table(summary)}\n\n{gate_section(summary.get('gate'))}"
    )


def render_report(summary: dict[str, Any], episodes: Iterable[dict[str, Any]]) -> str:
    usage = summary["usage"]
    return (
        f"# Evaluation of `{summary['agent']}`\n\n"
        f"- agent: `{summary['agent_file']}` (model `{summary['model']}`)\n"
        f"- rubric: `{summary['rubric_file']}`\n"
        f"- environment: `{redact_url(summary['env'])}`, split `{summary['split']}`\n"
        f"- model calls: {usage['calls']} ({usage['cached']} from cache), "
        f"tokens: {usage['prompt_tokens'] + usage['completion_tokens']}, cost: ${usage['cost_usd']:.4f}, "
        f"wall time: {summary['wall_s']:.1f}s\n\n"
        f"## Score\n\n{headline(summary)}\n\n{criteria_table(summary)}\n\n"
        f"{gate_section(summary.get('gate'))}\n{failures_section(episodes)}"
    )
