"""Both reports in a real browser: Debian's Chromium, headless, driven by Playwright.

The reports come from real commands (`agentopt eval` and `agentopt run` on a dataset
environment, with the scripted OpenAI-compatible model). In the browser: no console error,
no request leaves the page, the plots are drawn (non-empty boxes, labels at a legible size,
whole criterion names), and every episode row opens its section with the messages, the tool
calls and each criterion's score and feedback, failures first.

Skipped only when Chromium (or Playwright) is missing and CI is unset; in CI that fails.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli, scripted_agent
from tests.fakes.openai_server import ScriptedLLM, call, last_user_text
from tests.optimize.test_run_integration import dataset, quiz_model, rubric

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
CRITERIA = ["correct", "lowercase", "answer_mentions_a_capital_city_by_its_name"]


def chromium_path() -> str:
    """Debian's Chromium; skip when it (or Playwright) is missing, unless CI is set: then fail."""
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    try:
        import playwright.sync_api  # noqa: F401
        missing = "" if found else "Debian's chromium package (.ci/run installs it)"
    except ImportError:
        missing = "the playwright package (make install: the dev extra)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI: the browser test needs {missing}")
        pytest.skip(f"needs {missing}")
    return found


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=FLAGS, viewport={"width": 1200, "height": 900},
        )
        yield context
        context.close()


EXTRA = """
  - id: answer_mentions_a_capital_city_by_its_name
    description: The answer is not empty.
    weight: 0.5
    check: {type: regex, target: answer.answer, pattern: "\\\\w"}
"""


def capitals_eval_model(request: dict):
    """Right on half the questions (in lowercase), wrong on the rest."""
    question = last_user_text(request)
    reply = quiz_model(request)
    if any(q in question for q in ("Norway", "Greece")):
        return call("submit", {"answer": "atlantis"})
    args = json.loads(json.dumps(reply.tool_calls[0][1]))
    return call("submit", {"answer": args["answer"].lower()})


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """report.html of a real `agentopt eval` and of a real `agentopt run`."""
    chromium_path()  # skip (or fail in CI) before spending the runs
    tmp = tmp_path_factory.mktemp("reports")
    data, rules = dataset(tmp), rubric(tmp, EXTRA)
    with ScriptedLLM(capitals_eval_model) as llm:
        agent = scripted_agent(tmp, llm.url, name="capitals")
        evaluated = run_cli("eval", str(agent), "-r", str(rules), "--env", f"dataset:{data}", "--runs-dir", "evals", cwd=tmp)
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    with ScriptedLLM(quiz_model) as llm:
        agent = scripted_agent(tmp, llm.url, name="capitals")
        optimized = run_cli(
            "run", str(agent), "-r", str(rules), "--env", f"dataset:{data}", "--runs-dir", "runs",
            "--max-rollouts", "60", "--minibatch", "4", "--operators", "rules,fewshot", "--json", "-q", cwd=tmp, timeout=600,
        )
    assert optimized.returncode == 0, optimized.stdout + optimized.stderr
    return {"eval": next((tmp / "evals").glob("*/report.html")), "run": next((tmp / "runs").glob("*/report.html")),
            "run_json": optimized.stdout, "run_stderr": optimized.stderr, "cwd": tmp}


def open_page(browser, path: Path):
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: problems.append(f"request: {r.url}") if not r.url.startswith("file://") else None)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems


def check_chart(page, selector: str, names: list[str] = ()) -> None:
    """Drawn: a real box, shapes with real sizes, every text at least 11 CSS px tall on screen, the names whole."""
    chart = page.locator(f"{selector} svg").first
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100, (selector, box)
    drawn = page.evaluate(
        """(sel) => {
            const svg = document.querySelector(sel + " svg");
            const shapes = [...svg.querySelectorAll("rect, circle, path")].map(e => e.getBoundingClientRect())
                .filter(r => r.width > 0 || r.height > 0).length;
            const texts = [...svg.querySelectorAll("text")].filter(t => t.textContent.trim());
            return {shapes, smallest: Math.min(...texts.map(t => parseFloat(getComputedStyle(t).fontSize) * svg.getScreenCTM().a)),
                    texts: texts.map(t => t.textContent)};
        }""",
        selector,
    )
    assert drawn["shapes"] >= 3, (selector, drawn)
    assert drawn["smallest"] >= 11, (selector, drawn["smallest"])
    for name in names:
        assert name in drawn["texts"], (selector, name, drawn["texts"])


