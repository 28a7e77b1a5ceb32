"""docs/ci.md's recipe, as the page shows it: its two scripts run in a real git repository on a
good and on a regressing change of the agent spec, and its workflow calls them and uploads what
they write. The scripts are taken from the page itself, so the page cannot drift from what runs.

The agent's model is the scripted OpenAI-compatible server (it answers right unless its system
prompt tells it to guess); the environment is a dataset. No network, no model weights."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from tests.conftest import REPO, write
from tests.fakes.openai_server import ScriptedLLM, call, last_user_text, system_text

DOC = REPO / "docs" / "ci.md"
BLOCK = re.compile(r"<!-- ci-recipe: (\S+) -->\n```\w+\n(.*?)```", re.S)
FACTS = {"France": "Paris", "Italy": "Rome", "Spain": "Madrid", "Peru": "Lima"}


def recipe() -> dict[str, str]:
    """{file name: its text} for every block the page marks as part of the recipe."""
    blocks = dict(BLOCK.findall(DOC.read_text(encoding="utf-8")))
    assert set(blocks) == {"ci/agentopt-gate.sh", "ci/agentopt-baseline.sh", ".github/workflows/agentopt.yml"}, list(blocks)
    return blocks


def model(request: dict):
    question = last_user_text(request)
    answer = next(a for country, a in FACTS.items() if country in question)
    return call("submit", {"answer": "no idea" if "guess" in system_text(request).lower() else answer})


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


def make_repo(root: Path, url: str, scripts: dict[str, str]) -> Path:
    repo = root / "project"
    rows = [{"id": f"q{i}", "split": "val", "input": f"What is the capital of {c}?", "expected": a} for i, (c, a) in enumerate(FACTS.items())]
    write(repo / "data" / "capitals.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    write(repo / "agents" / "capitals.yaml", f"""
        name: capitals
        model: openai/scripted
        model_params:
          api_base: {url}
          max_tokens: 64
        system_prompt: Answer the question with the name of a city.
        loop:
          max_turns: 3
        """)
    write(repo / "rubrics" / "capitals.yaml", """
        name: capitals
        criteria:
          - id: correct
            description: The answer names the right city.
            weight: 1
            check: {type: env_reward}
        """)
    write(repo / "agentopt.yaml", """
        agent: agents/capitals.yaml
        rubric: rubrics/capitals.yaml
        env: dataset:data/capitals.jsonl
        eval:
          split: val
          concurrency: 2
        """)
    write(repo / ".gitignore", "agentopt-ci/\nruns/\n.agentopt-cache/\n")
    write(repo / "README.md", "A project gated by agentopt.\n")
    for name, text in scripts.items():
        write(repo / name, text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "ci@example.invalid")
    git(repo, "config", "user.name", "ci")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "the agent, its rubric, the recipe")
    return repo


def run_script(repo: Path, name: str, home: Path, summary: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "agentopt").exists(), f"no agentopt command beside {sys.executable} (make install puts it there)"
    full = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full.update(PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONPATH=str(REPO), AGENTOPT_HOME=str(home), COLUMNS="200", **env)
    if summary is not None:
        full["GITHUB_STEP_SUMMARY"] = str(summary)
    shutil.rmtree(repo / "agentopt-ci", ignore_errors=True)
    return subprocess.run(["bash", name], cwd=repo, env=full, capture_output=True, text=True, timeout=600)


def change(repo: Path, branch: str, path: str, old: str, new: str) -> None:
    git(repo, "checkout", "-q", "-b", branch, "main")
    file = repo / path
    file.write_text(file.read_text().replace(old, new))
    git(repo, "commit", "-q", "-am", f"{branch}: {path}")


def test_the_ci_recipe_passes_a_good_change_and_fails_a_regression(tmp_path):
    scripts = recipe()
    home = tmp_path / "home"
    with ScriptedLLM(model) as llm:
        repo = make_repo(tmp_path, llm.url, scripts)

        # After a merge into main: the baseline job stores main's score; the workflow commits it.
        stored = run_script(repo, "ci/agentopt-baseline.sh", home)
        assert stored.returncode == 0, stored.stdout + stored.stderr
        assert json.loads((repo / "ci" / "baseline.json").read_text())["summary"]["mean"] == 1.0
        git(repo, "add", "ci/baseline.json")
        git(repo, "commit", "-q", "-m", "agentopt: new baseline")

        # A good change of the agent spec: same score, exit 0.
        change(repo, "good", "agents/capitals.yaml", "with the name of a city.", "with the name of a city, nothing else.")
        summary = tmp_path / "good-summary.md"
        good = run_script(repo, "ci/agentopt-gate.sh", home, summary, BASE_REF="main", MAX_DROP="0.05")
        assert good.returncode == 0, good.stdout + good.stderr
        text = summary.read_text()
        assert "### agentopt eval: capitals" in text and "## CI gate: PASSED" in text
        assert "baseline 1.000 -> 1.000 (change +0.000; allowed drop 0.050)" in text
        out = repo / "agentopt-ci"
        assert json.loads((out / "eval.json").read_text())["exit_code"] == 0
        assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
        assert ET.parse(out / "junit.xml").getroot().find(".//failure") is None

        # A regressing change: the spec now tells the model to guess; exit 1 and the step summary says why.
        git(repo, "checkout", "-q", "main")
        change(repo, "bad", "agents/capitals.yaml", "Answer the question", "Guess, then answer the question")
        summary = tmp_path / "bad-summary.md"
        bad = run_script(repo, "ci/agentopt-gate.sh", home, summary, BASE_REF="main", MAX_DROP="0.05")
        assert bad.returncode == 1, bad.stdout + bad.stderr
        text = summary.read_text()
        assert "## CI gate: FAILED" in text and "baseline 1.000 -> 0.000 (change -1.000; allowed drop 0.050)" in text
        document = json.loads((out / "eval.json").read_text())
        assert document["exit_code"] == 1 and document["gate"]["passed"] is False
        failures = ET.parse(out / "junit.xml").getroot().findall(".//failure")
        assert len(failures) == 4
        assert "status failed" in (out / "report.html").read_text()

        # A change outside agents/ and rubrics/: nothing to gate, no model call.
        git(repo, "checkout", "-q", "main")
        change(repo, "docs", "README.md", "gated", "still gated")
        calls = len(llm.requests)
        summary = tmp_path / "docs-summary.md"
        docs = run_script(repo, "ci/agentopt-gate.sh", home, summary, BASE_REF="main")
        assert docs.returncode == 0 and "nothing to gate" in summary.read_text()
        assert len(llm.requests) == calls

        # A mistake in the spec: exit 2 with the file:line line, before any episode.
        git(repo, "checkout", "-q", "main")
        change(repo, "broken", "agents/capitals.yaml", "max_turns: 3", "max_turns: -1")
        broken = run_script(repo, "ci/agentopt-gate.sh", home, tmp_path / "broken.md", BASE_REF="main")
        assert broken.returncode == 2 and re.search(r"agents/capitals\.yaml:\d+:\d+: loop\.max_turns", broken.stderr), broken.stderr


def test_the_workflow_runs_the_scripts_and_uploads_what_they_write():
    workflow = yaml.safe_load(recipe()[".github/workflows/agentopt.yml"])
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    for event in ("pull_request", "push"):
        assert set(triggers[event]["paths"]) == {"agents/**", "rubrics/**", "agentopt.yaml"}
    gate, baseline = workflow["jobs"]["gate"]["steps"], workflow["jobs"]["baseline"]["steps"]
    assert any(s.get("run") == "bash ci/agentopt-gate.sh" and s["env"]["BASE_REF"] == "origin/${{ github.base_ref }}" for s in gate)
    assert next(s for s in gate if s.get("uses", "").startswith("actions/checkout"))["with"]["fetch-depth"] == 0
    upload = next(s for s in gate if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"
    assert set(upload["with"]["path"].split()) == {"agentopt-ci/junit.xml", "agentopt-ci/report.html", "agentopt-ci/eval.json"}
    assert any(s.get("run") == "bash ci/agentopt-baseline.sh" for s in baseline)
    assert any("git add ci/baseline.json" in (s.get("run") or "") for s in baseline)
    assert workflow["jobs"]["baseline"]["permissions"]["contents"] == "write"
