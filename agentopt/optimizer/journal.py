"""The optimizer's journal: everything `agentopt run` decides, appended as it happens.

- `episodes.jsonl`: every played episode, tagged with its candidate, the hash of the
  candidate's spec, and the split (so an episode is reused only for the very same spec);
- `candidates.jsonl`: one line per candidate and decision (accepted, rejected, ...): an
  `agentopt.records.Decision`, with its schema version (lines without one are version 1);
- `candidates/<id>.yaml`: each candidate's spec, so any of them can be evaluated later.

An episode is reused for any candidate with the very same spec hash (a `sample` attempt, a
child equal to an earlier spec on some task): the same spec on the same task is never played
twice, whichever candidate asked first.

`--resume` reads both files back: a finished episode is never played again, and the
loop's state (pool of accepted candidates, best val score, budget spent) is rebuilt
from the decisions. Plain JSON lines, so `jq` and a text editor can read a run.

`--retry-errors` plays an infrastructure-error episode again: its new line is appended
after the old one and, for the same key, the later line wins when the file is read back.
The budget counts every line (both plays were paid for).
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from agentopt.episode_record import Episode
from agentopt.optimizer.artifacts import portable
from agentopt.records import Decision
from agentopt.scoring.result import EpisodeScore
from agentopt.spec.agent import AgentSpec
from agentopt.spec.load import agent_to_yaml
from agentopt.store.decisions import CANDIDATES, read_decisions
from agentopt.store.run import RunFolder, read_jsonl
from agentopt.trace import Trace

EPISODES = "episodes.jsonl"


def spec_hash(spec: AgentSpec) -> str:
    """Identifies a spec's content: the same spec always gives the same hash."""
    return hashlib.sha256(agent_to_yaml(portable(spec)).encode()).hexdigest()[:16]


class RunJournal(Protocol):
    """Where a run's episodes and decisions live, as the optimizer reads and appends them: the run
    folder's files (`Journal`, one process) or a SQL database shared by many workers
    (`agentopt.optimizer.shared.SqlRunStore`, `--storage URL`)."""

    episodes: dict[tuple[str, str, str, str], Episode]  # (candidate, spec hash, split, task) -> the latest play
    decisions: list[Decision]
    played: int  # episodes paid for (the rollout budget spent)
    cost: float

    def episode(self, candidate: str, spec: str, split: str, task_id: str) -> Episode | None: ...
    def add_episode(self, candidate: str, spec: str, split: str, episode: Episode) -> None: ...
    def add_decision(self, decision: Decision) -> None: ...
    def decision(self, candidate: str) -> Decision | None: ...
    def infra_errors(self) -> list[tuple[str, str, str, str]]: ...
    def forget(self, key: tuple[str, str, str, str]) -> None: ...


class EpisodeIndex:
    """What both journals (the run folder's files, `Journal`, and the database,
    `optimizer.shared.SqlRunStore`) keep in memory: the episodes by key, which of them are
    scored, the decisions, and what the played episodes cost."""

    def __init__(self) -> None:
        self.episodes: dict[tuple[str, str, str, str], Episode] = {}  # (candidate, spec hash, split, task) -> episode
        self._scored: dict[tuple[str, str, str], tuple[str, str, str, str]] = {}  # (spec hash, split, task) -> a scored episode's key
        self.decisions: list[Decision] = []
        self.played = 0  # episode lines, retried episodes included: what the budget paid for
        self.cost = 0.0

    def _keep(self, key: tuple[str, str, str, str], episode: Episode) -> None:
        """One played episode: indexed, and counted as played and paid for."""
        self.episodes[key] = episode
        if episode.score.error is None:
            self._scored.setdefault(key[1:], key)
        self.played += 1
        self.cost += episode.trace.cost_usd

    def episode(self, candidate: str, spec: str, split: str, task_id: str) -> Episode | None:
        """The candidate's episode on the task, else a scored one of the same spec played for
        another candidate (the same spec on the same task is not played twice)."""
        found = self.episodes.get((candidate, spec, split, task_id))
        if found is None and (other := self._scored.get((spec, split, task_id))) is not None:
            found = self.episodes.get(other)
        return found

    def infra_errors(self) -> list[tuple[str, str, str, str]]:
        """Keys of the episodes whose latest play ended in an infrastructure error."""
        return [key for key, episode in self.episodes.items() if episode.score.error is not None]

    def forget(self, key: tuple[str, str, str, str]) -> None:
        """Stop reusing an episode, so it is played again (its record stays)."""
        self.episodes.pop(key, None)
        if self._scored.get(key[1:]) == key:
            del self._scored[key[1:]]

    def decision(self, candidate: str) -> Decision | None:
        return next((d for d in self.decisions if d.id == candidate), None)


class Journal(EpisodeIndex):
    def __init__(self, run: RunFolder):
        super().__init__()
        self.run = run
        for record in read_jsonl(run.path / EPISODES):
            episode = Episode(Trace.from_dict(record["trace"]), EpisodeScore.from_dict(record["score"]))
            self._keep((record["candidate"], record["spec"], record["split"], episode.trace.task_id), episode)
        self.decisions = read_decisions(run.path / CANDIDATES)  # older schemas too

    def add_episode(self, candidate: str, spec: str, split: str, episode: Episode) -> None:
        self._keep((candidate, spec, split, episode.trace.task_id), episode)
        self.run.append_jsonl(EPISODES, {"candidate": candidate, "spec": spec, "split": split, **episode.to_record()})

    def add_decision(self, decision: Decision) -> None:
        self.decisions.append(decision)
        self.run.append_jsonl(CANDIDATES, decision.to_dict())