def check_episodes(page, table: str, criteria: list[str]) -> int:
    """Each row's link opens its section; failures first; returns how many rows there are."""
    rows = page.locator(f"{table} tbody tr")
    statuses = rows.locator("td:nth-child(2)").all_inner_texts()
    assert statuses, table
    rank = {"error": 0, "failed": 1, "n/a": 2, "passed": 3}
    assert [rank[s.strip()] for s in statuses] == sorted(rank[s.strip()] for s in statuses), statuses
    for i in range(rows.count()):
        link = rows.nth(i).locator("td:first-child a")
        anchor = link.get_attribute("href")
        link.click()
        section = page.locator(anchor)
        assert section.evaluate("d => d.tagName === 'DETAILS' && d.open"), anchor
        assert section.locator("div.message").count() >= 2, anchor  # system/user and the agent's reply at least
        assert section.locator("table.tool-calls tbody tr").count() >= 1, anchor
        assert "submit" in section.locator("table.tool-calls").inner_text()
        cells = section.locator("table.episode-criteria tbody tr")
        assert cells.count() == len(criteria), anchor
        for j in range(cells.count()):
            cid, score, result, feedback = cells.nth(j).locator("td").all_inner_texts()
            assert cid.strip() in criteria and score.strip() and result.strip() in ("passed", "failed", "n/a")
            assert feedback.strip(), (anchor, cid)
        assert section.is_visible()
    return rows.count()


def test_eval_report_in_chromium(browser, reports):
    page, problems = open_page(browser, reports["eval"])
    check_chart(page, "#criteria-chart", CRITERIA)
    assert check_episodes(page, "#episodes", CRITERIA) == 4
    first = page.locator("#episodes tbody tr").first.inner_text()
    assert "failed" in first and "correct" in first  # a wrong answer is on top with its failed criterion
    assert problems == []
    page.close()


def test_run_report_in_chromium(browser, reports):
    page, problems = open_page(browser, reports["run"])
    check_chart(page, "#progress-chart")
    check_chart(page, ".front-chart")
    check_chart(page, "#criteria-chart", CRITERIA)
    assert page.locator("#cost-chart").count() == 0  # nothing spent: no flat-zero chart
    assert "No model cost was recorded" in page.inner_text("body")
    winners = check_episodes(page, "#winner-episodes", CRITERIA)
    baselines = check_episodes(page, "#baseline-episodes", CRITERIA)
    assert winners == baselines == 4  # the 4 test tasks, for both
    text = page.inner_text("body")
    assert "ModelParams(" not in text and "LoopSettings(" not in text
    assert problems == []
    page.close()


def test_run_json_is_one_document_and_quiet_has_no_panel(reports):
    """The same `agentopt run` was given --json -q: stdout is the document (docs/json.md), stderr the result lines only."""
    document = json.loads(reports["run_json"])
    assert document["command"] == "run" and document["ok"] is True and document["exit_code"] == 0 and document["schema_version"] == 1
    assert document["baseline"]["id"] == "c0" and document["baseline"]["val"]["mean"] == 0.6  # right but Title Case: 1.5 of 2.5
    assert document["winner"]["val"]["mean"] == 1.0 and document["winner"]["test"]["mean"] == 1.0 and document["improved"] is True
    assert document["stopped"] and document["candidates"]["accepted"] >= 1 and document["usage"]["rollouts"] <= 60
    run_dir = reports["cwd"] / document["run_dir"]
    assert (run_dir / "best" / "agent.yaml").exists() and document["files"]["agent.yaml"] == f"{document['run_dir']}/best/agent.yaml"
    err = reports["run_stderr"]
    assert "winner: " in err and "stopped: " in err
    assert "rollouts " not in err and "Optimizing " not in err and "Operators: " not in err  # -q: no panel, no preamble


def rgb(hex_colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)))


def test_every_status_has_its_own_styled_badge_in_chromium(browser, reports, tmp_path):
    """The real run's folder plus one decision of each Status member it lacks, rendered again by
    `agentopt report`: in the browser every badge shows its label in its own colours."""
    from agentopt.records import Decision, Status
    from agentopt.store.decisions import CANDIDATES, read_decisions
    from agentopt.store.html_report import STATUS_STYLES

    run = Path(shutil.copytree(reports["run"].parent, tmp_path / reports["run"].parent.name))
    decisions = read_decisions(run / CANDIDATES)
    present = {d.status for d in decisions}
    rollouts = decisions[-1].rollouts
    with (run / CANDIDATES).open("a", encoding="utf-8") as handle:
        for n, status in enumerate((s for s in Status if s not in present), start=len(decisions)):
            extra = Decision(f"c{n}", status, "rules", f"a {status.value} decision", parent="c0", rollouts=rollouts)
            handle.write(json.dumps(extra.to_dict()) + "\n")
    rendered = run_cli("report", str(run), cwd=reports["cwd"])
    assert rendered.returncode == 0, rendered.stderr
    page, problems = open_page(browser, run / "report.html")
    for status in Status:
        badge = page.locator(f"table.candidates span.status.{status.value}").first
        assert badge.inner_text() == STATUS_STYLES[status].label, status
        colours = badge.evaluate("b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]")
        assert colours == [rgb(STATUS_STYLES[status].background), rgb(STATUS_STYLES[status].colour)], (status, colours)
    assert page.locator("table.candidates span.status").count() == len(read_decisions(run / CANDIDATES))
    assert problems == []
    page.close()
