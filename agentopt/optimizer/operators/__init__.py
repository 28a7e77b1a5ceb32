"""Proposal operators, one file each. `all_operators()` returns them by name, in the order a
new run tries them first: the ones that need no capable mutator model, cheapest first."""

from __future__ import annotations

from agentopt.optimizer.types import Operator


def all_operators() -> dict[str, Operator]:
    from agentopt.optimizer.operators.choices import ChoicesOperator
    from agentopt.optimizer.operators.fewshot import FewShotOperator
    from agentopt.optimizer.operators.merge import MergeOperator
    from agentopt.optimizer.operators.reflect import ReflectOperator
    from agentopt.optimizer.operators.rules import RulesOperator
    from agentopt.optimizer.operators.sample import SampleOperator
    from agentopt.optimizer.operators.skill import SkillOperator

    operators = [FewShotOperator(), RulesOperator(), ChoicesOperator(), MergeOperator(), SampleOperator(), ReflectOperator(), SkillOperator()]
    return {op.name: op for op in operators}


def needs_mutator(operator: Operator) -> bool:
    """Whether the operator asks the mutator model to write text (reflect, skill)."""
    return getattr(operator, "needs_mutator", False)
