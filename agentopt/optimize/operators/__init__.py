"""Proposal operators, one file each. `all_operators()` returns them by name."""

from __future__ import annotations

from agentopt.optimize.types import Operator


def all_operators() -> dict[str, Operator]:
    from agentopt.optimize.operators.choices import ChoicesOperator
    from agentopt.optimize.operators.fewshot import FewShotOperator
    from agentopt.optimize.operators.merge import MergeOperator
    from agentopt.optimize.operators.reflect import ReflectOperator
    from agentopt.optimize.operators.rules import RulesOperator
    from agentopt.optimize.operators.skill import SkillOperator

    operators = [FewShotOperator(), ChoicesOperator(), RulesOperator(), ReflectOperator(), SkillOperator(), MergeOperator()]
    return {op.name: op for op in operators}
