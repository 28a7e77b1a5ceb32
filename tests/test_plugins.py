"""A package adds a check and an operator to agentopt through entry points, touching nothing of agentopt.

tests/plugins/agentopt_lowercase is such a package (docs/extending.md). It is installed as pip
would leave it (its modules, and a .dist-info with the entry_points.txt its pyproject.toml
declares) into a folder that the `agentopt` commands below get on their PYTHONPATH, as a venv's
site-packages would be. Then `agentopt eval` scores
with its `all_lowercase` check, `agentopt run --operators lowercase` optimizes with its
operator, and agentopt's conformance suites, which run over the registries, include both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli, scripted_agent, write
from tests.fakes.openai_server import ScriptedLLM
from tests.optimize.test_run_integration import dataset, quiz_model

PLUGIN = REPO / "tests" / "plugins" / "agentopt_lowercase"
RUBRIC = """
name: capitals
criteria:
  - id: correct
    description: The answer names the right city.
    check: {type: env_reward}
  - id: lowercase
    description: The answer is written in lower case.
    check: {type: all_lowercase, target: answer.answer}
"""


def install(package: Path, site: Path) -> None:
    """What pip leaves in site-packages for `package`: its modules and a .dist-info whose
    entry_points.txt comes from its pyproject.toml, which importlib.metadata reads. (No wheel
    build: the test machine has no network and setuptools here cannot build wheels.)"""
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    for module in tomllib.loads((package / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]:
        shutil.copytree(package / module, site / module)
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    groups = project["entry-points"]
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items()) + "\n" for group, points in groups.items()
    ))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The plug-in installed into a folder of its own, as a venv's site-packages."""
    site = tmp_path_factory.mktemp("plugin") / "site"
    install(PLUGIN, site)
    return site


def with_plugin(site: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(REPO), str(site)])}


def test_eval_scores_with_the_packages_check_and_run_optimizes_with_its_operator(tmp_path, site):
    data, rubric = dataset(tmp_path), write(tmp_path / "rubrics" / "capitals.yaml", RUBRIC)
    with ScriptedLLM(quiz_model) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        without = run_cli("eval", str(agent), "-r", str(rubric), "--env", f"dataset:{data}", cwd=tmp_path)
        evaluated = run_cli("eval", str(agent), "-r", str(rubric), "--env", f"dataset:{data}", "--runs-dir", "evals",
                            cwd=tmp_path, env=with_plugin(site))
        ran = run_cli("run", str(agent), "-r", str(rubric), "--env", f"dataset:{data}", "--runs-dir", "runs",
                      "--max-rollouts", "60", "--minibatch", "4", "--operators", "lowercase", cwd=tmp_path, env=with_plugin(site), timeout=600)
    # Without the package the rubric names an unknown check: exit 2, one line naming file:line.
    assert without.returncode == 2 and without.stderr.count("\n") == 1, without.stderr
    assert "capitals.yaml:8:13: criteria[1].check.type: " in without.stderr and "all_lowercase" in without.stderr
    # With it, the quiz model's capitalized answers fail the package's check.
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    summary = json.loads((next((tmp_path / "evals").iterdir()) / "summary.json").read_text())["summary"]
    assert {c["id"]: c["mean"] for c in summary["criteria"]} == {"correct": 1.0, "lowercase": 0.0}
    # The package's operator asks for lowercase answers: accepted, and the winner is perfect on val and test.
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Operators: lowercase" in ran.stdout
    run = next((tmp_path / "runs").iterdir())
    decisions = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]
    assert [(d["operator"], d["status"]) for d in decisions] == [("baseline", "baseline"), ("lowercase", "accepted")]
    result = json.loads((run / "summary.json").read_text())
    assert (result["baseline"]["val"]["mean"], result["winner"]["val"]["mean"], result["winner"]["test"]["mean"]) == (0.5, 1.0, 1.0)
    assert "Write the answer in lowercase." in (run / "best" / "agent.yaml").read_text()


def test_the_conformance_suites_cover_the_packages_check_and_operator(site):
    suites = ["tests/scoring/test_check_conformance.py", "tests/optimize/test_operator_conformance.py"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", *suites, "-k", "lowercase"],
        cwd=REPO, env={**os.environ, **with_plugin(site)}, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    passed = [line.split("::")[-1].split()[0] for line in done.stdout.splitlines() if " PASSED" in line]
    assert sum(name.endswith("[all_lowercase]") for name in passed) == 5, done.stdout  # every check property
    assert sum(name.endswith("[lowercase]") for name in passed) == 5, done.stdout  # every operator property


def test_a_misnamed_entry_point_is_one_line_before_any_run_folder(tmp_path, site):
    broken = tmp_path / "site"
    shutil.copytree(site, broken)
    points = next(broken.glob("*.dist-info")) / "entry_points.txt"
    points.write_text(points.read_text().replace("lowercase = agentopt_lowercase.operator", "lower = agentopt_lowercase.operator"))
    data, rubric = dataset(tmp_path), write(tmp_path / "rubrics" / "capitals.yaml", RUBRIC)
    agent = scripted_agent(tmp_path, "http://127.0.0.1:9/v1", name="capitals")
    result = run_cli("run", str(agent), "-r", str(rubric), "--env", f"dataset:{data}", "--runs-dir", "runs", cwd=tmp_path, env=with_plugin(broken))
    assert result.returncode == 2 and result.stderr == (
        "error: entry point agentopt.operators:lower (agentopt_lowercase.operator:Lowercase): the operator is named "
        "'lowercase', not 'lower'; name the entry point after it\n"
    )
    assert not (tmp_path / "runs").exists()
