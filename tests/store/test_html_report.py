"""report.html and report.md of an optimization run, from summary.json and candidates.jsonl data (typed decisions)."""

import copy
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from agentopt.records import Decision, Status
from agentopt.store.html_report import headline, markdown_to_html, render_html_report, render_run_markdown

SVG = "{http://www.w3.org/2000/svg}svg"
EVIL = "<script>alert(1)</script>"


def split(mean, lo, hi, criteria):
    return {
        "n": 15, "n_errors": 0, "mean": mean, "ci_low": lo, "ci_high": hi, "pass_rate": 0.6,
        "criteria": [
            {"id": cid, "description": f"{cid} check", "weight": 1.0, "gate": cid == "format", "mean": m, "pass_rate": m}
            for cid, m in criteria
        ],
    }


def make_summary():
    return {
        "agent": "triage", "agent_file": "agents/triage.yaml", "model": "local", "rubric": "triage",
        "env": "dataset:tickets.jsonl", "mutator_model": "local", "judge_model": "local",
        "stopped": "rollout budget spent (300/300)", "wall_s": 812.4,
        "budget": {"max_rollouts": 300, "max_cost": None, "max_time_s": None, "max_candidates": None},
        "usage": {"rollouts": 300, "cost_usd": 0.0, "calls": 410, "cached": 95, "prompt_tokens": 123, "completion_tokens": 45},
        "splits": {"train": 46, "val": 15, "test": 15},
        "baseline": {"id": "c0", "val": split(0.55, 0.45, 0.65, [("format", 0.9), ("accuracy", 0.4)]),
                     "test": split(0.52, 0.41, 0.63, [("format", 0.8), ("accuracy", 0.35)])},
        "winner": {"id": "c2", "val": split(0.68, 0.58, 0.77, [("format", 1.0), ("accuracy", 0.6)]),
                   "test": split(0.63, 0.52, 0.74, [("format", 0.95), ("accuracy", 0.5)])},
        "candidates": {"proposed": 3, "screened_out": 1, "rejected": 1, "accepted": 1, "invalid": 0, "errors": 0},
    }


def make_lines():
    """candidates.jsonl's lines of a small run (version 1: no schema), as dicts."""
    return [
        {"id": "c0", "parent": None, "operator": "baseline", "component": None, "note": "", "status": "baseline",
         "reason": "", "train": None, "val": {"mean": 0.55, "n": 15}, "rollouts": 15, "cost_usd": 0.0, "elapsed_s": 10.0},
        {"id": "c1", "parent": "c0", "operator": "rules", "component": "system_prompt", "note": EVIL,
         "status": "screened_out", "reason": "train 0.40 vs parent 0.45", "train": {"mean": 0.4, "parent_mean": 0.45, "n": 8},
         "val": None, "rollouts": 31, "cost_usd": 0.0, "elapsed_s": 30.0},
        {"id": "c2", "parent": "c0", "operator": "rules", "component": "system_prompt", "note": "added 2 rules",
         "status": "accepted", "reason": "val 0.68 vs best 0.55 (+0.13 >= min_delta 0.00)",
         "train": {"mean": 0.6, "parent_mean": 0.45, "n": 8}, "val": {"mean": 0.68, "n": 15}, "rollouts": 62, "cost_usd": 0.0, "elapsed_s": 60.0},
        {"id": "c3", "parent": "c2", "operator": "examples", "component": "examples", "note": "one more example",
         "status": "rejected", "reason": "val 0.60 vs best 0.68", "train": {"mean": 0.7, "parent_mean": 0.6, "n": 8},
         "val": {"mean": 0.6, "n": 15}, "rollouts": 93, "cost_usd": 0.0, "elapsed_s": 90.0},
    ]


def decisions(lines=None):
    return [Decision.from_dict(line) for line in (make_lines() if lines is None else lines)]


DIFF = "## system_prompt\n\n- added a rule\n\n```diff\n- old line\n+ new line <b>\n```\n"


