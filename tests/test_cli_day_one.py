"""Day one (issue 12): --version, clean help, init, the project file, --json, runs, eval's HTML report."""

from __future__ import annotations

import re

from agentopt import __version__
from tests.conftest import run_cli


def test_version(tmp_path):
    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"agentopt {__version__}"


def test_help_has_no_bool_and_no_braced_arguments(tmp_path):
    for command in ([], ["eval"], ["run"], ["validate"], ["runs"], ["report"], ["init"]):
        result = run_cli(*command, "--help", cwd=tmp_path, env={"COLUMNS": "200"})
        assert result.returncode == 0, result.stderr
        assert "<bool>" not in result.stdout, command
        assert not re.search(r"\{[a-z_]+\}", result.stdout), command
    usage = run_cli("eval", "--help", cwd=tmp_path, env={"COLUMNS": "200"}).stdout
    assert re.search(r"Usage: .*agentopt eval \[OPTIONS\] \[?AGENT\]?\s", usage), usage[:300]


# ---- the terminal after an eval: failures, -q, -v, NO_COLOR -------------------------------

import json  # noqa: E402

from tests.conftest import scripted_agent, write  # noqa: E402
from tests.fakes.openai_server import ScriptedLLM, call, last_user_text  # noqa: E402

ANSWERS = {"France": "Paris", "2 + 2": "4", "sky": "blue", "hot": "it is certainly not cold at all today"}


def one_wrong_one_long(request: dict):
    """Right on q1 and q2; q3 wrong (fails `correct`); q4 wrong and too long (fails `correct` and `short`)."""
    question = last_user_text(request)
    answer = next(a for q, a in ANSWERS.items() if q in question)
    return call("submit", {"answer": "green" if answer == "blue" else answer})


def eval_cli(tmp_path, qa_dataset, qa_rubric, *flags, env=None):
    with ScriptedLLM(one_wrong_one_long) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        return run_cli("eval", str(agent), "-r", str(qa_rubric), "--env", f"dataset:{qa_dataset}", "--no-cache", *flags,
                       cwd=tmp_path, env={"COLUMNS": "200", **(env or {})})


def test_after_an_eval_the_failing_episodes_and_their_failed_criteria(tmp_path, qa_dataset, qa_rubric):
    result = eval_cli(tmp_path, qa_dataset, qa_rubric)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    table = out[out.index("Failed episodes"):out.index("Score ")]
    rows = [line for line in table.splitlines() if line.startswith("│")]
    assert len(rows) == 2  # q1 and q2 passed
    assert "q4" in rows[0] and "0.00" in rows[0] and "correct, short" in rows[0]  # lowest score first
    assert "q3" in rows[1] and "0.25" in rows[1] and "correct" in rows[1] and "short" not in rows[1]
    assert "reward was 0" in rows[1]  # the first failed criterion's feedback
    assert "q1" not in table and "q2" not in table


def test_quiet_prints_only_the_result_and_verbose_a_line_per_episode(tmp_path, qa_dataset, qa_rubric):
    quiet = eval_cli(tmp_path, qa_dataset, qa_rubric, "-q")
    assert quiet.returncode == 0, quiet.stderr
    lines = quiet.stdout.splitlines()
    assert lines[0].startswith("Score ") and lines[1].startswith("model calls: ") and len(lines) == 2, quiet.stdout
    verbose = eval_cli(tmp_path, qa_dataset, qa_rubric, "-v")
    episode_lines = sorted(line for line in verbose.stdout.splitlines() if re.match(r"q\d: ", line))
    assert [line.split(":")[0] for line in episode_lines] == ["q1", "q2", "q3", "q4"]
    assert "q3: 0.25 failed (correct)" in episode_lines and "q4: 0.00 failed (correct, short)" in episode_lines
    both = eval_cli(tmp_path, qa_dataset, qa_rubric, "-q", "-v")
    assert both.returncode == 2 and "contradict" in both.stderr


COLOR = re.compile(r"\x1b\[(?:\d+;)*(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;\d+)*m")  # a foreground or background colour


def test_no_color_is_respected(tmp_path, qa_dataset, qa_rubric):
    forced = {"FORCE_COLOR": "1", "TERM": "xterm-256color"}
    colored = eval_cli(tmp_path, qa_dataset, qa_rubric, "--min-score", "0.1", env=forced)
    assert COLOR.search(colored.stdout)  # forced colour: the bar, the PASSED verdict...
    plain = eval_cli(tmp_path, qa_dataset, qa_rubric, "--min-score", "0.1", env={**forced, "NO_COLOR": "1"})
    assert plain.returncode == 0, plain.stderr
    assert "CI gate PASSED" in plain.stdout.replace("\x1b[0m", "").replace("\x1b[1m", "")
    assert not COLOR.search(plain.stdout), plain.stdout[:400]  # no colour at all (bold may stay: NO_COLOR is about colour)


