"""What a run's decisions add up to: the candidates, the pool of accepted ones, their val scores, the counts.

`RunState` is never saved: it is rebuilt from the journal (`RunState.from_journal`) when a run
starts or resumes, and when a worker of a shared run reads the others' decisions. While the run
goes on, each new decision goes through the same `RunState.apply` the rebuild uses, so a
resumed run and an unbroken one reach the same state by the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from agentopt.episode_record import Episode
from agentopt.optimizer.journal import RunJournal, spec_hash
from agentopt.optimizer.types import Candidate
from agentopt.records import PLAYED, POOL, Decision
from agentopt.spec.agent import AgentSpec
from agentopt.store.decisions import summary_counts

BASELINE_ID = "c0"


def scores_by_task(episodes: Iterable[Episode]) -> dict[str, float]:
    """{task: score} of the scored episodes (an episode that ended in an error has no score)."""
    return {e.trace.task_id: e.score.score for e in episodes if e.score.error is None}


def mean_score(scores: Mapping[str, float] | None) -> float | None:
    return sum(scores.values()) / len(scores) if scores else None


@dataclass
class RunState:
    baseline: Candidate
    candidates: dict[str, Candidate] = field(default_factory=dict)  # every candidate with a spec, by id
    pool: list[str] = field(default_factory=list)  # the accepted candidates, the baseline first
    val_scores: dict[str, dict[str, float]] = field(default_factory=dict)  # pool member -> {val task: score}
    decisions: list[Decision] = field(default_factory=list)  # applied so far, in order
    _hashes: dict[str, str] = field(default_factory=dict, init=False, repr=False)  # candidate id -> spec hash

    def __post_init__(self) -> None:
        self.candidates.setdefault(self.baseline.id, self.baseline)

    @classmethod
    def from_journal(cls, baseline: Candidate, journal: RunJournal, val: Iterable[str],
                     load_spec: Callable[[str], AgentSpec | None]) -> RunState:
        """The state the journal's decisions lead to. `val`: the run's val task ids (a pool
        member's val scores are its journaled episodes on them); `load_spec`: a candidate's
        saved spec by id, None when it has none (a child cut off before its spec was written)."""
        state = cls(baseline)
        val = list(val)
        for decision in journal.decisions:
            cid = decision.id
            if cid != baseline.id and decision.status in PLAYED and (spec := load_spec(cid)) is not None:
                state.candidates[cid] = Candidate(cid, spec, decision.parent, decision.operator, decision.component, decision.note)
            scores = None
            if decision.status in POOL and cid in state.candidates:
                key = state.spec_hash(cid)
                scores = scores_by_task(e for t in val if (e := journal.episode(cid, key, "val", t)) is not None)
            state.apply(decision, scores)
        return state

    def apply(self, decision: Decision, val_scores: Mapping[str, float] | None = None) -> None:
        """One decision's effect: kept (so counted), and a baseline or an accepted child (with its
        `val_scores`) joins the pool."""
        self.decisions.append(decision)
        if decision.status in POOL and decision.id not in self.pool and val_scores is not None:
            self.pool.append(decision.id)
            self.val_scores[decision.id] = dict(val_scores)

    @property
    def counts(self) -> dict[str, int]:
        """summary.json's "candidates": proposed (children played), one count per outcome."""
        return summary_counts(self.decisions)

    def best(self) -> str | None:
        """The pool member with the best mean val score (the earlier one on a tie)."""
        if not self.pool:
            return None
        return max(self.pool, key=lambda cid: (mean_score(self.val_scores[cid]) or 0.0, -self.pool.index(cid)))

    def best_mean(self) -> float | None:
        best = self.best()
        return mean_score(self.val_scores[best]) if best else None

    def spec_hash(self, cid: str) -> str:
        if cid not in self._hashes:
            self._hashes[cid] = spec_hash(self.candidates[cid].spec)
        return self._hashes[cid]

    def played_with(self, key: str) -> str | None:
        """The id of a candidate already played (screened at least) whose spec hash is `key`."""
        for decision in self.decisions:
            if decision.status in PLAYED and decision.id in self.candidates and self.spec_hash(decision.id) == key:
                return decision.id
        return None

    def keep_known(self, other: RunState) -> None:
        """Keep `other`'s candidates this state does not know (a child still being decided)."""
        for cid, candidate in other.candidates.items():
            self.candidates.setdefault(cid, candidate)
