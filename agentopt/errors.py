"""The errors a user can see. The CLI maps each to a one-line message and an exit code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a user's file, located precisely enough to jump to it."""

    file: str
    line: int  # 1-based; 0 when unknown
    column: int  # 1-based; 0 when unknown
    field: str  # dotted path, e.g. "criteria[2].check.pattern"
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class AgentoptError(Exception):
    """Base class: every error agentopt raises on purpose."""

    exit_code = 1


class ValidationError(AgentoptError):
    """A spec, rubric or option is wrong. Carries every problem found, one line each."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(AgentoptError):
    """A command-line option is wrong (not tied to a file)."""

    exit_code = 2


class InfraError(AgentoptError):
    """Something outside the agent failed: a model provider, an environment server, the disk."""

    exit_code = 3


class ProviderError(InfraError):
    """A model call failed after its retries."""


class EnvError(InfraError):
    """An environment server crashed, hung or broke the protocol."""
