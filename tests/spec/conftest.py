"""Fixtures for the spec tests: a registry of test checks, and the built-in one."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import Field
from pydantic.dataclasses import dataclass

from agentopt.scoring import base
from agentopt.spec.fields import CONFIG, PositiveInt, Text


@dataclass(frozen=True, config=CONFIG)
class MatchParams:
    pattern: Text = Field(description="A regex.")
    times: PositiveInt | None = Field(default=None, description="How often.")


@dataclass(frozen=True, config=CONFIG)
class ReplyParams:
    pass


class MatchCheck(base.Check):
    """A test check with a required field, an optional one and a rule the schema cannot express."""

    name = "t_match"
    summary = "The answer matches a regex."
    default_pass_at = 0.5
    params = MatchParams

    def validate(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        try:
            re.compile(params["pattern"])
        except re.error as err:
            return [("pattern", f"regex does not compile: {err}")]
        return [("", "whole check is odd")] if params["pattern"] == "odd" else []


class ReplyCheck(base.Check):
    name = "t_reply"
    summary = "The agent replied."
    params = ReplyParams


@pytest.fixture
def fake_checks(monkeypatch: pytest.MonkeyPatch) -> dict[str, base.Check]:
    """Only the test checks are registered while the test runs."""
    checks = {"t_match": MatchCheck(), "t_reply": ReplyCheck()}
    monkeypatch.setattr(base, "all_checks", lambda: dict(checks))
    return checks


@pytest.fixture
def builtin_checks() -> dict[str, base.Check]:
    return base.all_checks()