def render(summary=None, candidates=None, diff=DIFF, skill="# Skill\n\nUse `grep`."):
    return render_html_report(summary or make_summary(), decisions() if candidates is None else candidates, diff, skill)


class Structure(HTMLParser):
    """Checks that every tag closes in order and collects what the tests look at."""

    VOID = {"meta", "br", "hr", "img", "link", "input", "col", "source"}  # SVG shapes self-close: "/>"

    def __init__(self):
        super().__init__()
        self.stack, self.tags, self.attrs = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def test_html_is_well_formed_and_self_contained():
    page = render()
    assert page.startswith("<!DOCTYPE html>")
    checker = Structure()
    checker.feed(page)
    checker.close()
    assert checker.stack == []
    assert "link" not in checker.tags and "img" not in checker.tags
    assert checker.tags.count("script") == 1 and "src" not in dict(checker.attrs)  # one inline script: a link opens its episode
    for name, value in checker.attrs:
        if name in ("src", "href"):
            assert not (value or "").startswith(("http:", "https:", "//")), (name, value)
    root = ET.fromstring(page.split("\n", 1)[1])  # also well-formed XML (minus the doctype)
    assert len(root.findall(".//" + SVG)) == 2  # progress, criteria; no cost chart when nothing was spent
    assert root.find("head/style") is not None


def table_rows(page, css_class):
    root = ET.fromstring(page.split("\n", 1)[1])
    table = root.find(f".//table[@class='{css_class}']")
    return [["".join(td.itertext()) for td in tr] for tr in table.find("tbody")]


def test_one_table_row_per_candidate():
    rows = table_rows(render(), "candidates")
    assert [r[0] for r in rows] == ["c0", "c1", "c2", "c3"]
    c2 = rows[2]
    assert c2[1:3] == ["c0", "rules"] and c2[4] == "accepted"
    assert c2[6] == "0.60 (parent 0.45, n=8)" and c2[7] == "0.68 (n=15)"
    assert rows[1][7] == "n/a"  # screened out: no val
    assert rows[0][6] == "n/a"  # the baseline has no train comparison


def test_text_is_escaped():
    page = render()
    assert EVIL not in page and "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "new line &lt;b&gt;" in page  # inside the diff's code block too


def test_headline_numbers():
    text = headline(make_summary())
    assert text == "val 0.55 (CI 0.45-0.65) → 0.68 (CI 0.58-0.77), +0.13; test 0.52 → 0.63, +0.11"
    assert text in render()


def test_headline_when_nothing_beat_the_baseline():
    summary = make_summary()
    summary["winner"] = copy.deepcopy(summary["baseline"])
    assert headline(summary).endswith("+0.00; test 0.52 → 0.52, +0.00 (no candidate beat the baseline)")


def test_nulls_render_as_na():
    summary = make_summary()
    for side in ("baseline", "winner"):
        summary[side]["test"] = None
        summary[side]["val"].update(mean=None, ci_low=None, ci_high=None, pass_rate=None)
        for c in summary[side]["val"]["criteria"]:
            c.update(mean=None, pass_rate=None)
    lines = make_lines()
    lines[0]["val"] = {"mean": None, "n": 0}
    candidates = decisions(lines)
    summary["usage"]["cost_usd"] = None
    page = render(summary, candidates, diff="", skill="")
    assert headline(summary) == "val n/a → n/a, n/a; test n/a"
    assert "Criteria on val" in page
    criteria = table_rows(page, "criteria")
    assert criteria[0][3:8] == ["n/a"] * 5
    ET.fromstring(page.split("\n", 1)[1])
    assert "Nothing: the winner is the baseline." in page and "Best skill" not in page
    markdown = render_run_markdown(summary, candidates, "")
    assert "| format | 1 | yes | n/a | n/a | n/a | n/a | n/a |" in markdown


