"""A rewritten system prompt is checked against the environment's variable names before it
is tried: nested variables (`metadata.question`) are fine, unknown names are not."""

from agentopt.optimizer.operators.reflect import render_problem
from agentopt.spec.agent import AgentSpec


def test_nested_variables_of_the_reset_observation_render():
    spec = AgentSpec(name="a", system_prompt="Q: {{ metadata.question }} {{ metadata['topic'] }} {{ task.id | upper }}")
    assert render_problem(spec, ("metadata", "task")) is None


def test_an_unknown_variable_is_named():
    problem = render_problem(AgentSpec(name="a", system_prompt="{{ question }}"), ("metadata",))
    assert problem is not None and "'question' is undefined" in problem
