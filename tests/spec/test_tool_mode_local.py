"""`loop.tool_mode: native` with `model: local` is refused at load, in one FILE:LINE:COL line, exit 2,
before any environment starts: the embedded model never makes a native tool call."""

from __future__ import annotations

from tests.conftest import run_cli, write

SPEC = """\
name: native-local
model: local
system_prompt: Answer.
loop:
  max_turns: 2
  tool_mode: native
"""


def test_native_tool_mode_with_the_local_model_is_refused_in_one_line(tmp_path, qa_dataset, qa_rubric):
    agent = write(tmp_path / "agents" / "a.yaml", SPEC)
    for args in (("validate", str(agent)),
                 ("eval", str(agent), "-r", str(qa_rubric), "--env", f"dataset:{qa_dataset}", "--runs-dir", "runs")):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert result.stderr.startswith(f"{agent}:6:3: loop.tool_mode: native tool calls do not work with model: local")
    assert not (tmp_path / "runs").exists()  # refused before any run folder


def test_structured_and_auto_with_the_local_model_still_load(tmp_path):
    for mode in ("structured", "auto"):
        agent = write(tmp_path / "agents" / f"{mode}.yaml", SPEC.replace("native", mode))
        result = run_cli("validate", str(agent), cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
