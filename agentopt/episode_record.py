"""An episode once played and scored: its trace beside its score.

The evaluator makes them, and the optimizer's operators, prompts and journal read them; it
lives here, below both, so that no optimizer module imports the orchestrator for a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentopt.scoring.result import EpisodeScore
from agentopt.trace import Trace


@dataclass(frozen=True)
class Episode:
    """One played and scored episode."""

    trace: Trace
    score: EpisodeScore

    def to_record(self) -> dict[str, Any]:
        return {"trace": self.trace.to_dict(), "score": self.score.to_dict()}