def test_empty_run_renders():
    summary = make_summary()
    summary["candidates"] = {}
    page = render(summary, candidates=[], diff="", skill="")
    assert len(ET.fromstring(page.split("\n", 1)[1]).findall(".//" + SVG)) == 2
    assert "No episode of c2 on test" in page


def test_progress_plot_uses_accepted_and_rejected_candidates():
    root = ET.fromstring(render().split("\n", 1)[1])
    progress = root.findall(".//" + SVG)[0]
    ns = SVG[: -len("svg")]
    titles = [c.find(ns + "title").text for c in progress.iter(ns + "circle") if c.find(ns + "title") is not None]
    assert titles == ["best val (accepted): 15, 0.55", "best val (accepted): 62, 0.68", "rejected: 93, 0.6"]


def test_criteria_compare_on_test_when_both_sides_have_it():
    rows = table_rows(render(), "criteria")
    assert rows[0][0].startswith("format") and rows[0][3:6] == ["0.80", "0.95", "+0.15"]


def test_markdown_report():
    md = render_run_markdown(make_summary(), decisions(), DIFF)
    assert md.startswith("# Optimization of `triage`")
    assert "- stopped: rollout budget spent (300/300)" in md
    assert "val 0.55 (CI 0.45-0.65) → 0.68 (CI 0.58-0.77), +0.13; test 0.52 → 0.63, +0.11" in md
    assert "## Criteria on test" in md
    assert "| criterion | weight | gate | baseline | winner | change | baseline pass | winner pass |" in md
    assert "| format | 1 | yes | 0.80 | 0.95 | +0.15 | 80% | 95% |" in md
    assert "| accuracy | 1 |  | 0.35 | 0.50 | +0.15 | 35% | 50% |" in md
    assert "| c2 | c0 | rules | system_prompt | accepted | 0.60 (parent 0.45, n=8) | 0.68 (n=15) |" in md
    assert ("3 proposed: 1 accepted, 1 rejected, 1 screened out on train; not played: 0 nothing to propose, "
            "0 duplicate (the spec of an evaluated candidate), 0 errors (the operator failed), 0 skipped (the parent was perfect on its minibatch).") in md
    assert "budget used: rollouts 300 / 300, cost $0.0000 / no limit" in md
    assert md.rstrip().endswith("```")  # the diff is included as is


def test_markdown_table_cells_escape_pipes():
    lines = make_lines()
    lines[2]["note"] = "a | b\nc"
    md = render_run_markdown(make_summary(), decisions(lines), "")
    assert "a \\| b c" in md


@pytest.mark.parametrize(
    "text, expected",
    [
        ("# Title", "<h3>Title</h3>"),
        ("- one\n- `two`", "<ul>\n<li>one</li>\n<li><code>two</code></li>\n</ul>"),
        ("1. a\n2. b", "<ol>\n<li>a</li>\n<li>b</li>\n</ol>"),
        ("some **bold**\ntext", "<p>some <strong>bold</strong> text</p>"),
        ("```diff\n+ a\n- b\n ctx\n```", '<pre><code><span class="add">+ a</span>\n<span class="del">- b</span>\n ctx</code></pre>'),
        ("<i>x</i>", "<p>&lt;i&gt;x&lt;/i&gt;</p>"),
        ("_why_ and snake_case_name", "<p><em>why</em> and snake_case_name</p>"),
        ("- Input: a\n  Answer: b", "<ul>\n<li>Input: a<br/>Answer: b</li>\n</ul>"),
        ("---\nname: x <y>\n---\n# Body", "<pre><code>---\nname: x &lt;y&gt;\n---</code></pre>\n<h3>Body</h3>"),
        ("", ""),
    ],
)
def test_markdown_to_html(text, expected):
    assert str(markdown_to_html(text)) == expected


