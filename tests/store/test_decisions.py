"""A run folder's decisions (candidates.jsonl) read as typed records by the one reader
(`agentopt.store.decisions.read_decisions`): the journal, the reports, `agentopt report` and
`agentopt export` all go through it. Old run folders (schema-1 lines, without "schema") stay
readable; a line that is no decision is refused in one line naming file:line: field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agentopt.errors import UsageError, ValidationError
from agentopt.export import kept_candidates
from agentopt.records import DECISION_SCHEMA, Component, Decision, Status
from agentopt.store.decisions import CANDIDATES, read_decisions, status_counts, summary_counts
from tests.conftest import run_cli, scripted_agent
from tests.fakes.openai_server import ScriptedLLM
from tests.optimize.test_run_integration import dataset, quiz_model, rubric

V1 = {"id": "c1", "trial": 0, "objective": 0.25, "parent": "c0", "operator": "reflect", "component": "skill:refunds",
      "note": "rewrote the refunds skill", "status": "accepted", "reason": "val 0.70 > 0.55", "train": {"mean": 0.8, "parent_mean": 0.55, "n": 4},
      "val": {"mean": 0.7, "n": 4, "errors": 0}, "rollouts": 40, "cost_usd": 0.0123, "elapsed_s": 12.5}


def write_lines(path: Path, lines: list[dict | str]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines), encoding="utf-8")
    return path


def test_a_v1_line_a_v2_line_and_a_line_a_kill_cut_short(tmp_path):
    v2 = Decision("c2", Status.SKIPPED, "none", "the parent is perfect on this minibatch", parent="c1", rollouts=44).to_dict()
    cut = json.dumps({**V1, "id": "c3"})[:40]
    path = write_lines(tmp_path / CANDIDATES, [{"id": "c0", "status": "baseline", "operator": "baseline"}, V1, v2, cut])
    c0, c1, c2 = read_decisions(path)
    assert (c0.status, c1.status, c2.status) == (Status.BASELINE, Status.ACCEPTED, Status.SKIPPED)
    assert isinstance(c1.component, Component) and (c1.component.kind, c1.component.name) == ("skill", "refunds")
    assert c1.val == {"mean": 0.7, "n": 4, "errors": 0} and c1.schema == DECISION_SCHEMA  # read as a current record
    assert c2.to_dict() == v2
    assert read_decisions(tmp_path / "nothing-here.jsonl") == []


@pytest.mark.parametrize("line, where", [
    ({**V1, "status": "promoted"}, "status: 'promoted' is not a status (one of baseline, accepted, "),
    ({k: v for k, v in V1.items() if k != "status"}, "status: missing (one of "),
    ({**V1, "id": ""}, "id: a decision names its candidate"),
    ({**V1, "component": "skill"}, "component: component 'skill': a skill component names the skill (skill:NAME)"),
    ({**V1, "schema": "two"}, "schema: 'two' is not a schema version (1 to 2)"),
    ([1, 2], "a decision is a JSON object, not list"),
])
def test_a_line_that_is_no_decision_is_named_by_file_line_and_field(tmp_path, line, where):
    path = write_lines(tmp_path / CANDIDATES, [V1, line])
    with pytest.raises(ValidationError) as caught:
        read_decisions(path)
    assert str(caught.value).startswith(f"{path}:2: {where}") and "\n" not in str(caught.value)


def test_a_decision_of_a_newer_schema_names_its_line(tmp_path):
    path = write_lines(tmp_path / CANDIDATES, [V1, {**V1, "id": "c2", "schema": DECISION_SCHEMA + 1}])
    with pytest.raises(UsageError, match=rf"^{path}:2: a decision of schema 3 was written by a newer agentopt"):
        read_decisions(path)


def test_counts_cover_every_status():
    decisions = [Decision(f"c{i}", status) for i, status in enumerate(Status)]
    assert status_counts(decisions) == {status: 1 for status in Status}
    assert status_counts([])[Status.SKIPPED] == 0
    assert summary_counts(decisions) == {"proposed": 3, "accepted": 1, "rejected": 1, "screened_out": 1, "invalid": 1, "duplicate": 1,
                                         "skipped": 1, "errors": 1}


# --- a real run folder -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    """The folder of a real `agentopt run` (dataset environment, scripted OpenAI-compatible model)."""
    tmp = tmp_path_factory.mktemp("real-run")
    data, rules = dataset(tmp), rubric(tmp)
    with ScriptedLLM(quiz_model) as llm:
        agent = scripted_agent(tmp, llm.url, name="capitals")
        result = run_cli("run", str(agent), "-r", str(rules), "--env", f"dataset:{data}", "--runs-dir", "runs",
                         "--max-rollouts", "60", "--minibatch", "4", "--operators", "rules,fewshot", "-q", cwd=tmp, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return next((tmp / "runs").iterdir())


def candidates_section(run: Path) -> str:
    return (run / "report.md").read_text().split("## Candidates", 1)[1].split("## What changed", 1)[0]


def copy_of(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / run.name))


def test_a_real_runs_decisions_are_typed_and_the_report_lists_each(real_run):
    decisions = read_decisions(real_run / CANDIDATES)
    lines = [json.loads(line) for line in (real_run / CANDIDATES).read_text().splitlines()]
    assert len(decisions) == len(lines) >= 2 and all(line["schema"] == DECISION_SCHEMA for line in lines)
    assert decisions[0].id == "c0" and decisions[0].status is Status.BASELINE
    assert all(isinstance(d.status, Status) for d in decisions)
    assert all(d.component is None or isinstance(d.component, Component) for d in decisions)
    assert any(d.status is Status.ACCEPTED for d in decisions)  # the capitals run learns "lowercase"
    section = candidates_section(real_run)
    for d in decisions:
        assert f"| {d.id} | {d.parent or ''} | {d.operator} | {d.component or ''} | {d.status.value} |" in section
    summary = json.loads((real_run / "summary.json").read_text())
    expected = summary_counts(decisions)
    assert {k: expected[k] for k in summary["candidates"]} == summary["candidates"]  # the optimizer's counts agree
    winner = summary["winner"]["id"]
    assert kept_candidates(real_run) == {d.id for d in decisions if d.status is Status.ACCEPTED} | {winner}


def test_an_old_run_folder_with_v1_lines_renders_the_same_report(real_run, tmp_path):
    old = copy_of(real_run, tmp_path)
    lines = [json.loads(line) for line in (old / CANDIDATES).read_text().splitlines()]
    write_lines(old / CANDIDATES, [{k: v for k, v in line.items() if k != "schema"} for line in lines])  # as agentopt wrote them before
    before = candidates_section(old)
    (old / "report.md").unlink()
    (old / "report.html").unlink()
    result = run_cli("report", str(old), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert candidates_section(old) == before
    assert [d.id for d in read_decisions(old / CANDIDATES)] == [line["id"] for line in lines]


def test_an_unfinished_run_counts_its_decisions(real_run, tmp_path):
    unfinished = copy_of(real_run, tmp_path)
    (unfinished / "summary.json").unlink()
    result = run_cli("report", str(unfinished), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    counts = status_counts(read_decisions(unfinished / CANDIDATES))
    played = sum(counts[s] for s in (Status.ACCEPTED, Status.REJECTED, Status.SCREENED_OUT))
    expected = (f"{played} proposed: {counts[Status.ACCEPTED]} accepted, {counts[Status.REJECTED]} rejected, "
                f"{counts[Status.SCREENED_OUT]} screened out on train; not played: {counts[Status.INVALID]} nothing to propose")
    assert expected in (unfinished / "report.md").read_text()
    assert expected in (unfinished / "report.html").read_text()


def test_a_broken_decision_line_is_one_line_with_exit_code_2(real_run, tmp_path):
    broken = copy_of(real_run, tmp_path)
    lines = (broken / CANDIDATES).read_text().splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), "status": "promoted"})
    (broken / CANDIDATES).write_text("\n".join(lines) + "\n")
    for args in (["report", str(broken)], ["export", str(broken), "--format", "sft", "--out", str(tmp_path / "out.jsonl")]):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [
            f"{broken / CANDIDATES}:2: status: 'promoted' is not a status (one of {', '.join(Status)})"], result.stderr
