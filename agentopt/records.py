"""Typed values the optimizer's journal and the reports share: what a candidate changed
(`Component`), what became of it (`Status`), and the decision record the journal keeps
(`Decision`, with a schema version)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

# The spec parts `optimize.components` lets the optimizer rewrite, and the component kinds in each.
_EDITS = {"system_prompt": "system_prompt", "skill": "skills", "tool": "tools", "examples": "examples"}
_NAMED = ("skill", "tool")  # kinds that name one skill or tool: "skill:NAME"
_KIND = re.compile(r"[a-z][a-z0-9_]*")


class Component(str):
    """What a proposal changed: `system_prompt`, `skill:NAME`, `tool:NAME`, `examples`, or a
    whole-spec change an operator names itself (`choices`, `merge`).

    A `str` (the journal and JSON keep it as text, and it compares equal to its text), parsed
    once: `.kind`, `.name`, `.edits`. `Component("skill:refunds").name == "refunds"`."""

    __slots__ = ()

    def __new__(cls, text: str) -> Component:
        if isinstance(text, Component):
            return text
        kind, sep, name = str(text).partition(":")
        if not _KIND.fullmatch(kind):
            raise ValueError(f"component {text!r}: its kind must be lower-case letters, digits and _ (e.g. skill:NAME, system_prompt)")
        if kind in _NAMED and not name:
            raise ValueError(f"component {text!r}: a {kind} component names the {kind} ({kind}:NAME)")
        if sep and kind not in _NAMED:
            raise ValueError(f"component {text!r}: only {' and '.join(_NAMED)} components carry a name")
        return super().__new__(cls, text)

    @classmethod
    def parse(cls, text: str) -> Component:
        """The component `text` names; ValueError (one line) when it names none."""
        return cls(text)

    @classmethod
    def skill(cls, name: str) -> Component:
        return cls(f"skill:{name}")

    @classmethod
    def tool(cls, name: str) -> Component:
        return cls(f"tool:{name}")

    @property
    def kind(self) -> str:
        return self.partition(":")[0]

    @property
    def name(self) -> str | None:
        """The skill's or tool's name; None for the other kinds."""
        return self.partition(":")[2] or None

    def named(self, kind: str) -> str | None:
        """The name when this is a `kind` component (`skill`, `tool`), else None:
        `Component("tool:search").named("tool") == "search"`."""
        return self.name if self.kind == kind else None

    @property
    def edits(self) -> str | None:
        """The `optimize.components` entry this change belongs to (`skills` for `skill:NAME`);
        None for a whole-spec change (`choices`, `merge`)."""
        return _EDITS.get(self.kind)


class Status(StrEnum):
    """What became of a candidate (one decision of the journal). A `str`: JSON keeps its value."""

    BASELINE = "baseline"  # the starting spec: the bar on val
    ACCEPTED = "accepted"  # beat the best val score: joins the pool
    REJECTED = "rejected"  # passed the screen, not better on val
    SCREENED_OUT = "screened_out"  # not better than its parent on the train minibatch
    INVALID = "invalid"  # the operator had nothing to propose
    DUPLICATE = "duplicate"  # the same spec as an earlier candidate: not played again
    ERROR = "error"  # the operator failed (e.g. the mutator's provider)
    SKIPPED = "skipped"  # the parent is perfect on the minibatch: nothing to learn from

    @property
    def played(self) -> bool:
        """Its spec was played (the baseline, and every child that was screened at least)."""
        return self in PLAYED

    @property
    def idle(self) -> bool:
        """The iteration produced nothing to evaluate."""
        return self in IDLE


PLAYED = frozenset({Status.BASELINE, Status.SCREENED_OUT, Status.REJECTED, Status.ACCEPTED})
IDLE = frozenset({Status.INVALID, Status.DUPLICATE, Status.ERROR, Status.SKIPPED})
POOL = frozenset({Status.BASELINE, Status.ACCEPTED})  # the candidates the pool holds: parents, and the winner among them


# --- a decision: one line of the journal's candidates.jsonl ------------------------------------

DECISION_SCHEMA = 2  # 1: the lines written before the field existed (the same keys, no "schema")


@dataclass(frozen=True)
class Decision:
    """What the optimizer decided about one candidate (iteration), as the journal keeps it.

    `train`: the child's and its parent's mean on the minibatch ({"mean", "parent_mean", "n"}),
    `val`: its val summary ({"mean", "n", "errors"}); `trial`/`objective`: the Optuna trial
    and the value told, so a resume can close a trial the kill left open."""

    id: str
    status: Status
    operator: str = ""
    reason: str = ""
    parent: str | None = None
    component: Component | None = None
    note: str = ""
    trial: int | None = None
    objective: float | None = None
    train: dict[str, Any] | None = None
    val: dict[str, Any] | None = None
    rollouts: int = 0  # the budget spent when it was decided
    cost_usd: float = 0.0
    elapsed_s: float = 0.0
    duplicate_of: str | None = None  # status duplicate: the candidate with the same spec
    schema: int = DECISION_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        """The JSON line: plain strings for the status and the component; `duplicate_of` only when set."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["status"] = self.status.value
        data["component"] = str(self.component) if self.component is not None else None
        if self.duplicate_of is None:
            del data["duplicate_of"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        """A journal line of any schema up to this one (a line without "schema" is version 1)."""
        schema = data.get("schema", 1)
        if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
            raise DecisionError("schema", f"{schema!r} is not a schema version (1 to {DECISION_SCHEMA})")
        if schema > DECISION_SCHEMA:
            from agentopt.errors import UsageError

            raise UsageError(f"a decision of schema {schema} was written by a newer agentopt (this one reads up to {DECISION_SCHEMA}): upgrade agentopt")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if not isinstance(values.get("id"), str) or not values["id"]:
            raise DecisionError("id", "a decision names its candidate (a non-empty string)")
        status = values.get("status")
        if not isinstance(status, str) or status not in Status.__members__.values():
            said = "missing" if status is None else f"{status!r} is not a status"
            raise DecisionError("status", f"{said} (one of {', '.join(Status)})")
        values["status"] = Status(status)
        component = values.get("component")
        try:
            values["component"] = Component(component) if component else None
        except (TypeError, ValueError) as exc:
            raise DecisionError("component", str(exc)) from None
        values["schema"] = DECISION_SCHEMA  # read once, it is a current record
        return cls(**values)


class DecisionError(ValueError):
    """A journal line that is no decision: which field is wrong and why (the reader adds file:line)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message
