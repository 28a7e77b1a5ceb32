"""report.md for an evaluation: the score, each criterion, and the failures with their feedback."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agentopt.redact import redact_url  # also when re-rendering a run written before URLs were redacted
from agentopt.truncation import truncation_line

MAX_FAILURES_SHOWN = 20


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def headline(summary: dict[str, Any]) -> str:
    s = summary["summary"]
    repeated = (s.get("repeats") or 1) > 1
    ci = f"95% CI over {s.get('n_tasks')} task means" if repeated else "95% CI"
    not_applicable = f", {s['n_not_applicable']} not applicable" if s.get("n_not_applicable") else ""
    text = (
        f"Score {fmt(s['mean'])} ({ci} {fmt(s['ci_low'])}-{fmt(s['ci_high'])}) on {summary['split']}: "
        f"{s['n']} episodes scored, {s['n_errors']} infrastructure errors{not_applicable}, pass rate {pct(s['pass_rate'])}"
    )
    if repeated:
        text += f", pass^{s.get('k')} {pct(s.get('pass_hat_k'))} ({s.get('n_tasks')} tasks, up to {s['repeats']} repeats each)"
    return text


def not_applicable_line(summary: dict[str, Any]) -> str:
    """One line when some episodes were not scored because no criterion applied ("" otherwise)."""
    n = summary["summary"].get("n_not_applicable") or 0
    if not n:
        return ""
    which = [c["id"] for c in summary["summary"]["criteria"] if c.get("n_not_applicable")]
    because = f" ({', '.join(which)} did not apply, e.g. the environment gave no reward)" if which else ""
    return f"{n} episode(s) not applicable: no weighted criterion applied to them{because}; they are not scored, not counted as 0."


def pass_hat_label(summary: dict[str, Any]) -> str:
    return f"pass^{summary['summary'].get('k') or 1}"


def tasks_section(summary: dict[str, Any], most: int = 50) -> str:
    """Per task over its repeats: mean and pass^k ("" when each task was played once)."""
    s = summary["summary"]
    tasks = s.get("per_task") or []
    if (s.get("repeats") or 1) <= 1 or not tasks:
        return ""
    label = pass_hat_label(summary)
    rows = [f"| task | played | scored | mean | passes | {label} |", "|---|---:|---:|---:|---:|---:|"]
    for t in tasks[:most]:
        rows.append(f"| {t['task_id']} | {t['repeats']} | {t['n']} | {fmt(t['mean'])} | {t['passes']} | {pct(t['pass_hat_k'])} |")
    more = f"\n\n... and {len(tasks) - most} more tasks in summary.json" if len(tasks) > most else ""
    return (
        f"## Tasks\n\nEach task played up to {s['repeats']} times; {label} is the chance that {s.get('k')} of its repeats "
        f"all pass (C(passes, k) / C(scored, k)). The score and its interval are over task means.\n\n"
        + "\n".join(rows) + more + "\n\n"
    )


def tasks_note(summary: dict[str, Any]) -> str:
    """One line on how the episodes were chosen, with the warning when the environment
    ignores seeds ("" when the summary does not say)."""
    info = summary.get("tasks") or {}
    if info.get("source") == "seeds" and info.get("seeds_honoured") is False:
        return ("Warning: the environment ignores the reset seed (two resets with one seed gave different observations): "
                "its episodes cannot be replayed, and held-out results are unreliable.")
    source = {"seeds": "seeded episodes (the environment has no Task API; each split its own seed range)",
              "task_api": "OpenEnv's Task API", "tasks_file": f"the tasks file `{info.get('tasks_file', '')}`"}.get(info.get("source") or "")
    repeat = f", each task played {info['repeat']} times" if (info.get("repeat") or 1) > 1 else ""
    return f"Episodes: {source}{repeat}." if source else ""


def criteria_table(summary: dict[str, Any]) -> str:
    """Mean and pass rate per criterion over the episodes it applied to; an `n/a` column counts
    the episodes it did not apply to (shown only when there are some)."""
    criteria = summary["summary"]["criteria"]
    na = any(c.get("n_not_applicable") for c in criteria)
    rows = ["| criterion | weight | gate | mean score | pass rate |" + (" n/a |" if na else ""),
            "|---|---:|:---:|---:|---:|" + ("---:|" if na else "")]
    for c in criteria:
        row = f"| {c['id']} | {c['weight']:g} | {'yes' if c['gate'] else ''} | {fmt(c['mean'])} | {pct(c['pass_rate'])} |"
        rows.append(row + (f" {c.get('n_not_applicable') or 0} |" if na else ""))
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
        if score.get("not_applicable"):
            lines.append(f"- **{trace['task_id']}**: {score['error']}")
            continue
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
        f"## Score\n\n{headline(summary)}\n\n" + (f"{tasks_note(summary)}\n\n" if tasks_note(summary) else "") + f"{criteria_table(summary)}\n\n"
        f"{gate_section(summary.get('gate'))}\n"
        + (f"{not_applicable_line(summary)}\n\n" if not_applicable_line(summary) else "")
        + (f"**{truncation_line(summary.get('truncation'))}**\n\n" if truncation_line(summary.get("truncation")) else "")
        + f"{tasks_section(summary)}{failures_section(episodes)}"
    )
