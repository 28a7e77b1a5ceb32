"""docs/api.md's example is run as written (so the page cannot drift from the API): it
optimizes a small agent offline and writes the run folder `agentopt run` writes for the same
agent, rubric and dataset, with the same summary.json keys."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO, run_cli

DOC = REPO / "docs" / "api.md"
# Files whose presence depends on nothing but the run: the lock, logs and traces are left out.
LEFT_OUT = {".lock", "logs", "traces.jsonl"}


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def files(run: Path) -> set[str]:
    return {p.relative_to(run).as_posix() for p in run.rglob("*")
            if p.is_file() and not LEFT_OUT & set(p.relative_to(run).parts)}


def test_the_doc_has_one_runnable_example():
    assert len(python_blocks(DOC.read_text(encoding="utf-8"))) == 1
    assert "docs/api.md" in (REPO / "README.md").read_text(encoding="utf-8")


def test_the_api_doc_example_writes_what_agentopt_run_writes(tmp_path, monkeypatch, capsys):
    (code,) = python_blocks(DOC.read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AGENTOPT_HOME", str(tmp_path / ".api-cache"))
    scope: dict[str, Any] = {"__name__": "api_doc_example"}
    exec(compile(code, str(DOC), "exec"), scope)
    printed = capsys.readouterr().out
    assert printed.startswith("0.5 -> 1.0\n") and "- Write the answer in lowercase letters only." in printed
    result = scope["result"]
    api_run = tmp_path / result.run_dir
    assert api_run.parent == tmp_path / "runs" and "-run-qa" in api_run.name

    # The same agent, served the same answers over HTTP, optimized by the command.
    spec = yaml.safe_load((tmp_path / "agents" / "qa.yaml").read_text())
    with scope["ScriptedModel"](scope["answer"]).serve() as url:
        spec.update(model="openai/scripted", model_params={"api_base": url})
        (tmp_path / "agents" / "served.yaml").write_text(yaml.safe_dump(spec))
        cli = run_cli("run", "agents/served.yaml", "-r", "rubrics/qa.yaml", "--env", "dataset:qa.jsonl", "--runs-dir", "cli-runs",
                      "--max-rollouts", "40", "--minibatch", "2", "--operators", "rules", cwd=tmp_path, timeout=120)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    (cli_run,) = (tmp_path / "cli-runs").iterdir()

    assert files(api_run) == files(cli_run) >= {
        "best/agent.yaml", "best/best_skill.md", "best/diff.md", "summary.json", "candidates.jsonl", "episodes.jsonl",
        "report.md", "report.html", "plan.json", "run_options.json", "splits.json", "inputs/agent.yaml", "inputs/rubric.yaml",
    }
    written = json.loads((api_run / "summary.json").read_text())
    from_cli = json.loads((cli_run / "summary.json").read_text())
    assert written.keys() == from_cli.keys() == result.summary.keys()
    for side in ("baseline", "winner"):
        assert written[side]["val"]["mean"] == from_cli[side]["val"]["mean"]
        assert written[side]["test"]["mean"] == from_cli[side]["test"]["mean"]
    assert yaml.safe_load((api_run / "best" / "agent.yaml").read_text())["system_prompt"] == result.winner.system_prompt
