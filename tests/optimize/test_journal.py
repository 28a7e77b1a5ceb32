"""A kill -9 can cut the last line of a JSON-lines file short. The next append starts on a
line of its own, and every reader (the journal --resume rebuilds from, the report of a
resumed run, a run's traces) skips the cut line instead of failing on it."""

from __future__ import annotations

import json

from agentopt.api import render_reports
from agentopt.optimizer.journal import CANDIDATES, Journal
from agentopt.store import html_report
from agentopt.store.run import SUMMARY, RunFolder


def cut_short(run: RunFolder, name: str, record: dict) -> None:
    line = json.dumps(record)
    with (run.path / name).open("a", encoding="utf-8") as handle:
        handle.write(line[: len(line) // 2])  # what a kill in the middle of a write leaves


def test_an_append_after_a_cut_line_starts_a_new_line_and_readers_skip_the_cut_one(tmp_path):
    run = RunFolder(tmp_path)
    run.append_jsonl(CANDIDATES, {"id": "c0", "status": "baseline"})
    cut_short(run, CANDIDATES, {"id": "c1", "status": "accepted", "reason": "x" * 50})
    run.append_jsonl(CANDIDATES, {"id": "c1", "status": "rejected"})
    assert len((run.path / CANDIDATES).read_text().splitlines()) == 3
    assert [(d["id"], d["status"]) for d in Journal(run).decisions] == [("c0", "baseline"), ("c1", "rejected")]
    run.append_episode({"trace": {"task_id": "t1"}})
    cut_short(run, "traces.jsonl", {"trace": {"task_id": "t2"}})
    assert [e["trace"]["task_id"] for e in run.episodes()] == ["t1"]


def test_the_report_of_a_resumed_run_skips_a_decision_line_a_kill_cut_short(tmp_path, monkeypatch):
    run = RunFolder(tmp_path)
    run.write_json(SUMMARY, {})
    run.append_jsonl(CANDIDATES, {"id": "c0"})
    cut_short(run, CANDIDATES, {"id": "c1", "note": "cut"})
    run.append_jsonl(CANDIDATES, {"id": "c1"})
    seen = []
    monkeypatch.setattr(html_report, "render_run_markdown", lambda summary, candidates, diff: seen.append(candidates) or "")
    monkeypatch.setattr(html_report, "render_html_report", lambda *args: "")
    render_reports(run)
    assert [c["id"] for c in seen[0]] == ["c0", "c1"]
