"""Names a user or a model chose never become a path outside the run folder.

A skill's front-matter `name` becomes `skills/<name>.md` when a spec is saved (the run's
candidates, best/). A user's file with a name such as `../../x` is refused at load with
its file:line; a name that still reaches the writer (a model's, a spec built in code) is
made into one plain file name there."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentopt.optimizer.artifacts import load_candidate_spec, save_spec
from agentopt.spec.agent import AgentSpec, Skill
from agentopt.store.run import RunFolder, safe_name
from tests.conftest import run_cli, write

TRAVERSAL = "../../../../../../escaped"


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def agent_with_skill(tmp_path: Path, name: str) -> Path:
    write(tmp_path / "agents" / "skills" / "evil.md", f"---\nname: {name}\ndescription: d\n---\nDo it.\n")
    return write(tmp_path / "agents" / "qa.yaml", """
        name: qa
        model: openai/scripted
        model_params: {api_base: "http://127.0.0.1:9/v1"}
        system_prompt: Answer.
        skills: [skills/evil.md]
        """)


@pytest.mark.parametrize("name", [TRAVERSAL, "..", ".hidden", "a/b", "a\\\\b", "/etc/passwd"])
def test_validate_refuses_a_skill_name_that_is_not_a_plain_name(tmp_path, name):
    agent = agent_with_skill(tmp_path, f'"{name}"')
    result = run_cli("validate", str(agent), cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        f"{tmp_path / 'agents' / 'skills' / 'evil.md'}:2:1: name: must be a plain name "
        "(no '/', '\\', control characters or leading '.'): it names the skill's file"
    ]


@pytest.mark.parametrize("command", ["run", "eval"])
def test_a_traversal_skill_name_writes_nothing_outside_the_run_folder(tmp_path, command):
    """Before: `run` saved the baseline to candidates/c0/skills/../../../../../../escaped.md."""
    agent = agent_with_skill(tmp_path, TRAVERSAL)
    rubric = write(tmp_path / "rubric.yaml", """
        name: r
        criteria:
          - id: c
            description: d
            check: {type: env_reward}
        """)
    data = write(tmp_path / "d.jsonl", '{"id": "a", "input": "x", "split": "val"}\n{"id": "b", "input": "y", "split": "train"}\n')
    runs = tmp_path / "deep" / "er" / "and" / "deeper" / "still" / "runs"  # an escape would land inside tmp_path
    before = files_under(tmp_path)
    result = run_cli(command, str(agent), "-r", str(rubric), "--env", f"dataset:{data}", "--runs-dir", str(runs),
                     "--max-rollouts" if command == "run" else "--episodes", "2", cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "evil.md:2:1: name: must be a plain name" in result.stderr
    created = {p for p in files_under(tmp_path) - before if ".cache" not in p.parts}
    assert created == set()
    assert not list(tmp_path.rglob("escaped*"))


def test_save_spec_keeps_every_skill_file_inside_the_folder(tmp_path):
    """A name that reaches the writer unchecked (a mutator's, a spec built in code) is made plain."""
    skills = (
        Skill(TRAVERSAL, "d", "Body one.", "x.md"),
        Skill("/abs/olute", "d", "Body two.", "y.md"),
        Skill("refunds", "d", "Body three.", "z.md"),
        Skill("Refunds", "d", "Same file name but for case.", "w.md"),
        Skill("..", "d", "Nothing left of the name.", "v.md"),
        Skill("x" * 500, "d", "Too long for a file name.", "u.md"),
    )
    folder = tmp_path / "deep" / "er" / "and" / "deeper" / "still" / "best"
    path = save_spec(AgentSpec(name="qa", system_prompt="hi", skills=skills), folder)
    written = files_under(tmp_path)
    assert all(folder in p.parents for p in written), written
    names = sorted(p.relative_to(folder).as_posix() for p in written)
    assert names == sorted(["agent.yaml", "skills/escaped.md", "skills/abs-olute.md", "skills/refunds.md",
                            "skills/Refunds-2.md", "skills/skill.md", f"skills/{'x' * 80}.md"])
    assert path == folder / "agent.yaml"


def test_a_saved_spec_with_a_plain_name_that_is_not_a_file_name_loads_back(tmp_path):
    spec = AgentSpec(name="qa", system_prompt="hi", skills=(Skill("Refund policy: v2", "How to refund.", "Check.", "s.md"),))
    save_spec(spec, tmp_path / "c1")
    assert (tmp_path / "c1" / "skills" / "Refund-policy-v2.md").is_file()
    loaded = load_candidate_spec(tmp_path / "c1")
    assert [(s.name, s.description, s.body) for s in loaded.skills] == [("Refund policy: v2", "How to refund.", "Check.")]


@pytest.mark.parametrize(("text", "expected"), [
    ("../../x", "x"), ("..", "unnamed"), ("", "unnamed"), ("a/b\\c", "a-b-c"), ("nul\x00byte", "nul-byte"),
    (".hidden", "hidden"), ("réponse", "réponse"), ("ok_name-1.2", "ok_name-1.2"),
])
def test_safe_name_is_one_plain_file_name(text, expected):
    assert safe_name(text) == expected


def test_a_run_folder_named_after_a_traversal_agent_name_is_one_plain_name_under_runs(tmp_path):
    run = RunFolder.create(tmp_path / "runs", "run", "../../../escaped")
    assert run.path.parent == tmp_path / "runs"
    assert run.path.name.endswith("-run-escaped")
