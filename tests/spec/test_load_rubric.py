"""Rubrics: valid files load into exact values; each mistake is one exact file:line:col line."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentopt.errors import ValidationError
from agentopt.spec.load import load_rubric, validate_file
from agentopt.spec.rubric import Criterion, Rubric

from . import write

RUBRIC = "rubrics/r.yaml"


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def problems(text: str) -> list[str]:
    return [str(p) for p in validate_file(write(RUBRIC, text))]


VALID = """\
name: triage
description: Routing quality.
pass_threshold: 0.8
judge_model: openai/gpt-4o-mini
criteria:
  - id: matches
    description: Says the category.
    weight: 2
    gate: true
    check:
      type: t_match
      pattern: "billing|tech"
  - id: replied
    description: Replied at all.
    pass_at: 1
    check: {type: t_reply}
"""


def test_valid_rubric_loads_exact_values(fake_checks):
    assert load_rubric(write(RUBRIC, VALID)) == Rubric(
        name="triage",
        description="Routing quality.",
        pass_threshold=0.8,
        judge_model="openai/gpt-4o-mini",
        criteria=(
            Criterion("matches", "Says the category.", 2.0, "t_match", {"pattern": "billing|tech"},
                      gate=True, pass_at=0.5),
            Criterion("replied", "Replied at all.", 1.0, "t_reply", {}, pass_at=1.0),
        ),
        source=RUBRIC,
    )


CRITERION = "name: r\ncriteria:\n  - id: a\n    description: d\n    check:\n"


@pytest.mark.parametrize("text, expected", [
    (CRITERION + "      type: t_mach\n      pattern: x\n",
     "rubrics/r.yaml:6:7: criteria[0].check.type: unknown check type 't_mach' (did you mean 't_match'?)"),
    (CRITERION + "      type: nothing_like_it\n",
     "rubrics/r.yaml:6:7: criteria[0].check.type: unknown check type 'nothing_like_it' (known: t_match, t_reply)"),
    (CRITERION + "      type: t_match\n",
     "rubrics/r.yaml:5:5: criteria[0].check.pattern: missing required field"),
    (CRITERION + "      type: t_match\n      pattern: x\n      patern: y\n",
     "rubrics/r.yaml:8:7: criteria[0].check.patern: unknown field 'patern' (did you mean 'pattern'?)"),
    (CRITERION + "      type: t_match\n      pattern: x\n      times: 0\n",
     "rubrics/r.yaml:8:7: criteria[0].check.times: must be >= 1, got 0"),
    (CRITERION + "      type: t_match\n      pattern: '(unclosed'\n",
     "rubrics/r.yaml:7:7: criteria[0].check.pattern: regex does not compile: "
     "missing ), unterminated subpattern at position 0"),
    (CRITERION + "      type: t_match\n      pattern: odd\n",
     "rubrics/r.yaml:5:5: criteria[0].check: whole check is odd"),
    (CRITERION + "      pattern: x\n",
     "rubrics/r.yaml:5:5: criteria[0].check.type: missing required field"),
    ("name: r\ncriteria:\n  - id: a\n    description: d\n    check: t_reply\n",
     "rubrics/r.yaml:5:5: criteria[0].check: expected a mapping, got 't_reply'"),
    ("name: r\ncriteria:\n  - id: Bad Id\n    description: d\n    check: {type: t_reply}\n",
     "rubrics/r.yaml:3:5: criteria[0].id: must match ^[a-z0-9_]+$, got 'Bad Id'"),
    ("name: r\ncriteria:\n  - id: a\n    description: ''\n    check: {type: t_reply}\n",
     "rubrics/r.yaml:4:5: criteria[0].description: must not be empty"),
    ("name: r\ncriteria:\n  - id: a\n    check: {type: t_reply}\n",
     "rubrics/r.yaml:3:5: criteria[0].description: missing required field"),
    ("name: r\ncriteria:\n  - id: a\n    description: d\n    weight: 0\n    check: {type: t_reply}\n",
     "rubrics/r.yaml:2:1: criteria: the weights sum to 0: give some criterion a weight above 0"),
    ("name: r\ncriteria: []\n",
     "rubrics/r.yaml:2:1: criteria: must not be empty"),
    ("name: r\npass_threshold: 1.5\ncriteria:\n  - {id: a, description: d, check: {type: t_reply}}\n",
     "rubrics/r.yaml:2:1: pass_threshold: must be <= 1, got 1.5"),
    ("name: r\njudge: local\ncriteria:\n  - {id: a, description: d, check: {type: t_reply}}\n",
     "rubrics/r.yaml:2:1: judge: unknown field 'judge' (did you mean 'judge_model'?)"),
    ("name: r\ncriteria:\n  - {id: a, description: d, gate: yes please, check: {type: t_reply}}\n",
     "rubrics/r.yaml:3:29: criteria[0].gate: expected true or false, got 'yes please'"),
])
def test_each_mistake_is_one_exact_line(fake_checks, text: str, expected: str):
    assert problems(text) == [expected]


def test_all_mistakes_are_reported(fake_checks):
    text = """\
        name: r
        criteria:
          - id: a
            description: d
            check: {type: t_match, pattern: "("}
          - id: a
            description: d
            weight: -1
            check: {type: t_rply}
        extra: 1
        """
    assert problems(text) == [
        "rubrics/r.yaml:5:28: criteria[0].check.pattern: regex does not compile: "
        "missing ), unterminated subpattern at position 0",
        "rubrics/r.yaml:6:5: criteria[1].id: duplicate id 'a' (also in criteria[0])",
        "rubrics/r.yaml:8:5: criteria[1].weight: must be >= 0, got -1",
        "rubrics/r.yaml:9:13: criteria[1].check.type: unknown check type 't_rply' (did you mean 't_reply'?)",
        "rubrics/r.yaml:10:1: extra: unknown field 'extra'",
    ]


def test_load_rubric_raises_validation_error(fake_checks):
    with pytest.raises(ValidationError) as caught:
        load_rubric(write(RUBRIC, "name: r\n"))
    assert [str(p) for p in caught.value.problems] == ["rubrics/r.yaml:1:1: criteria: missing required field"]


def test_validate_file_tells_rubrics_from_agents(fake_checks):
    write("agents/a.yaml", "name: a\ncriterion: x\n")
    assert [str(p) for p in validate_file("agents/a.yaml")] == [
        "agents/a.yaml:2:1: criterion: unknown field 'criterion'"]
    assert problems("name: r\ncriteria: 3\n") == ["rubrics/r.yaml:2:1: criteria: expected a list, got 3"]


# --- The built-in checks ----------------------------------------------------------------------



def test_builtin_checks_load_with_their_default_pass_at(builtin_checks):
    text = """\
        name: triage
        criteria:
          - id: category
            description: Right team.
            check: {type: equals, target: answer.category, value: "{{ task.expected.category }}"}
          - id: polite
            description: Polite.
            check: {type: llm_judge, prompt: "Is it polite?"}
          - id: short
            description: Short.
            check: {type: max_length, max_words: 50}
        """
    rubric = load_rubric(write(RUBRIC, text))
    assert [(c.check, c.params, c.pass_at) for c in rubric.criteria] == [
        ("equals", {"target": "answer.category", "value": "{{ task.expected.category }}"}, 1.0),
        ("llm_judge", {"prompt": "Is it polite?"}, builtin_checks["llm_judge"].default_pass_at),
        ("max_length", {"max_words": 50}, 1.0),
    ]


def test_builtin_check_mistakes(builtin_checks):
    text = """\
        name: triage
        criteria:
          - id: a
            description: d
            check:
              type: regex
              pattern: "(unclosed"
          - id: b
            description: d
            check: {type: contains, value: []}
          - id: c
            description: d
            check: {type: contain, value: x}
        """
    assert problems(text) == [
        "rubrics/r.yaml:7:7: criteria[0].check.pattern: regex does not compile: "
        "missing ), unterminated subpattern at position 0",
        "rubrics/r.yaml:10:29: criteria[1].check.value: must not be empty",
        "rubrics/r.yaml:13:13: criteria[2].check.type: "
        "unknown check type 'contain' (did you mean 'contains' or 'not_contains'?)",
    ]


def test_a_rubric_loads_in_a_fresh_interpreter_that_never_imported_the_scoring_layer(tmp_path: Path):
    """The library's own entry point: `load_rubric` alone, as a notebook would call it first."""
    import subprocess
    import sys

    path = write(RUBRIC, "name: r\ncriteria:\n  - {id: c, description: d, weight: 1, check: {type: contains, value: x}}\n")
    code = ("import sys; from agentopt.spec.load import load_rubric\n"
            "assert 'agentopt.scoring' not in sys.modules, 'the spec layer imported scoring up front'\n"
            f"print(load_rubric({str(path)!r}).criteria[0].check)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "contains"