def test_runs_reads_the_project_files_runs_dir(tmp_path):
    assert run_cli("init", "p", cwd=tmp_path).returncode == 0
    project = tmp_path / "p" / "agentopt.yaml"
    assert "\nruns_dir: runs\n" in project.read_text()
    project.write_text(project.read_text().replace("\nruns_dir: runs\n", "\nruns_dir: elsewhere\n"))
    done = tmp_path / "p" / "elsewhere" / "20261201-120000-eval-assistant"
    write(done / "summary.json", json.dumps({"agent": "assistant", "env": "support", "split": "val", "gate": None,
                                             "summary": {"mean": 0.5, "criteria": []}}))
    listed = run_cli("runs", "--json", cwd=tmp_path / "p")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert document["runs_dir"].endswith("elsewhere") and [r["id"] for r in document["runs"]] == [done.name]
    flag = run_cli("runs", "--json", "--runs-dir", "runs", cwd=tmp_path / "p")
    assert json.loads(flag.stdout)["runs"] == []  # the flag wins


# ---- agentopt report on a run that did not finish ----------------------------------------


def test_report_renders_an_unfinished_eval_and_run_as_far_as_they_got(tmp_path, qa_dataset, qa_rubric):
    finished = eval_cli(tmp_path, qa_dataset, qa_rubric)
    assert finished.returncode == 0, finished.stderr
    done = next((tmp_path / "runs").iterdir())
    records = [json.loads(line) for line in (done / "traces.jsonl").read_text().splitlines()]

    crashed = tmp_path / "runs" / "20261201-120000-eval-qa"  # killed after two episodes
    (crashed / "inputs").mkdir(parents=True)
    for name in ("agent.yaml", "rubric.yaml"):
        (crashed / "inputs" / name).write_text((done / "inputs" / name).read_text())
    (crashed / "traces.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[:2]))
    result = run_cli("report", str(crashed), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(crashed / "report.html")
    html = (crashed / "report.html").read_text()
    assert "unfinished: this evaluation stopped before its end" in html
    assert html.count('class="episode"') == 2 and "2 episodes scored" in html
    assert not (crashed / "summary.json").exists()  # never a baseline by accident

    run = tmp_path / "runs" / "20261201-130000-run-qa"  # an optimization killed after its baseline
    (run / "inputs").mkdir(parents=True)
    for name in ("agent.yaml", "rubric.yaml"):
        (run / "inputs" / name).write_text((done / "inputs" / name).read_text())
    (run / "run_options.json").write_text(json.dumps({"agent_file": "agents/qa.yaml", "env": f"dataset:{qa_dataset}", "config": {}}))
    mean = json.loads((done / "summary.json").read_text())["summary"]["mean"]
    (run / "candidates.jsonl").write_text(json.dumps({"id": "c0", "parent": None, "operator": "baseline", "status": "baseline",
                                                      "val": {"mean": mean, "n": 4}, "rollouts": 4, "cost_usd": 0.0}) + "\n")
    (run / "episodes.jsonl").write_text("".join(json.dumps({"candidate": "c0", "split": "val", **r}) + "\n" for r in records))
    result = run_cli("report", str(run), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    html = (run / "report.html").read_text()
    assert f"continue it with agentopt run --resume {run}" in html
    assert html.count('class="episode"') == 4 and "<svg" in html  # the baseline's val episodes and the plots
    assert not (run / "summary.json").exists()
    listed = run_cli("runs", cwd=tmp_path, env={"COLUMNS": "300"}).stdout
    assert f"as far as it got: agentopt report runs/{crashed.name}" in listed


def test_report_on_a_folder_that_is_no_run(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli("report", "empty", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().startswith("error: empty: not a run folder")


def test_run_json_on_a_usage_error_is_still_one_document(tmp_path):
    result = run_cli("run", "nope.yaml", "-r", "nope.yaml", "--env", "support", "--json", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    assert document["command"] == "run" and document["ok"] is False and document["exit_code"] == 2
    assert document["problems"][0]["file"] == "nope.yaml"
    both = run_cli("run", "nope.yaml", "-r", "nope.yaml", "--env", "support", "-q", "-v", cwd=tmp_path)
    assert both.returncode == 2 and "--quiet and --verbose contradict each other" in both.stderr
