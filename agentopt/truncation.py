"""Replies cut at `model_params.max_tokens`: counted over a run's episodes and said in one line.

A turn the provider stops at max_tokens (finish_reason "length") is counted in the trace
(`Trace.truncated_turns`). A structured reply cut mid-way is no valid action, so without this
count the user sees only low scores; the line names the fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agentopt.trace import Trace


def truncation(traces: Iterable[Trace | dict[str, Any]], max_tokens: int) -> dict[str, Any]:
    """{"turns", "truncated", "episodes", "max_tokens"}: model turns, those cut short, the episodes with one."""
    turns = truncated = episodes = 0
    for trace in traces:
        get = trace.get if isinstance(trace, dict) else lambda name, default=0, t=trace: getattr(t, name, default)
        turns += int(get("turns", 0) or 0)
        cut = int(get("truncated_turns", 0) or 0)
        truncated += cut
        episodes += cut > 0
    return {"turns": turns, "truncated": truncated, "episodes": episodes, "max_tokens": max_tokens}


def truncation_line(info: dict[str, Any] | None) -> str:
    """'59% of turns hit max_tokens=160 (...); raise model_params.max_tokens', or '' when none did."""
    if not info or not info.get("truncated") or not info.get("turns"):
        return ""
    share = 100 * info["truncated"] / info["turns"]
    pct = f"{share:.0f}%" if share >= 1 else "under 1%"
    return (f"{pct} of turns hit max_tokens={info['max_tokens']} ({info['truncated']} of {info['turns']} model turns "
            f"cut short, in {info['episodes']} episode(s)); raise model_params.max_tokens")
