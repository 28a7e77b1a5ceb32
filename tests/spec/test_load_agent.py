"""Agent specs: valid files load into exact values; each mistake is one exact file:line:col line."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentopt.errors import ValidationError
from agentopt.spec.agent import (
    AgentSpec,
    Example,
    LoopSettings,
    ModelParams,
    OptimizeSpec,
    SearchSpace,
    Skill,
    ToolOverride,
)
from agentopt.spec.load import agent_to_yaml, load_agent, validate_file, validate_files

from . import write

SPEC = "agents/x.yaml"

FULL = """\
name: triage
model: openai/gpt-4o-mini
model_params:
  temperature: 0.5
  max_tokens: 256
  seed: null
  top_p: 1
  api_base: http://localhost:8000/v1
  timeout_s: 30
system_prompt: |
  You are {{ agent }}.
  Be brief.
skills:
  - skills/refunds.md
tools:
  submit:
    description: Submit the triage.
examples:
  - input: My card was charged twice
    output: {category: billing, priority: high}
  - input: Hello
    output: general
loop:
  max_turns: 4
  max_tokens: 2000
  tool_mode: native
  final_answer: false
  skills: on_demand
  example_pick: similar
  examples_shown: 1
optimize:
  components: [system_prompt, skills]
  max_component_tokens: 300
  search_space:
    models: [local, openai/gpt-4o-mini]
    temperature: {low: 0, high: 1}
    max_examples: {low: 0, high: 4}
    skills: [refunds]
"""

REFUNDS = "---\nname: refunds\ndescription: How to handle refunds.\n---\n\n# Refunds\nCheck the order.\n"


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a fresh folder so problems show the short relative paths users type."""
    monkeypatch.chdir(tmp_path)
    write("agents/skills/refunds.md", REFUNDS)
    return tmp_path


def problems(text: str) -> list[str]:
    return [str(p) for p in validate_file(write(SPEC, text))]


def test_full_spec_loads_exact_values():
    spec = load_agent(write(SPEC, FULL))
    assert spec == AgentSpec(
        name="triage",
        model="openai/gpt-4o-mini",
        params=ModelParams(temperature=0.5, max_tokens=256, seed=None, top_p=1.0,
                           api_base="http://localhost:8000/v1", timeout_s=30.0),
        system_prompt="You are {{ agent }}.\nBe brief.\n",
        skills=(Skill("refunds", "How to handle refunds.", "# Refunds\nCheck the order.", "skills/refunds.md"),),
        tools=(ToolOverride("submit", "Submit the triage."),),
        examples=(Example("My card was charged twice", {"category": "billing", "priority": "high"}),
                  Example("Hello", "general")),
        loop=LoopSettings(max_turns=4, max_tokens=2000, tool_mode="native", final_answer=False, skills="on_demand",
                          example_pick="similar", examples_shown=1),
        optimize=OptimizeSpec(
            components=("system_prompt", "skills"),
            max_component_tokens=300,
            search_space=SearchSpace(models=("local", "openai/gpt-4o-mini"), temperature=(0.0, 1.0),
                                     max_examples=(0, 4), skills=("refunds",)),
        ),
        source=SPEC,
    )
    assert isinstance(spec.params.temperature, float) and isinstance(spec.params.timeout_s, float)


def test_minimal_spec_gets_defaults():
    assert load_agent(write(SPEC, "name: x\n")) == AgentSpec(name="x", source=SPEC)


def test_yaml_dates_and_booleans_in_keys_stay_as_written():
    spec = load_agent(write(SPEC, "name: 2024-01-01\ntools:\n  on: {description: Turn on.}\n"))
    assert (spec.name, spec.tools) == ("2024-01-01", (ToolOverride("on", "Turn on."),))


def test_system_prompt_file_is_read_relative_to_the_spec():
    write("agents/prompts/p.md", "Hi {{ name }}\n")
    spec = load_agent(write(SPEC, "name: x\nsystem_prompt_file: prompts/p.md\n"))
    assert (spec.system_prompt, spec.system_prompt_file) == ("Hi {{ name }}\n", "prompts/p.md")


