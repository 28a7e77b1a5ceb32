"""What the run report takes from episodes.jsonl, in one pass over it: each candidate's mean
tokens and cost per val episode (the quality/cost plot) and the baseline's and the winner's
episodes on the report's split (their trace sections)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Spend:
    """A candidate's val episodes: how many, and their tokens and cost in all."""

    episodes: int = 0
    tokens: int = 0
    cost_usd: float = 0.0

    @property
    def tokens_per_episode(self) -> float:
        return self.tokens / self.episodes if self.episodes else 0.0

    @property
    def cost_per_episode(self) -> float:
        return self.cost_usd / self.episodes if self.episodes else 0.0


@dataclass
class RunEpisodes:
    spend: dict[str, Spend] = field(default_factory=dict)  # candidate id -> its val episodes' spend
    shown: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # candidate id -> its records on the report split


def collect(records: Iterable[dict[str, Any]], shown_ids: Iterable[str], split: str) -> RunEpisodes:
    """One pass over episodes.jsonl records; an episode played twice (a resumed run) counts once."""
    out = RunEpisodes(shown={cid: [] for cid in shown_ids})
    seen: set[tuple[str, str, str]] = set()
    for record in records:
        trace, cid = record.get("trace") or {}, str(record.get("candidate") or "")
        key = (cid, str(record.get("split")), str(trace.get("episode_id") or id(record)))
        if key in seen:
            continue
        seen.add(key)
        if record.get("split") == "val" and not (record.get("score") or {}).get("error"):
            spend = out.spend.setdefault(cid, Spend())
            spend.episodes += 1
            spend.tokens += int(trace.get("prompt_tokens") or 0) + int(trace.get("completion_tokens") or 0)
            spend.cost_usd += float(trace.get("cost_usd") or 0.0)
        if record.get("split") == split and cid in out.shown:
            out.shown[cid].append(record)
    return out
