"""The CI gate: is this evaluation good enough to merge?

Fails when the mean score is below `--min-score`, or when it dropped more than
`--max-drop` below a baseline summary.json from an earlier run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentopt.errors import UsageError


def load_baseline_mean(path: Path) -> float:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        mean = data["summary"]["mean"]
    except FileNotFoundError:
        raise UsageError(f"--baseline: file not found: {path}") from None
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"--baseline: {path} is not an agentopt summary.json (no summary.mean)") from None
    if mean is None:
        raise UsageError(f"--baseline: {path} has no score (every episode failed)")
    return float(mean)


def check_gate(mean: float | None, min_score: float | None, baseline: Path | None, max_drop: float) -> dict[str, Any] | None:
    """None when no gate was asked for; else {passed, reasons}."""
    if min_score is None and baseline is None:
        return None
    reasons, passed = [], True
    if mean is None:
        return {"passed": False, "reasons": ["no episode was scored"]}
    if min_score is not None:
        ok = mean >= min_score
        passed &= ok
        reasons.append(f"score {mean:.3f} {'>=' if ok else '<'} --min-score {min_score:.3f}")
    if baseline is not None:
        base = load_baseline_mean(baseline)
        drop = base - mean
        ok = drop <= max_drop
        passed &= ok
        reasons.append(f"baseline {base:.3f} -> {mean:.3f} (change {mean - base:+.3f}; allowed drop {max_drop:.3f})")
    return {"passed": passed, "reasons": reasons}