def every_status():
    """c0 the baseline, then one child per other Status member, in the enum's order."""
    children = [status for status in Status if status is not Status.BASELINE]
    lines = [{"id": "c0", "status": "baseline", "operator": "baseline", "val": {"mean": 0.55, "n": 15}, "rollouts": 15}]
    lines += [{"id": f"c{i}", "parent": "c0", "operator": "rules", "component": "skill:refunds", "status": status.value,
               "reason": f"why {status.value}", "rollouts": 15 + i} for i, status in enumerate(children, start=1)]
    return decisions(lines)


def test_every_status_has_a_style_a_badge_and_a_count():
    """A Status member the reports cannot show fails here (STATUS_STYLES is keyed by the enum)."""
    from agentopt.store.html_report import STATUS_STYLES

    assert set(STATUS_STYLES) == set(Status)
    page = render(candidates=every_status(), diff="", skill="")
    root = ET.fromstring(page.split("\n", 1)[1])
    badges = {span.get("class"): "".join(span.itertext()) for span in root.iter("span") if (span.get("class") or "").startswith("status ")}
    css = root.find(".//style").text
    for status in Status:
        style = STATUS_STYLES[status]
        assert badges[f"status {status.value}"] == style.label  # its own badge, never "other"
        assert f"table.candidates .status.{status.value} {{ background: {style.background}; color: {style.colour}; }}" in css
        if status is not Status.BASELINE:
            assert f"1 {style.counted}" in page  # counted from the decisions
    assert "other" not in badges and len(badges) == len(Status)
    assert page.count("<p>3 proposed: ") == 1  # accepted, rejected, screened out: the children played
    md = render_run_markdown(make_summary(), every_status(), "")
    for status in Status:
        assert f"| {status.value} |" in md
    assert "skipped (the parent was perfect on its minibatch)" in md and "1 errors (the operator failed)" in md


def test_a_component_is_shown_by_its_kind_and_name():
    rows = table_rows(render(candidates=every_status(), diff="", skill=""), "candidates")
    assert rows[0][3] == "" and rows[1][3] == "skill refunds"  # the baseline changed nothing
    page = render(candidates=every_status(), diff="", skill="")
    assert "skill <code>refunds</code>" in page


def record(candidate, split, task, score, tokens=100, cost=0.0, failed=()):
    criteria = [{"id": "format", "score": 1.0, "passed": True, "feedback": "ok"},
                {"id": "accuracy", "score": 0.0 if "accuracy" in failed else 1.0, "passed": "accuracy" not in failed,
                 "feedback": f"accuracy of {task} was {'wrong' if 'accuracy' in failed else 'right'}"}]
    trace = {"episode_id": f"{candidate}-{split}-{task}", "task_id": task, "prompt_tokens": tokens - 10, "completion_tokens": 10,
             "cost_usd": cost, "messages": [{"role": "user", "content": f"question {task}"}, {"role": "assistant", "content": None,
             "tool_calls": [{"function": {"name": "submit"}}]}],
             "tool_calls": [{"name": "submit", "arguments": {"answer": f"answer {task}"}, "result": "recorded"}]}
    return {"candidate": candidate, "split": split, "trace": trace,
            "score": {"task_id": task, "score": score, "passed": not failed, "criteria": criteria, "gate_failed": []}}


def episodes(cost=0.0):
    out = []
    for cid, tokens, good in (("c0", 100, 1), ("c2", 300, 2), ("c3", 400, 1)):
        for i in range(3):
            out.append(record(cid, "val", f"v{i}", 1.0 if i < good else 0.5, tokens, cost, () if i < good else ("accuracy",)))
    for cid, good in (("c0", 1), ("c2", 2)):
        for i in range(3):
            out.append(record(cid, "test", f"t{i}", 1.0 if i < good else 0.5, failed=() if i < good else ("accuracy",)))
    out.append(record("c1", "train", "x", 0.5, 50))  # train episodes count nowhere
    return out


def svgs(page):
    return ET.fromstring(page.split("\n", 1)[1]).findall(".//" + SVG)


