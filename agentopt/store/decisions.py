"""A run folder's decisions (`candidates.jsonl`), read as typed records: the one reader the
journal, `--resume`, the curriculum, the reports and `agentopt export` share.

Each line is an `agentopt.records.Decision` of any schema up to the current one (a line without
"schema" is version 1, from before the field existed). A line a kill cut short is skipped, as
`read_jsonl` skips it (that decision was not finished); a complete line that is no decision is
refused in one line naming file:line: field."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from agentopt.errors import Problem, UsageError, ValidationError
from agentopt.records import Decision, DecisionError, Status

CANDIDATES = "candidates.jsonl"


def read_decisions(path: Path) -> list[Decision]:
    """The decisions of `path` (a run folder's candidates.jsonl) in the order they were taken;
    [] when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    decisions = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue  # cut short by a kill: that decision was never taken
            if not isinstance(data, dict):
                raise ValidationError(Problem(str(path), number, 0, "", f"a decision is a JSON object, not {type(data).__name__}"))
            try:
                decisions.append(Decision.from_dict(data))
            except DecisionError as exc:
                raise ValidationError(Problem(str(path), number, 0, exc.field, exc.message)) from None
            except UsageError as exc:  # a newer agentopt's schema
                raise UsageError(f"{path}:{number}: {exc}") from None
    return decisions


def status_counts(decisions: Iterable[Decision]) -> Counter[Status]:
    """How many decisions ended in each status (every member of `Status`, 0 when none did)."""
    counts = Counter({status: 0 for status in Status})
    counts.update(d.status for d in decisions)
    return counts


def proposed(counts: Counter[Status]) -> int:
    """The children that were played (screened at least): what `--max-candidates` counts."""
    return sum(n for status, n in counts.items() if status.played and status is not Status.BASELINE)


def summary_counts(decisions: Iterable[Decision]) -> dict[str, int]:
    """summary.json's "candidates" for a run from its decisions, in the optimizer's keys:
    proposed (children played), one count per outcome, `errors` for the operators' failures."""
    counts = status_counts(decisions)
    out = {"proposed": proposed(counts)}
    out.update({status.value: n for status, n in counts.items() if status not in (Status.BASELINE, Status.ERROR)})
    out["errors"] = counts[Status.ERROR]
    return out
