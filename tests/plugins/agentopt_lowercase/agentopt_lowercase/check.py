"""The `all_lowercase` check: the target text has no upper-case letter."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic.dataclasses import dataclass

from agentopt.scoring.base import Check, CheckContext, CheckResult
from agentopt.scoring.targets import TARGET_HELP, as_text, select_value, validate_target
from agentopt.spec.fields import CONFIG, Text
from agentopt.trace import Trace


@dataclass(frozen=True, config=CONFIG)
class AllLowercaseParams:
    target: Text = Field(default="answer", description=f"Where to look: {TARGET_HELP}.")


class AllLowercase(Check):
    name = "all_lowercase"
    summary = "The target text has no upper-case letter."
    params = AllLowercaseParams

    def validate(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        problem = validate_target(params.get("target", "answer"))
        return [("target", problem)] if problem else []

    async def score(self, trace: Trace, params: dict[str, Any], ctx: CheckContext) -> CheckResult:
        target = params.get("target", "answer")
        value = select_value(trace, target)
        if value is None:
            return CheckResult(0.0, f"There is no {target} to check.")
        text = as_text(value)
        capitals = [c for c in text if c.isupper()]
        if not capitals:
            return CheckResult(1.0, f"{target} is all lower case.")
        return CheckResult(0.0, f"{target} has {len(capitals)} upper-case letter(s), e.g. {capitals[0]!r}.")
