"""The errors a user can see. The CLI maps each to a one-line message and an exit code."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Characters that would break a problem's one line (newlines, other controls, line separators)
# or could not be printed at all (lone surrogates): shown escaped, as Python writes them.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def one_line(text: str) -> str:
    """`text` with every line break and control character escaped (`\\n`, `\\x07`, ...)."""
    return _UNPRINTABLE.sub(lambda match: repr(match.group())[1:-1], text)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a user's file, located precisely enough to jump to it."""

    file: str
    line: int  # 1-based; 0 when unknown
    column: int  # 1-based; 0 when unknown
    field: str  # dotted path, e.g. "criteria[2].check.pattern"
    message: str

    def __str__(self) -> str:
        """`file:line:col: field: message`, always one line: a field or value may hold a newline."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        where += f":{self.column}" if self.line and self.column else ""
        text = f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        return one_line(text)


class AgentoptError(Exception):
    """Base class: every error agentopt raises on purpose."""

    exit_code = 1
    reported_as_json = False  # a command already printed it in its --json document: the CLI prints no second one


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


class TemplateLimitError(AgentoptError):
    """A template (a system prompt, a check's value) ran past a limit: too slow, or too much
    output. The message is one line; the episode or the score it was for is an error."""
