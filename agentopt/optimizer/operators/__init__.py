"""Proposal operators, one file each, and `OPERATORS`: the registry of the `agentopt.operators`
extension point (agentopt.registry). `all_operators()` returns them by name, in the order a new
run tries them first: the built-ins that need no capable mutator model, cheapest first, then the
ones that do, then those installed packages declare under the entry-point group.

`agentopt.optimizer.types.Operator` is the Protocol; docs/extending.md shows a new one."""

from __future__ import annotations

from agentopt.optimizer.types import Operator, operator_problem
from agentopt.registry import Registry


def _builtins() -> list[Operator]:
    from agentopt.optimizer.operators.choices import ChoicesOperator
    from agentopt.optimizer.operators.fewshot import FewShotOperator
    from agentopt.optimizer.operators.merge import MergeOperator
    from agentopt.optimizer.operators.reflect import ReflectOperator
    from agentopt.optimizer.operators.rules import RulesOperator
    from agentopt.optimizer.operators.sample import SampleOperator
    from agentopt.optimizer.operators.skill import SkillOperator

    return [FewShotOperator(), RulesOperator(), ChoicesOperator(), MergeOperator(), SampleOperator(), ReflectOperator(), SkillOperator()]


OPERATORS: Registry[Operator] = Registry("agentopt.operators", "operator", _builtins, operator_problem)


def all_operators() -> dict[str, Operator]:
    return OPERATORS.all()
