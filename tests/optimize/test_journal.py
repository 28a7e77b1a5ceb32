"""A kill -9 can cut the last line of a JSON-lines file short. The next append starts on a
line of its own, and every reader (the journal --resume rebuilds from, the report of a
resumed run, a run's traces) skips the cut line instead of failing on it."""

from __future__ import annotations

import json

import pytest

from agentopt.api import render_reports
from agentopt.errors import UsageError
from agentopt.optimizer.journal import CANDIDATES, Journal
from agentopt.records import DECISION_SCHEMA, Decision, Status
from agentopt.store.run import SUMMARY, RunFolder
from tests.store.test_html_report import make_summary


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
    assert [(d.id, d.status) for d in Journal(run).decisions] == [("c0", "baseline"), ("c1", "rejected")]
    run.append_episode({"trace": {"task_id": "t1"}})
    cut_short(run, "traces.jsonl", {"trace": {"task_id": "t2"}})
    assert [e["trace"]["task_id"] for e in run.episodes()] == ["t1"]


def test_the_report_of_a_resumed_run_skips_a_decision_line_a_kill_cut_short(tmp_path):
    run = RunFolder(tmp_path)
    run.write_json(SUMMARY, make_summary())
    run.append_jsonl(CANDIDATES, {"id": "c0", "status": "baseline", "operator": "baseline"})
    cut_short(run, CANDIDATES, {"id": "c1", "status": "accepted", "operator": "rules", "note": "cut"})
    run.append_jsonl(CANDIDATES, {"id": "c1", "status": "rejected", "operator": "rules", "note": "whole"})
    render_reports(run)
    report = (run.path / "report.md").read_text()
    rows = [line.split(" | ")[0].lstrip("| ") for line in report.split("## Candidates", 1)[1].splitlines() if line.startswith("| c")]
    assert rows == ["c0", "c1"] and "| rejected |" in report and "cut" not in report
    assert "0 proposed" not in report and "1 proposed: 0 accepted, 1 rejected" in report


# A decision line as agentopt wrote them before decisions had a schema version (version 1).
V1_LINE = {
    "id": "c3", "trial": 2, "objective": 0.25, "parent": "c0", "operator": "reflect", "component": "skill:refunds",
    "note": "reflect rewrote skill:refunds", "status": "accepted", "reason": "val 0.70 > 0.55", "train": {"mean": 0.8, "parent_mean": 0.55, "n": 4},
    "val": {"mean": 0.7, "n": 4, "errors": 0}, "rollouts": 40, "cost_usd": 0.0123, "elapsed_s": 12.5,
}


def test_a_journal_of_version_1_reads_as_typed_decisions_and_new_lines_carry_the_schema(tmp_path):
    run = RunFolder(tmp_path)
    run.append_jsonl(CANDIDATES, V1_LINE)
    run.append_jsonl(CANDIDATES, {**V1_LINE, "id": "c4", "status": "duplicate", "duplicate_of": "c3", "component": None})
    journal = Journal(run)
    first, second = journal.decisions
    assert (first.status, first.component.kind, first.component.name, first.val["mean"]) == (Status.ACCEPTED, "skill", "refunds", 0.7)
    assert second.duplicate_of == "c3" and second.component is None and journal.decision("c4") is second
    journal.add_decision(Decision("c5", Status.SKIPPED, "none", "the parent is perfect on this minibatch", parent="c3", rollouts=48))
    written = [json.loads(line) for line in (run.path / CANDIDATES).read_text().splitlines()]
    assert written[2] == {
        "id": "c5", "status": "skipped", "operator": "none", "reason": "the parent is perfect on this minibatch", "parent": "c3",
        "component": None, "note": "", "trial": None, "objective": None, "train": None, "val": None, "rollouts": 48, "cost_usd": 0.0,
        "elapsed_s": 0.0, "schema": DECISION_SCHEMA,
    }
    assert Decision.from_dict(first.to_dict()) == first  # the keys of version 1, plus the schema
    assert set(first.to_dict()) == set(V1_LINE) | {"schema"}


def test_a_decision_from_a_newer_agentopt_is_refused_in_one_line(tmp_path):
    with pytest.raises(UsageError, match=r"schema 3 was written by a newer agentopt \(this one reads up to 2\): upgrade agentopt"):
        Decision.from_dict({**V1_LINE, "schema": 3})
