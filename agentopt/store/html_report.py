"""report.html and report.md for an optimization run (`agentopt run`).

Everything the page shows is derived here from summary.json and the run's decisions
(candidates.jsonl, read as typed `Decision` records by `store.decisions.read_decisions`); the
Jinja2 template (templates/report.html.j2, autoescaped) only lays it out. The page is one file: CSS
inline, plots as inline SVG, no JavaScript, no external assets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from markupsafe import Markup

from agentopt.records import POOL, Decision, Status
from agentopt.redact import redact_url
from agentopt.store import plots
from agentopt.store.decisions import proposed, status_counts
from agentopt.store.eval_html import episode_view, order
from agentopt.store.jinja import ENV
from agentopt.store.report import fmt, pct, tasks_note
from agentopt.store.run_episodes import RunEpisodes, Spend, collect
from agentopt.truncation import truncation_line

CANDIDATE_COLUMNS = ("id", "parent", "operator", "component", "status", "train", "val", "note", "reason")
_env = ENV


@dataclass(frozen=True)
class StatusStyle:
    """How the reports show one `Status`: its badge (label, colours) and its words in the count line."""

    label: str
    counted: str  # "1 screened out on train"
    background: str
    colour: str


# Every member of Status has one (tests/store/test_html_report.py fails for a member without), so a
# decision's status is never shown as "other". The template scopes their CSS to the candidates table:
# an episode's "error" badge (an infrastructure error) has colours of its own.
STATUS_STYLES: dict[Status, StatusStyle] = {
    Status.BASELINE: StatusStyle("baseline", "baseline", "#dbeafe", "#1e40af"),
    Status.ACCEPTED: StatusStyle("accepted", "accepted", "#dcfce7", "#166534"),
    Status.REJECTED: StatusStyle("rejected", "rejected", "#fee2e2", "#991b1b"),
    Status.SCREENED_OUT: StatusStyle("screened out", "screened out on train", "#f3f4f6", "#4b5563"),
    Status.INVALID: StatusStyle("invalid", "nothing to propose", "#fef3c7", "#92400e"),
    Status.DUPLICATE: StatusStyle("duplicate", "duplicate (the spec of an evaluated candidate)", "#fef3c7", "#92400e"),
    Status.ERROR: StatusStyle("error", "errors (the operator failed)", "#fde68a", "#7c2d12"),
    Status.SKIPPED: StatusStyle("skipped", "skipped (the parent was perfect on its minibatch)", "#e0e7ff", "#3730a3"),
}


# ---- numbers shared by both reports -----------------------------------------------------


def _mean(split: dict[str, Any] | None) -> float | None:
    return None if not split else split.get("mean")


def _delta(before: float | None, after: float | None) -> str:
    return "n/a" if before is None or after is None else f"{after - before:+.2f}"


def _with_ci(split: dict[str, Any] | None) -> str:
    """'0.68 (CI 0.58-0.77)'; with repeats the interval is over task means and pass^k follows."""
    if not split or split.get("mean") is None:
        return "n/a"
    text = f"{fmt(split['mean'])} (CI {fmt(split.get('ci_low'))}-{fmt(split.get('ci_high'))})"
    if split.get("k"):
        text += f" pass^{split['k']} {pct(split.get('pass_hat_k'))}"
    return text


def na_note(count: int | None) -> str:
    """' (2 n/a)': the episodes a criterion did not apply to, after its pass rate."""
    return f" ({count} n/a)" if count else ""


def headline(summary: dict[str, Any]) -> str:
    """'val 0.55 (CI 0.45-0.65) → 0.68 (CI 0.58-0.77), +0.13; test 0.52 → 0.63, +0.11'."""
    base, win = summary["baseline"], summary["winner"]
    val = f"val {_with_ci(base.get('val'))} → {_with_ci(win.get('val'))}, {_delta(_mean(base.get('val')), _mean(win.get('val')))}"
    bt, wt = _mean(base.get("test")), _mean(win.get("test"))
    test = "test n/a" if bt is None and wt is None else f"test {fmt(bt)} → {fmt(wt)}, {_delta(bt, wt)}"
    same = " (no candidate beat the baseline)" if base["id"] == win["id"] else ""
    return f"{val}; {test}{same}"


def report_split(summary: dict[str, Any]) -> str:
    """The split the per-criterion comparison uses: test when both sides have it, else val."""
    return "test" if summary["baseline"].get("test") and summary["winner"].get("test") else "val"


def criteria_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    split = report_split(summary)
    before = {c["id"]: c for c in (summary["baseline"].get(split) or {}).get("criteria", [])}
    after = {c["id"]: c for c in (summary["winner"].get(split) or {}).get("criteria", [])}
    rows = []
    for cid in list(before) + [c for c in after if c not in before]:
        b, a = before.get(cid, {}), after.get(cid, {})
        info = a or b
        rows.append({
            "id": cid, "description": info.get("description", ""), "weight": info.get("weight", 0),
            "gate": bool(info.get("gate")), "before": b.get("mean"), "after": a.get("mean"),
            "change": _delta(b.get("mean"), a.get("mean")),
            "before_pass": b.get("pass_rate"), "after_pass": a.get("pass_rate"),
            "before_na": b.get("n_not_applicable") or 0, "after_na": a.get("n_not_applicable") or 0,
        })
    return rows


def budget_used(summary: dict[str, Any]) -> list[str]:
    """'rollouts 300 / 300', 'cost $0.0000 / no limit', ...: what was spent against each limit."""
    budget, usage = summary.get("budget") or {}, summary.get("usage") or {}
    proposed = (summary.get("candidates") or {}).get("proposed", 0)
    cost, time_s = budget.get("max_cost"), budget.get("max_time_s")
    rollouts, cands = budget.get("max_rollouts"), budget.get("max_candidates")
    return [
        f"rollouts {usage.get('rollouts', 0)} / {'no limit' if rollouts is None else rollouts}",
        f"cost ${usage.get('cost_usd') or 0.0:.4f} / {'no limit' if cost is None else f'${cost:.2f}'}",
        f"time {summary.get('wall_s') or 0.0:.0f}s / {'no limit' if time_s is None else f'{time_s:.0f}s'}",
        f"candidates {proposed} / {'no limit' if cands is None else cands}",
    ]


def count_line(decisions: Sequence[Decision]) -> str:
    """'3 proposed: 1 accepted, 1 rejected, 1 screened out on train; not played: 0 nothing to propose, ...':
    every status but the baseline's, the played ones first (from the decisions, not summary.json's counts)."""
    counts = status_counts(decisions)
    others = [s for s in Status if s is not Status.BASELINE]
    played = ", ".join(f"{counts[s]} {STATUS_STYLES[s].counted}" for s in others if s.played)
    idle = ", ".join(f"{counts[s]} {STATUS_STYLES[s].counted}" for s in others if not s.played)
    return f"{proposed(counts)} proposed: {played}; not played: {idle}"


def candidate_cells(d: Decision) -> dict[str, str]:
    train, val = d.train, d.val
    train_s = "n/a" if not train else f"{fmt(train.get('mean'))} (parent {fmt(train.get('parent_mean'))}, n={train.get('n', 0)})"
    val_s = "n/a" if not val else f"{fmt(val.get('mean'))} (n={val.get('n', 0)})"
    component = d.component
    return {
        "id": d.id, "parent": d.parent or "", "operator": d.operator or "",
        "component": str(component or ""), "component_kind": component.kind if component else "",
        "component_name": (component.name or "") if component else "",
        "status": d.status.value, "status_label": STATUS_STYLES[d.status].label, "status_class": d.status.value,
        "note": d.note or "", "reason": d.reason or "", "train": train_s, "val": val_s,
    }


# ---- plots -------------------------------------------------------------------------------


def _x_max(summary: dict[str, Any], decisions: Sequence[Decision]) -> float:
    return max([1, (summary.get("usage") or {}).get("rollouts") or 0] + [d.rollouts or 0 for d in decisions])


def progress_chart(summary: dict[str, Any], decisions: Sequence[Decision]) -> str:
    """Best val of the accepted candidates (and the baseline) vs rollouts; rejected ones as faint dots."""
    base_val = _mean(summary["baseline"].get("val"))
    best: list[tuple[float, float]] = []
    rejected: list[tuple[float, float]] = []
    running: float | None = None
    for d in decisions:
        v = _mean(d.val)
        if d.status is Status.BASELINE and v is None:
            v = base_val
        if v is None:
            continue
        point = (d.rollouts or 0, v)
        if d.status in POOL and (running is None or v > running):
            running = v
            best.append(point)
        elif d.status is Status.REJECTED:
            rejected.append(point)
    series = [plots.Series("best val (accepted)", best), plots.Series("rejected", rejected, kind="dots", color="#9ca3af")]
    hlines = [] if base_val is None else [(base_val, "baseline val")]
    return plots.step_line_chart(
        series, "rollouts", "val score", hlines=hlines, x_range=(0, _x_max(summary, decisions)),
        title="Best validation score vs rollouts",
    )


def criteria_chart(summary: dict[str, Any]) -> str:
    rows = criteria_rows(summary)
    return plots.bar_rows_chart(
        [r["id"] for r in rows],
        [(f"baseline {summary['baseline']['id']}", [r["before"] for r in rows]),
         (f"winner {summary['winner']['id']}", [r["after"] for r in rows])],
        title=f"Mean score per criterion on {report_split(summary)}: baseline vs winner", x_label="mean score",
    )


def evaluated(summary: dict[str, Any], decisions: Sequence[Decision], spend: dict[str, Spend]) -> list[tuple[str, float, Spend]]:
    """(id, val score, spend per val episode) of every candidate evaluated on val."""
    out = []
    for d in decisions:
        v = _mean(d.val)
        if d.status is Status.BASELINE and v is None:
            v = _mean(summary["baseline"].get("val"))
        if v is not None and d.id in spend and spend[d.id].episodes:
            out.append((d.id, v, spend[d.id]))
    return out


def front_charts(summary: dict[str, Any], decisions: Sequence[Decision], spend: dict[str, Spend]) -> list[str]:
    """Val score against tokens per val episode, and against cost per val episode when any was spent;
    the quality/cost front (no other candidate is as good for less) marked."""
    points = evaluated(summary, decisions, spend)
    if not points:
        return []
    charts = []
    axes = [("tokens per val episode", lambda s: s.tokens_per_episode)]
    if any(s.cost_usd > 0 for _, _, s in points):
        axes.append(("cost per val episode (USD)", lambda s: s.cost_per_episode))
    for label, measure in axes:
        xy = [(cid, measure(s), v) for cid, v, s in points]
        front = plots.pareto_front(xy)
        charts.append(plots.front_chart(
            [plots.Dot(cid, x, y, cid in front) for cid, x, y in xy], label, "val score",
            title=f"Val score vs {label}: every evaluated candidate", front_label="quality/cost front",
        ))
    return charts


def cost_chart(summary: dict[str, Any], decisions: Sequence[Decision]) -> str:
    usage = summary.get("usage") or {}
    points = [(0, 0.0)] + [(d.rollouts or 0, d.cost_usd or 0.0) for d in decisions]
    points.append((usage.get("rollouts") or 0, usage.get("cost_usd") or 0.0))
    return plots.line_chart(
        [plots.Series("cumulative cost", points)], "rollouts", "cost (USD)",
        x_range=(0, _x_max(summary, decisions)), title="Cumulative cost vs rollouts",
    )


# ---- a tiny markdown subset to HTML: headings, lists, fenced code, paragraphs -------------


def _inline(text: str) -> str:
    text = escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"(?<![\w`])_([^_`]+)_(?![\w`])", r"<em>\1</em>", text)


def markdown_to_html(text: str) -> Markup:
    """Headings (shifted under the page's h2), - and 1. lists, ``` blocks (diff lines coloured),
    paragraphs, inline `code`, **bold** and _emphasis_; a leading YAML front matter stays verbatim."""
    out: list[str] = []
    lines, i, listing = text.splitlines(), 0, ""
    para: list[str] = []
    if lines and lines[0].strip() == "---" and "---" in (line.strip() for line in lines[1:]):
        end = next(n for n in range(1, len(lines)) if lines[n].strip() == "---")
        out.append("<pre><code>" + escape("\n".join(lines[: end + 1]), quote=False) + "</code></pre>")
        i = end + 1

    def flush() -> None:
        nonlocal listing
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()
        if listing:
            out.append(f"</{listing}>")
            listing = ""

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            lang, body, i = stripped[3:].strip(), [], i + 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            out.append("<pre><code>" + "\n".join(_code_line(b, lang == "diff") for b in body) + "</code></pre>")
        elif m := re.match(r"(#{1,6})\s+(.*)", stripped):
            flush()
            level = min(len(m.group(1)) + 2, 6)
            out.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
        elif m := re.match(r"([-*]|\d+\.)\s+(.*)", stripped):
            kind = "ol" if m.group(1)[0].isdigit() else "ul"
            if para or listing != kind:
                flush()
                out.append(f"<{kind}>")
                listing = kind
            out.append(f"<li>{_inline(m.group(2))}</li>")
        elif not stripped:
            flush()
        elif listing and line[:1].isspace():  # an indented continuation of the last list item
            out[-1] = out[-1][: -len("</li>")] + f"<br/>{_inline(stripped)}</li>"
        else:
            if listing:
                flush()
            para.append(stripped)
        i += 1
    flush()
    return Markup("\n".join(out))


def _code_line(line: str, diff: bool) -> str:
    text = escape(line, quote=False)
    if diff and line.startswith("+") and not line.startswith("+++"):
        return f'<span class="add">{text}</span>'
    if diff and line.startswith("-") and not line.startswith("---"):
        return f'<span class="del">{text}</span>'
    return text


# ---- the two reports ---------------------------------------------------------------------


def skill_without_pool(best_skill_md: str, diff_md: str) -> str:
    """The best skill minus its "## Examples" section when "What changed" already lists the
    example pool (a pool is shown once); a line says where it is."""
    if not re.search(r"^## Examples \(", diff_md, re.M):
        return best_skill_md
    match = re.search(r"^## Examples\s*$", best_skill_md, re.M)
    if not match:
        return best_skill_md
    rest = best_skill_md[match.end():]
    following = re.search(r"^## ", rest, re.M)
    note = "## Examples\n\nThe example pool is listed once, under What changed above.\n"
    return best_skill_md[: match.start()] + note + ("\n" + rest[following.start():] if following else "")


def episode_views(run_episodes: RunEpisodes, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The winner's and the baseline's episodes on the report split, failures first; one record per
    (task, repeat), the last one played (a retried episode replaces its error)."""
    views = []
    for side in ("winner", "baseline"):
        cid = summary[side]["id"]
        if side == "baseline" and cid == summary["winner"]["id"]:
            continue
        latest: dict[tuple, dict[str, Any]] = {}
        for record in run_episodes.shown.get(cid, []):
            trace = record.get("trace") or {}
            latest[(str(trace.get("task_id")), trace.get("repeat") or 0)] = record
        ordered = order(list(latest.values()))
        views.append({"side": side, "id": cid, "episodes": [episode_view(i, r, prefix=f"{cid}-episode") for i, r in enumerate(ordered)]})
    return views


def render_html_report(
    summary: dict[str, Any], decisions: Sequence[Decision], diff_md: str = "", best_skill_md: str = "",
    episodes: Iterable[dict[str, Any]] = (), plan: str = "",
) -> str:
    """`decisions`: candidates.jsonl (`store.decisions.read_decisions`); `episodes`: episodes.jsonl's
    records (read once); `plan`: the budget plan's note (agentopt.optimizer.budget.plan_note)."""
    usage = summary.get("usage") or {}
    spent = any((d.cost_usd or 0) > 0 for d in decisions) or (usage.get("cost_usd") or 0) > 0
    split = report_split(summary)
    run_episodes = collect(episodes, {summary["baseline"]["id"], summary["winner"]["id"]}, split)
    sides = episode_views(run_episodes, summary)
    by_key = {side["side"]: {e["key"]: e for e in side["episodes"]} for side in sides}
    return _env.get_template("report.html.j2").render(
        s={**summary, "env": redact_url(summary.get("env", ""))}, usage=usage, headline=" ".join(filter(None, (headline(summary), tasks_note(summary)))), budget=budget_used(summary), plan=plan, truncation=truncation_line(summary.get("truncation")),
        split=report_split(summary), criteria=criteria_rows(summary),
        candidates=[candidate_cells(d) for d in decisions], count_line=count_line(decisions), status_styles=STATUS_STYLES,
        progress_svg=Markup(progress_chart(summary, decisions)),
        criteria_svg=Markup(criteria_chart(summary)),
        cost_svg=Markup(cost_chart(summary, decisions)) if spent else "", spent=spent,
        front_svgs=[Markup(svg) for svg in front_charts(summary, decisions, run_episodes.spend)],
        sides=sides, baseline_by_key=by_key.get("baseline", {}),
        diff_html=markdown_to_html(diff_md), skill_html=markdown_to_html(skill_without_pool(best_skill_md, diff_md)),
        fmt=fmt, pct=pct, na_note=na_note,
    )


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_run_markdown(summary: dict[str, Any], decisions: Sequence[Decision], diff_md: str = "", plan: str = "") -> str:
    usage, splits = summary.get("usage") or {}, summary.get("splits") or {}
    rows = ["| criterion | weight | gate | baseline | winner | change | baseline pass | winner pass |",
            "|---|---:|:---:|---:|---:|---:|---:|---:|"]
    for r in criteria_rows(summary):
        rows.append(f"| {_cell(r['id'])} | {r['weight']:g} | {'yes' if r['gate'] else ''} | {fmt(r['before'])} | "
                    f"{fmt(r['after'])} | {r['change']} | {pct(r['before_pass'])}{na_note(r['before_na'])} | "
                    f"{pct(r['after_pass'])}{na_note(r['after_na'])} |")
    cands = ["| " + " | ".join(CANDIDATE_COLUMNS) + " |", "|---" * len(CANDIDATE_COLUMNS) + "|"]
    for c in map(candidate_cells, decisions):
        cands.append("| " + " | ".join(_cell(c[k]) for k in CANDIDATE_COLUMNS) + " |")
    header = [
        f"- agent: `{summary.get('agent_file', '')}` (model `{summary.get('model', '')}`), "
        f"mutator `{summary.get('mutator_model', '')}`, judge `{summary.get('judge_model', '')}`",
        f"- rubric: `{summary.get('rubric', '')}`",
        f"- environment: `{redact_url(summary.get('env', ''))}`, splits " + " / ".join(f"{k} {v}" for k, v in splits.items()),
        *[f"- {note}" for note in [tasks_note(summary)] if note],
        f"- stopped: {summary.get('stopped') or 'n/a'}",
        *[f"- {note}" for note in [plan] if note],
        *[f"- **{line}**" for line in [truncation_line(summary.get("truncation"))] if line],
        f"- budget used: {', '.join(budget_used(summary))}",
        f"- model calls: {usage.get('calls', 0)} ({usage.get('cached', 0)} from cache), "
        f"tokens: {(usage.get('prompt_tokens') or 0) + (usage.get('completion_tokens') or 0)}, "
        f"wall time: {summary.get('wall_s') or 0.0:.1f}s",
    ]
    sections = [
        f"# Optimization of `{summary['agent']}`",
        *([f"**{summary['account']}**"] if summary.get("account") else []),  # nothing could be learned: said first
        "\n".join(header),
        f"## Result\n\nWinner `{summary['winner']['id']}` vs baseline `{summary['baseline']['id']}`: {headline(summary)}",
        f"## Criteria on {report_split(summary)}\n\n" + "\n".join(rows),
        f"## Candidates\n\n{count_line(decisions)}.\n\n" + "\n".join(cands),
        "## What changed\n\n" + (diff_md.strip() or "Nothing: the winner is the baseline."),
    ]
    return "\n\n".join(sections) + "\n"
