"""The interface every rubric check implements, and the registry that names them.

A check is a small class registered under the name a rubric uses in `check.type`.
Its `params` (a typed model of the check's own fields: a frozen pydantic dataclass) validates
rubric files and generates the `agentopt schema rubric` output; `validate` adds the checks a
model cannot express (a regex that does not compile, a Jinja2 template that does not
parse). `score` turns a trace into a score in [0, 1] with a one-sentence feedback that
says why: the optimizer feeds these sentences to its mutation step. A check with nothing to
score in an episode returns `CheckResult.not_applicable(feedback)` instead of a 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from agentopt.errors import AgentoptError
from agentopt.models.types import ChatModel
from agentopt.registry import Registry, missing_attributes
from agentopt.spec import check_formats
from agentopt.trace import Trace


class CheckError(AgentoptError):
    """A check could not score a trace (a template failed, a regex ran out of time).

    The episode's score becomes an error naming the criterion; the run goes on."""


@dataclass(frozen=True)
class CheckResult:
    score: float | None  # in [0, 1]; None: the check does not apply to this episode
    feedback: str  # one short sentence saying why
    details: dict[str, Any] = field(default_factory=dict)  # e.g. the judge's reasoning

    @classmethod
    def not_applicable(cls, feedback: str, **details: Any) -> CheckResult:
        """The check has nothing to score in this episode (e.g. the environment gave no reward).
        The criterion is left out of the episode's weighted mean, never counted as a 0."""
        return cls(None, feedback, details)

    @property
    def applicable(self) -> bool:
        return self.score is not None


@dataclass(frozen=True)
class CheckContext:
    """What a check may use beyond the trace."""

    judge: ChatModel | None = None  # the model client, for llm_judge
    judge_model: str = "local"  # the rubric's default judge model


class Check(Protocol):
    """A check type: the scoring extension point (registry: `CHECKS`, entry-point group
    `agentopt.checks`). Subclass it for the defaults of `validate`, `warnings` and
    `default_pass_at`; docs/extending.md adds one, and `agentopt.testing.checks.CheckConformance`
    is the suite every registered check passes."""

    name: ClassVar[str]
    summary: ClassVar[str]  # one line, shown in docs and the JSON Schema
    params: ClassVar[type]  # the check's own fields (minus `type`): a frozen pydantic dataclass (agentopt.spec.fields)
    default_pass_at: ClassVar[float] = 1.0

    @property
    def params_schema(self) -> dict[str, Any]:
        """The JSON Schema of the check's fields (minus `type`), generated from `params`."""
        return check_formats.params_schema(self.params)

    def validate(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        """Problems the schema cannot see, as (field, message) pairs. Default: none."""
        return []

    def warnings(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        """Risks worth a warning that do not make the check wrong, as (field, message) pairs."""
        return []

    async def score(self, trace: Trace, params: dict[str, Any], ctx: CheckContext) -> CheckResult:
        raise NotImplementedError


def check_problem(check: object) -> str | None:
    """Why `check` does not implement `Check` (one phrase), or None when it does."""
    problem = missing_attributes(check, {"name": str, "summary": str, "params": type, "default_pass_at": (int, float)},
                                 ("validate", "warnings", "score"))
    if problem is None and not check.name:  # type: ignore[attr-defined]
        return "its `name` is empty"
    return problem


_DECLARED: list[Check] = []  # the built-ins, as their modules declare them with @register


def _builtins() -> list[Check]:
    # Declared by then: agentopt/scoring/__init__.py imports the modules, whose @register run first.
    return list(_DECLARED)


CHECKS: Registry[Check] = Registry("agentopt.checks", "check", _builtins, check_problem)


def register(cls: type[Check]) -> type[Check]:
    """Class decorator: make a check available to rubrics under `cls.name` (agentopt's own
    checks; a package declares its checks as entry points instead, docs/extending.md)."""
    if CHECKS.loaded:
        CHECKS.add(cls(), origin=f"{cls.__module__}.{cls.__qualname__}")
    else:
        _DECLARED.append(cls())
    return cls


def get_check(name: str) -> Check:
    return CHECKS.get(name)


def all_checks() -> dict[str, Check]:
    return CHECKS.all()


# The rubric format (spec layer, beneath this one) validates each check's fields through the registry.
check_formats.provide(lambda: all_checks())
