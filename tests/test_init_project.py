"""`agentopt init` and the project file (issue 12): real CLI processes."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path

import pytest

from agentopt.scoring import checks  # noqa: F401  (registers every check type)
from agentopt.scoring.base import CHECKS
from tests.conftest import REPO, run_cli, scripted_agent, write
from tests.fakes.openai_server import Reply, ScriptedLLM, call, last_user_text

SCAFFOLD = REPO / "agentopt" / "scaffold"


def test_init_writes_a_project_that_validates(tmp_path):
    result = run_cli("init", "proj", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "proj"
    for name in ("agentopt.yaml", "agents/assistant.yaml", "rubrics/assistant.yaml", "data/tasks.jsonl", "README.md"):
        assert (project / name).is_file(), name
    assert result.stdout.strip().splitlines()[-1] == "next: cd proj && agentopt eval"
    rows = [json.loads(line) for line in (project / "data/tasks.jsonl").read_text().splitlines()]
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    checked = run_cli("validate", cwd=project)  # no argument: the project file and what it names
    assert checked.returncode == 0, checked.stderr
    assert "ok: 3 file(s) valid" in checked.stdout
    assert checked.stderr == ""  # not even a warning


def test_init_tools_url_template_validates(tmp_path):
    result = run_cli("init", "tools", "--template", "tools-url", "--url", "http://127.0.0.1:8765", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "env: http://127.0.0.1:8765" in (tmp_path / "tools/agentopt.yaml").read_text()
    assert not (tmp_path / "tools/data").exists()
    checked = run_cli("validate", cwd=tmp_path / "tools")
    assert checked.returncode == 0, checked.stderr


def test_init_never_overwrites(tmp_path):
    write(tmp_path / "proj" / "agentopt.yaml", "agent: mine.yaml\n")
    result = run_cli("init", "proj", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "already exists" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "proj" / "agentopt.yaml").read_text() == "agent: mine.yaml\n"
    assert not (tmp_path / "proj" / "agents").exists()  # nothing written at all


@pytest.mark.parametrize("args", [["--template", "nope"], ["--url", "http://x"], ["--template", "tools-url", "--url", "ftp://x"]])
def test_init_bad_options_are_one_line(tmp_path, args):
    result = run_cli("init", "p", *args, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "p").exists()


def test_the_rubric_has_a_valid_commented_example_of_every_check_type(tmp_path):
    assert run_cli("init", "p", cwd=tmp_path).returncode == 0
    rubric = (tmp_path / "p/rubrics/assistant.yaml").read_text()
    examples = [line[2:] for line in rubric.splitlines() if line.startswith("#  ")]
    uncommented = "name: all\ncriteria:\n" + "\n".join(examples) + "\n"
    types = [a or b for a, b in re.findall(r"check: \{type: (\w+)|^ +type: (\w+)", uncommented, re.MULTILINE)]
    assert set(types) == set(CHECKS.builtin_names()), set(CHECKS.builtin_names()) ^ set(types)
    write(tmp_path / "all.yaml", uncommented)
    checked = run_cli("validate", "all.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr + uncommented


def test_the_templates_are_package_data():
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    for path in SCAFFOLD.iterdir():
        if path.suffix != ".py" and path.is_file():
            assert any(fnmatch.fnmatch(path.name, g) for g in globs), path.name


def test_validate_locates_project_file_mistakes(tmp_path):
    assert run_cli("init", "p", cwd=tmp_path).returncode == 0
    project = tmp_path / "p" / "agentopt.yaml"
    text = project.read_text().replace("rubric: rubrics/assistant.yaml", "rubirc: rubrics/assistant.yaml")
    project.write_text(text.replace("  concurrency: 2", "  concurrency: 0"))
    result = run_cli("validate", cwd=tmp_path / "p")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert any(re.match(r"agentopt\.yaml:5:1: rubirc: unknown field 'rubirc' \(did you mean 'rubric'\?\)", text) for text in lines), lines
    assert any(re.match(r"agentopt\.yaml:\d+:3: eval\.concurrency: ", text) for text in lines), lines
    assert "Traceback" not in result.stderr
    missing = run_cli("eval", cwd=tmp_path / "p")  # eval stops on the same lines, before any run
    assert missing.returncode == 2 and "rubirc" in missing.stderr and not (tmp_path / "p/runs").exists()


def test_validate_names_a_missing_file_where_it_is_written(tmp_path):
    write(tmp_path / "agentopt.yaml", "agent: agents/none.yaml\nrubric: r.yaml\nenv: dataset:nope.jsonl\n")
    result = run_cli("validate", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "agentopt.yaml:1:1: agent: file not found: agents/none.yaml",
        "agentopt.yaml:2:1: rubric: file not found: r.yaml",
        "agentopt.yaml:3:1: env: dataset file not found: nope.jsonl",
    ]


def test_without_a_project_file_eval_says_what_it_needs(tmp_path):
    result = run_cli("eval", cwd=tmp_path)
    assert result.returncode == 2 and "agentopt init" in result.stderr and result.stderr.count("\n") == 1
    missing = run_cli("eval", "--config", "nope.yaml", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.yaml: not found" in missing.stderr


def answer_all(request: dict) -> Reply:
    return call("submit", {"answer": "Paris" if "France" in last_user_text(request) else "?"})


def test_eval_uses_the_project_file_and_flags_override_it(tmp_path, qa_dataset, qa_rubric):
    with ScriptedLLM(answer_all) as llm:
        scripted_agent(tmp_path, llm.url)
        write(tmp_path / "agentopt.yaml", """
            agent: agents/qa.yaml
            rubric: rubrics/qa.yaml
            env: dataset:qa.jsonl
            runs_dir: out
            eval: {split: val, episodes: 2, concurrency: 1}
            gate: {min_score: 0.9}
            """)
        result = run_cli("eval", cwd=tmp_path)
        assert result.returncode == 1, result.stderr  # the project's gate: 1 of 2 right
        run = next((tmp_path / "out").iterdir())
        summary = json.loads((run / "summary.json").read_text())
        assert summary["summary"]["n"] == 2 and summary["split"] == "val"
        overridden = run_cli("eval", "--split", "train", "--min-score", "0", "--runs-dir", "other", cwd=tmp_path)
        assert overridden.returncode == 0, overridden.stderr
        summary = json.loads(next((tmp_path / "other").glob("*/summary.json")).read_text())
        assert summary["split"] == "train" and summary["summary"]["n"] == 1


def test_run_reads_the_project_file(tmp_path):
    write(tmp_path / "agentopt.yaml", "agent: a.yaml\nrubric: r.yaml\nenv: support\nbudget: {max_rollouts: 0}\n")
    result = run_cli("run", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "agentopt.yaml:1:1: agent: file not found" in result.stderr
    assert re.search(r"agentopt\.yaml:4:\d+: budget\.max_rollouts: ", result.stderr), result.stderr


@pytest.mark.slow
def test_init_then_eval_with_no_argument_on_the_embedded_model(tmp_path):
    """The issue's "done when": `agentopt init /tmp/x && cd /tmp/x && agentopt eval`."""
    assert run_cli("init", "x", cwd=tmp_path).returncode == 0
    project = tmp_path / "x"
    text = (project / "agentopt.yaml").read_text().replace("# episodes: 10", "episodes: 2")
    (project / "agentopt.yaml").write_text(text)  # a few episodes keep the test short
    result = run_cli("eval", cwd=project, env={"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""}, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(next((project / "runs").glob("*-eval-assistant/summary.json")).read_text())
    assert summary["summary"]["n"] == 2 and summary["summary"]["n_errors"] == 0


def test_schema_project_is_the_schema_validate_uses(tmp_path):
    result = run_cli("schema", "project", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert {"agent", "rubric", "env", "eval", "gate", "budget", "run"} <= set(schema["properties"])


def test_eval_json_is_one_document_and_report_html_opens_each_episode(tmp_path, qa_dataset, qa_rubric):
    import xml.etree.ElementTree as ET

    with ScriptedLLM(answer_all) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = run_cli("eval", str(agent), "-r", str(qa_rubric), "--env", f"dataset:{qa_dataset}", "--json",
                         "--min-score", "0.5", cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # 1 of 4 right: the gate fails
    document = json.loads(result.stdout)  # stdout is exactly one JSON document
    assert document["command"] == "eval" and document["ok"] is False and document["exit_code"] == 1
    assert document["schema_version"] == 1 and document["split"] == "val"
    assert document["score"]["n"] == 4 and 0 < document["score"]["mean"] < 1
    assert [c["id"] for c in document["criteria"]] == ["correct", "short"]
    assert document["gate"]["passed"] is False
    wrong = [e for e in document["episodes"] if not e["passed"]]
    assert len(wrong) == 3 and all(e["failed_criteria"][0]["id"] == "correct" for e in wrong)
    assert all(e["failed_criteria"][0]["feedback"] for e in wrong)
    run = Path(tmp_path / document["run_dir"]) if not Path(document["run_dir"]).is_absolute() else Path(document["run_dir"])
    html = (run / "report.html").read_text()
    assert Path(document["files"]["report.html"]).name == "report.html"
    root = ET.fromstring(html.removeprefix("<!DOCTYPE html>\n"))
    sections = root.findall(".//{*}details[@class='episode']") or root.findall(".//details[@class='episode']")
    assert len(sections) == 4
    first = ET.tostring(sections[0], encoding="unicode")
    assert "failed" in first and "correct" in first and "environment" in first.lower()  # the criterion's feedback
    assert "submit" in first and "Opposite of hot?" in first or "?" in first  # tool call and messages
    links = [a.get("href") for a in root.iter("a")]
    assert [f"#{s.get('id')}" for s in sections] == [text for text in links if text.startswith("#episode-")]
    passed_at = html.index(">passed<")
    assert all(html.index(f'id="{s.get("id")}"') < passed_at or "passed" in ET.tostring(s, encoding="unicode") for s in sections)
    assert html.index("status failed") < html.index("status passed")  # failures first


def test_eval_json_on_a_usage_error_is_still_one_document(tmp_path):
    result = run_cli("eval", "nope.yaml", "-r", "nope.yaml", "--env", "support", "--json", cwd=tmp_path)
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["exit_code"] == 2 and document["problems"][0]["file"] == "nope.yaml"
    assert "Traceback" not in result.stderr


def test_validate_json(tmp_path):
    assert run_cli("init", "p", cwd=tmp_path).returncode == 0
    good = run_cli("validate", "--json", cwd=tmp_path / "p")
    assert good.returncode == 0 and good.stderr == ""
    document = json.loads(good.stdout)
    assert document["ok"] is True and document["problems"] == [] and len(document["files"]) == 3
    write(tmp_path / "p" / "bad.yaml", "name: bad\ncriteria:\n  - id: x\n    check: {type: regex, pattern: '(a+)+$'}\n  - id: y\n")
    bad = run_cli("validate", "bad.yaml", "--json", cwd=tmp_path / "p")
    assert bad.returncode == 2
    document = json.loads(bad.stdout)
    assert document["ok"] is False and {p["line"] for p in document["problems"]} == {3, 5}
    assert document["problems"][-1]["text"] == "bad.yaml:5:5: criteria[1].check: missing required field"
    assert document["problems"][-1]["field"] == "criteria[1].check" and document["problems"][-1]["column"] == 5
    assert document["warnings"] and document["warnings"][0]["severity"] == "warning"


def test_eval_html_and_json_never_show_url_credentials(tmp_path):
    from tests.fakes.flaky_env import FlakyDataset
    from tests.test_redaction import PASSWORD, USER, half_right, qa_files, with_credentials

    data, rubric = qa_files(tmp_path)
    with FlakyDataset(data) as env, ScriptedLLM(half_right) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = run_cli("eval", str(agent), "-r", str(rubric), "--env", with_credentials(env.url), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    html = next((tmp_path / "runs").glob("*/report.html")).read_text()
    for secret in (PASSWORD, USER):
        assert secret not in html and secret not in result.stdout and secret not in result.stderr
    assert json.loads(result.stdout)["env"].startswith("http://***@")


def test_runs_lists_full_ids_kinds_and_next_commands(tmp_path):
    runs = tmp_path / "runs"
    eval_dir = runs / "20261201-134100-eval-a-rather-long-agent-name-that-would-not-fit"
    write(eval_dir / "summary.json", json.dumps({"agent": "a", "env": "support", "split": "val", "gate": None,
                                                  "summary": {"mean": 0.5, "criteria": []}}))
    write(runs / "20261201-134200-run-a" / "run_options.json", "{}")
    (runs / "20261201-134300-eval-a").mkdir()  # a crashed evaluation
    result = run_cli("runs", cwd=tmp_path, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert eval_dir.name in out and "…" not in out
    assert "next: agentopt run --resume runs/20261201-134200-run-a" in out
    assert "--resume runs/20261201-134300-eval-a" not in out  # an eval cannot be resumed
    document = json.loads(run_cli("runs", "--json", cwd=tmp_path).stdout)
    kinds = {r["id"]: (r["kind"], r["status"]) for r in document["runs"]}
    assert kinds == {eval_dir.name: ("eval", "done"), "20261201-134200-run-a": ("run", "unfinished"),
                     "20261201-134300-eval-a": ("eval", "unfinished")}


def test_report_says_not_found(tmp_path):
    result = run_cli("report", "runs/nope", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip() == "error: runs/nope: not found"