def circle_titles(svg):
    ns = SVG[: -len("svg")]
    return [c.find(ns + "title").text for c in svg.iter(ns + "circle") if c.find(ns + "title") is not None]


def test_val_score_against_tokens_per_episode_marks_the_front():
    page = render_html_report(make_summary(), decisions(), DIFF, "", episodes())
    charts = svgs(page)
    assert len(charts) == 3  # progress, tokens front, criteria: still no cost chart
    front = charts[1]
    assert front.find(SVG[: -len("svg")] + "title").text.startswith("Val score vs tokens per val episode")
    titles = circle_titles(front)
    assert "c0: tokens per val episode 100, val score 0.55" in titles  # the baseline's val score is candidates.jsonl's
    assert "c2: tokens per val episode 300, val score 0.68" in titles
    assert "c3: tokens per val episode 400, val score 0.6" in titles
    assert "c1: tokens per val episode" not in " ".join(titles)  # screened out: never on val
    marked = [c.find(SVG[: -len("svg")] + "title").text.split(":")[0] for c in front.iter(SVG[: -len("svg")] + "circle")
              if c.get("r") == "5" and c.find(SVG[: -len("svg")] + "title") is not None]
    assert sorted(marked) == ["c0", "c2"]  # c3 costs more than c2 and scores less


def test_a_cost_chart_only_when_something_was_spent():
    summary, lines = make_summary(), make_lines()
    summary["usage"]["cost_usd"] = 0.05
    for c in lines:
        c["cost_usd"] = c["rollouts"] / 1000
    page = render_html_report(summary, decisions(lines), DIFF, "", episodes(cost=0.001))
    names = [svg.find(SVG[: -len("svg")] + "title").text for svg in svgs(page)]
    assert any(n.startswith("Val score vs cost per val episode") for n in names)
    assert "Cumulative cost vs rollouts" in names
    assert "No model cost was recorded" not in page
    assert "No model cost was recorded" in render()


def test_the_winner_and_baseline_episodes_open_from_their_rows_failures_first():
    page = render_html_report(make_summary(), decisions(), DIFF, "", episodes())
    root = ET.fromstring(page.split("\n", 1)[1])
    sections = {d.get("id"): d for d in root.iter("details") if d.get("class") == "episode"}
    assert sorted(sections) == [f"{c}-episode-{i}" for c in ("c0", "c2") for i in (1, 2, 3)]  # test split, both sides
    winner_rows = root.find(".//table[@id='winner-episodes']").find("tbody")
    links = [tr.find("td/a").get("href") for tr in winner_rows]
    assert links == ["#c2-episode-1", "#c2-episode-2", "#c2-episode-3"]
    first = "".join(sections["c2-episode-1"].itertext())
    assert "failed" in first and "accuracy of t2 was wrong" in first  # the failure comes first, with its feedback
    assert "question t2" in first and "submit" in first and "answer t2" in first  # messages and tool calls
    baseline_cells = [tr.findall("td")[3] for tr in winner_rows]  # the baseline's score on the same task, linked
    assert all(cell.find("a").get("href").startswith("#c0-episode-") for cell in baseline_cells)


def test_the_example_pool_is_shown_once():
    diff = "## Examples (0 -> 2)\n\n- a -> 1\n- b -> 2\n"
    skill = "# x\n\n## Instructions\n\nDo it.\n\n## Examples\n\n- Input: a\n  Answer: 1\n\n## Tools\n\n- `submit`: go\n"
    page = render_html_report(make_summary(), decisions(), diff, skill)
    assert page.count("Input: a") == 0 and page.count("a -&gt; 1") == 1
    assert "The example pool is listed once, under What changed above." in page and "<code>submit</code>" in page
    unchanged = render_html_report(make_summary(), decisions(), "## System prompt\n", skill)
    assert "Input: a" in unchanged  # the diff does not list the pool: the skill keeps it
