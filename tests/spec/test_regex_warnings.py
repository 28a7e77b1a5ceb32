"""`agentopt validate` warns (without failing) about rubric regexes with nested quantifiers."""

from __future__ import annotations

from pathlib import Path

from agentopt.spec.load import format_warning, validate_files, warnings_in_files
from tests.conftest import run_cli, write

RUBRIC = """
name: risky
criteria:
  - id: shape
    description: Looks right.
    check:
      type: regex
      pattern: "^(a+)+$"
  - id: fine
    description: Has an order id.
    check: {type: regex, pattern: "ORD-\\\\d+"}
  - id: args
    description: Searched well.
    check:
      type: tool_args
      tool: search
      args_regex:
        query: "(\\\\w+\\\\s?)+$"
"""


def test_loader_locates_each_nested_quantifier(tmp_path: Path):
    rubric = write(tmp_path / "rubric.yaml", RUBRIC)
    assert validate_files([str(rubric)]) == []
    warnings = [format_warning(w) for w in warnings_in_files([str(rubric)])]
    assert warnings == [
        f"{rubric}:7:7: warning: criteria[0].check.pattern: regex '^(a+)+$' nests quantifiers (a quantifier inside "
        "a repeated group): it can take exponential time on text that almost matches; scoring stops it after 1 s "
        "and counts an error",
        f"{rubric}:17:9: warning: criteria[2].check.args_regex.query: regex '(\\\\w+\\\\s?)+$' nests quantifiers "
        "(an optional end that can start the next repetition): it can take exponential time on text that almost "
        "matches; scoring stops it after 1 s and counts an error",
    ]


def test_validate_prints_the_warning_with_file_and_line_and_still_exits_0(tmp_path: Path):
    rubric = write(tmp_path / "rubric.yaml", RUBRIC)
    result = run_cli("validate", str(rubric), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{rubric}:7:7: warning: criteria[0].check.pattern: regex '^(a+)+$' nests quantifiers")
    assert lines[1].startswith(f"{rubric}:17:9: warning: criteria[2].check.args_regex.query: ")
    assert "1 file(s) valid" in result.stdout


def test_warnings_come_with_the_errors_and_the_exit_code_stays_2(tmp_path: Path):
    rubric = write(tmp_path / "rubric.yaml", RUBRIC.replace("ORD-", "(ORD-"))
    result = run_cli("validate", str(rubric), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert any(": warning: criteria[0].check.pattern:" in line for line in lines)
    assert any("criteria[1].check.pattern: regex does not compile" in line for line in lines)


def test_shipped_rubrics_have_no_warnings():
    repo = Path(__file__).resolve().parents[2]
    assert warnings_in_files([str(repo / "rubrics" / name) for name in ("triage.yaml", "support.yaml")]) == []
