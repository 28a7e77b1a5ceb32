"""The small commands: --help without heavy imports, validate, schema, env serve + eval by URL."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx

from agentopt.servers import free_port
from tests.conftest import REPO, run_cli, scripted_agent, write
from tests.fakes.openai_server import ScriptedLLM, call


def test_help_does_not_import_heavy_modules(tmp_path):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "agentopt", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "eval" in result.stdout and "validate" in result.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert not imported & {"litellm", "openenv", "openai", "gradio", "optuna", "xllamacpp"}


def test_validate_accepts_the_shipped_examples():
    files = ["agents/triage.yaml", "agents/support.yaml", "rubrics/triage.yaml", "rubrics/support.yaml"]
    result = run_cli("validate", *files, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "4 file(s) valid" in result.stdout


def test_validate_reports_every_problem_with_file_and_line(tmp_path):
    agent = write(
        tmp_path / "agents" / "bad.yaml",
        """
        name: bad
        model_params:
          temperature: hot
        tool:
          submit: {description: x}
        skills: [skills/missing.md]
        """,
    )
    result = run_cli("validate", str(agent), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{agent}:3:3: model_params.temperature: expected a number, got 'hot'",
        f"{agent}:4:1: tool: unknown field 'tool' (did you mean 'tools'?)",
        f"{agent}:6:10: skills[0]: file not found: skills/missing.md",
    ]


def test_schema_prints_json_schemas():
    for kind, key in (("agent", "system_prompt"), ("rubric", "criteria")):
        result = run_cli("schema", kind, cwd=REPO)
        assert result.returncode == 0
        assert key in json.loads(result.stdout)["properties"]
    bad = run_cli("schema", "nope", cwd=REPO)
    assert bad.returncode == 2 and "use agent, rubric or project" in bad.stderr


def test_env_serve_runs_a_standalone_server_that_eval_reaches_by_url(tmp_path, qa_dataset, qa_rubric):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "agentopt", "env", "serve", "dataset", f"path={qa_dataset}", "--port", str(port)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        with ScriptedLLM(lambda request: call("submit", {"answer": "Paris"})) as llm:
            agent = scripted_agent(tmp_path, llm.url)
            result = run_cli(
                "eval", str(agent), "-r", str(qa_rubric), "--env", f"http://127.0.0.1:{port}", "--runs-dir", "runs", cwd=tmp_path
            )
        assert result.returncode == 0, result.stdout + result.stderr
        summary = json.loads(next((tmp_path / "runs").glob("*/summary.json")).read_text())
        assert summary["env"] == f"http://127.0.0.1:{port}"
        assert summary["summary"]["n"] == 4  # the server's val split, through the Task API
        criteria = {c["id"]: c for c in summary["summary"]["criteria"]}
        assert criteria["correct"]["pass_rate"] == 0.25  # only the Paris question is right
    finally:
        server.terminate()
        server.wait(timeout=10)