@pytest.mark.parametrize("text, expected", [
    ("name: x\nmodel_params:\n  temperature: hot\n",
     "agents/x.yaml:3:3: model_params.temperature: expected a number, got 'hot'"),
    ("name: x\nmodel_params:\n  temperature: 3\n",
     "agents/x.yaml:3:3: model_params.temperature: must be <= 2, got 3"),
    ("name: x\nmodel_params:\n  seed: 1.5\n",
     "agents/x.yaml:3:3: model_params.seed: expected an integer or null, got 1.5"),
    ("name: x\ntool:\n  submit: {description: d}\n",
     "agents/x.yaml:2:1: tool: unknown field 'tool' (did you mean 'tools'?)"),
    ("model: local\n",
     "agents/x.yaml:1:1: name: missing required field"),
    ("name: x\nloop:\n  tool_mode: fast\n",
     "agents/x.yaml:3:3: loop.tool_mode: expected one of 'auto', 'native', 'structured', got 'fast'"),
    ("name: x\nloop:\n  example_pick: nearest\n",
     "agents/x.yaml:3:3: loop.example_pick: expected one of 'first', 'similar', got 'nearest'"),
    ("name: x\nloop:\n  examples_shown: -1\n",
     "agents/x.yaml:3:3: loop.examples_shown: must be >= 0, got -1"),
    ("name: x\nexamples:\n  - input: hi\n",
     "agents/x.yaml:3:5: examples[0].output: missing required field"),
    ("name: x\ntools:\n  submit: just text\n",
     "agents/x.yaml:3:3: tools.submit: expected a mapping, got 'just text'"),
    ("name: x\nname: y\n",
     "agents/x.yaml:2:1: name: duplicate key 'name' (first at line 1)"),
    ("name: x\nmodel_params: [1\n",
     "agents/x.yaml:3:1: invalid YAML: expected ',' or ']', but got '<stream end>'"),
    ("",
     "agents/x.yaml:1:1: expected a mapping, got nothing"),
    ("name: x\n---\nname: y\n",
     "agents/x.yaml:2:1: invalid YAML: expected a single document in the stream, but found another document"),
    ("name: !secret x\n",
     "agents/x.yaml:1:1: name: invalid value: could not determine a constructor for the tag '!secret'"),
    ("name: x\nexamples: &e [*e]\n",
     "agents/x.yaml:2:11: examples[0]: an alias may not refer to itself"),
    ("name: x\nsystem_prompt: |\n  line one\n  line {{ two }\n",
     "agents/x.yaml:4:1: system_prompt: template error: unexpected '}'"),
    ("name: x\nsystem_prompt: hi\nsystem_prompt_file: p.md\n",
     "agents/x.yaml:3:1: system_prompt_file: give system_prompt or system_prompt_file, not both"),
    ("name: x\nsystem_prompt_file: prompts/none.md\n",
     "agents/x.yaml:2:1: system_prompt_file: file not found: prompts/none.md"),
    ("name: x\nskills:\n  - skills/refunds.md\n  - skills/nope.md\n",
     "agents/x.yaml:4:5: skills[1]: file not found: skills/nope.md"),
    ("name: x\nskills: [skills/refunds.md, skills/refunds.md]\n",
     "agents/x.yaml:2:29: skills[1]: duplicate skill name 'refunds' (also in skills[0])"),
    ("name: x\nskills: [skills/refunds.md]\noptimize:\n  search_space:\n    skills: [refund]\n",
     "agents/x.yaml:5:14: optimize.search_space.skills[0]: unknown skill 'refund' (did you mean 'refunds'?)"),
    ("name: x\noptimize:\n  search_space:\n    temperature: {low: 1, high: 0.5}\n",
     "agents/x.yaml:4:5: optimize.search_space.temperature: low (1) is above high (0.5)"),
    ("name: x\noptimize:\n  components: [system_prompt, memory]\n",
     "agents/x.yaml:3:31: optimize.components[1]: "
     "expected one of 'system_prompt', 'skills', 'tools', 'examples', got 'memory'"),
])
def test_each_mistake_is_one_exact_line(text: str, expected: str):
    assert problems(text) == [expected]


def test_all_mistakes_are_reported_in_file_order():
    text = """\
        name: x
        modle: local
        model_params:
          temperature: hot
          max_tokens: 0
        skills:
          - skills/missing.md
        loop:
          max_turns: many
        """
    assert problems(text) == [
        "agents/x.yaml:2:1: modle: unknown field 'modle' (did you mean 'model'?)",
        "agents/x.yaml:4:3: model_params.temperature: expected a number, got 'hot'",
        "agents/x.yaml:5:3: model_params.max_tokens: must be >= 1, got 0",
        "agents/x.yaml:7:5: skills[0]: file not found: skills/missing.md",
        "agents/x.yaml:9:3: loop.max_turns: expected an integer, got 'many'",
    ]


def test_load_agent_raises_one_error_with_every_problem():
    with pytest.raises(ValidationError) as caught:
        load_agent(write(SPEC, "name: 3\nloop: {max_turns: 0}\n"))
    assert str(caught.value) == (
        "agents/x.yaml:1:1: name: expected a string, got 3\n"
        "agents/x.yaml:2:8: loop.max_turns: must be >= 1, got 0"
    )


@pytest.mark.parametrize("skill, expected", [
    ("---\nname: b\n---\nbody\n", "agents/skills/b.md:2:1: description: missing or empty in the front matter"),
    ("---\nname: b\ndescription: |\n  two\n  lines\n---\n", "agents/skills/b.md:3:1: description: must be one line"),
    ("---\nname: ''\ndescription: d\n---\n", "agents/skills/b.md:2:1: name: missing or empty in the front matter"),
    ("# No front matter\n", "agents/skills/b.md:1:1: missing front matter: start with a --- line, "
                            "then name: and description: lines, then ---"),
    ("---\nname: [b\n---\n", "agents/skills/b.md:3:1: invalid YAML: expected ',' or ']', but got '<stream end>'"),
])
def test_skill_file_problems_point_into_the_skill_file(skill: str, expected: str):
    write("agents/skills/b.md", skill)
    assert problems("name: x\nskills: [skills/b.md]\n") == [expected]


def test_prompt_file_template_error_points_into_the_prompt_file():
    write("agents/prompts/p.md", "fine\n\nHello {{ name }\n")
    assert problems("name: x\nsystem_prompt_file: prompts/p.md\n") == [
        "agents/prompts/p.md:3:1: system_prompt_file: template error: unexpected '}'"
    ]


def test_missing_file_is_a_problem_not_a_traceback():
    assert [str(p) for p in validate_files(["agents/none.yaml"])] == ["agents/none.yaml: file not found"]


def test_agent_to_yaml_round_trips():
    spec = load_agent(write(SPEC, FULL))
    assert load_agent(write("agents/copy.yaml", agent_to_yaml(spec))) == AgentSpec(
        **{**spec.__dict__, "source": "agents/copy.yaml"})


def test_agent_to_yaml_round_trips_defaults_and_prompt_files():
    write("agents/prompts/p.md", "Hi\n")
    spec = load_agent(write(SPEC, "name: x\nsystem_prompt_file: prompts/p.md\n"))
    text = agent_to_yaml(spec)
    assert "system_prompt_file: prompts/p.md" in text and "system_prompt:" not in text
    assert load_agent(write(SPEC, text)) == spec
