"""What the optimizer benchmarks read from a finished run folder: how many distinct candidates
were screened, the decisions by status, and the best val score after each acceptance.

The decisions are read with the reports' own reader (`agentopt.store.decisions.read_decisions`),
so a run written by an older agentopt (`--code` an older checkout) reads the same way."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agentopt.records import POOL, Status  # noqa: E402
from agentopt.store.decisions import read_decisions, summary_counts  # noqa: E402

SCREENED = (Status.SCREENED_OUT, Status.REJECTED, Status.ACCEPTED)


def search_stats(run: Path) -> dict[str, Any]:
    """{"distinct_screened", "counts", "curve": [(best val, rollouts spent when reached)]}."""
    decisions = read_decisions(run / "candidates.jsonl")
    specs = {run / "candidates" / d.id / "agent.yaml" for d in decisions if d.status in SCREENED}
    distinct = {path.read_text() for path in specs if path.exists()}
    best, curve = None, []
    for d in decisions:
        mean = (d.val or {}).get("mean")
        if d.status in POOL and mean is not None and (best is None or mean > best):
            best = mean
            curve.append((best, d.rollouts))
    return {"distinct_screened": len(distinct), "counts": summary_counts(decisions), "curve": curve}
