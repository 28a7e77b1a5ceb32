"""One optimization, many workers: the loop of `loop.Optimizer` over a SQL store (`shared.SqlRunStore`).

Each worker (the `agentopt run --storage URL` that started the run, and every
`agentopt worker RUN --storage URL`, on any machine) repeats: read the run's state from the
database (decisions, pool of accepted candidates, rollouts spent), claim an iteration, play it
(parent on a minibatch, Optuna's ask, the operator's child, screen, val), and record its decision
in the transaction that ends the claim. What differs from one process:

- the baseline is claimed (iteration 0): one worker plays it, the others wait for its decision;
- a child is owned by its spec hash: a worker whose operator proposes a spec another candidate
  already owns records a duplicate and plays nothing;
- an acceptance reads the global pool inside a transaction holding the run's row, so a child
  must beat the best accepted by any worker (strict stays strict);
- a claim whose worker stopped beating is taken over: the new holder picks the same parent and
  minibatch and plays the same child when it was proposed; every finished episode is reused;
- the final test is claimed too (iteration -1): one worker plays it and stores the summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from agentopt.episode import TaskRef
from agentopt.episode_record import Episode
from agentopt.optimizer.artifacts import load_candidate_spec, save_spec
from agentopt.optimizer.journal import spec_hash
from agentopt.optimizer.loop import Optimizer, study_name
from agentopt.optimizer.shared import FINISH_ITERATION, Claim, ClaimLost, SqlRunStore, Wait, claim_ttl
from agentopt.optimizer.study import Ask, OperatorStudy
from agentopt.optimizer.types import Candidate, Proposal
from agentopt.records import PLAYED

POLL_S = 0.5  # how often a waiting worker looks again


@dataclass(frozen=True)
class _Trial:
    """The trial of an Optuna ask a taken-over iteration made before its worker died: told when decided."""

    number: int


class SharedOptimizer(Optimizer):
    def __init__(self, *args: Any, store: SqlRunStore, **kwargs: Any):
        self.store = store
        self._val_tasks: list[TaskRef] = []
        self.claim: Claim | None = None
        self.finisher = False
        super().__init__(*args, **kwargs)

    def close(self) -> None:
        """The heartbeat stopped and joined, the database connections closed (the study's too)."""
        self.store.close()
        if self._study is not None:
            self._study.close()

    # --- the store as the journal ---
    def _open_journal(self) -> SqlRunStore:
        self.store.refresh()
        return self.store

    def _write_doc(self, name: str, data: Any) -> None:
        if name == "splits.json":
            known = self.store.doc(name)
            if known is not None and known != json.loads(json.dumps(data)):
                from agentopt.errors import UsageError

                raise UsageError(f"this worker's environment lists other tasks than run {self.run_id}'s: give every worker the same --env and tasks")
        self.run.write_json(name, data)
        self.store.put_doc(name, data)

    def journal_exclusive(self) -> Any:
        return self.store.exclusive()

    def _sync(self) -> None:
        """Before an acceptance (inside the run's lock): every worker's decisions; this iteration's child stays known."""
        known = self.state
        self._rebuild()
        self.state.keep_known(known)

    def _rebuild(self) -> None:
        """The state (pool, candidates, counts) and the budget spent, from every worker's decisions."""
        self.store.refresh()
        for record in self.store.decisions:
            folder = self.run.path / "candidates" / record.id
            if record.status in PLAYED and not (folder / "agent.yaml").exists():
                self.store.materialize(record.id, folder)
        self.state = self._rebuilt_state(self._val_tasks)
        self.tracker = self._tracker()

    def _open_study(self) -> OperatorStudy:
        """Shared with live workers: their running trials are theirs to tell."""
        return OperatorStudy(self.config.storage or self.store.url, study_name(self.run_id), self.config.seed, None, first=self._first_trials())

    async def evaluate(self, candidate: Candidate, tasks: list[TaskRef], split: str) -> list[Episode]:
        """A candidate other than this iteration's own child (a parent on its minibatch, the winner
        on test) may be wanted by several workers at once: each episode is played by the first to
        claim it, and the others wait for its result (or play it after a claim TTL, its player dead)."""
        own = self.claim is not None and candidate.id in (f"c{self.claim.iteration}", f"c{self.claim.iteration}~sample")
        key = spec_hash(candidate.spec)
        todo = [t for t in tasks if self.journal.episode(candidate.id, key, split, t.task_id) is None]
        if own or not todo:
            return await super().evaluate(candidate, tasks, split)
        mine = set(self.store.claim_plays(candidate.id, key, split, [t.task_id for t in todo]))
        await super().evaluate(candidate, [t for t in tasks if t.task_id not in {x.task_id for x in todo} - mine], split)
        deadline = asyncio.get_running_loop().time() + 2 * claim_ttl()
        while True:
            self.store.refresh()
            missing = [t for t in todo if t.task_id not in mine and self.journal.episode(candidate.id, key, split, t.task_id) is None]
            if not missing:
                break
            if asyncio.get_running_loop().time() > deadline:  # its player died: play it here
                await super().evaluate(candidate, missing, split)
                break
            self.display.step(f"waiting for another worker's {len(missing)} episode(s) of {candidate.id}")
            await asyncio.sleep(POLL_S)
        return self._recorded(candidate.id, key, split, tasks)

    # --- the baseline, claimed ---
    async def _baseline(self, val: list[TaskRef]) -> None:
        self._val_tasks = val
        while True:
            self._rebuild()
            if self.store.decision("c0") is not None:
                return
            got = self.store.claim(0, 0, None, None, search=False, baseline_reserve=self.plan.baseline)
            if isinstance(got, Claim) and got.iteration == 0:
                self.claim = got
                self.store.claim_spec(spec_hash(self.baseline.spec), "c0")
                self.store.put_folder("c0", self._c0_folder())
                await super()._baseline(val)
                continue
            if isinstance(got, Claim):  # cannot happen before the baseline is decided; give it back to the expiry
                self.store.stop_heartbeat()
            self.display.step(f"waiting: {got.reason if isinstance(got, Wait) else got}")
            await asyncio.sleep(POLL_S)

    def _c0_folder(self) -> Any:
        folder = self.run.path / "candidates" / "c0"
        if not (folder / "agent.yaml").exists():
            save_spec(self.baseline.spec, folder)
        return folder

    # --- the search, claimed iteration by iteration ---
    async def _search(self, train: list[TaskRef], val: list[TaskRef]) -> str:
        self._splits = (train, val)
        if not train:
            return "no train tasks: nothing to learn from"
        batch = min(self.config.minibatch, len(train))
        # The most one iteration may play: the screen (widened when tied), val, the parent's extra train
        # episodes an operator reads, and sample's attempts (one screen's worth).
        reads = max((int(getattr(op, "train_tasks", 0) or 0) for op in self.operators.values()), default=0)
        reserve = (2 * batch + 2 * self.plan.widen + len(val) + min(reads, len(train))
                   + (2 * batch if "sample" in self.operators else 0))
        budget = self.config.budget
        while True:
            self._rebuild()
            stop = self.tracker.exhausted() or self._converged()
            got = self.store.claim(reserve, self.test_reserve, budget.max_rollouts, budget.max_candidates, search=stop is None,
                                   baseline_reserve=self.plan.baseline)
            if isinstance(got, Claim):
                self.claim = got
                if got.takeover:
                    self.display.note(f"c{got.iteration}: taken over from a worker that stopped beating")
                try:
                    await self._iteration(got.iteration, train, val, batch)
                except ClaimLost as lost:
                    self.display.warn(str(lost))
                finally:
                    self.store.stop_heartbeat()
                continue
            if isinstance(got, Wait):
                self.display.step(f"waiting: {got.reason}")
                await asyncio.sleep(POLL_S)
                continue
            return stop or got

    def _select_parent(self, iteration: int, rng: Any) -> str:
        chosen = super()._select_parent(iteration, rng)  # draws from rng as an unbroken iteration would
        noted = (self.claim.proposal or {}).get("parent") if self.claim and self.claim.iteration == iteration else None
        return noted if noted in self.state.candidates else chosen

    def _note(self, iteration: int, proposal: dict[str, Any]) -> None:
        self.store.note_proposal(iteration, proposal)

    def _resumed_proposal(self, iteration: int, parent: Candidate) -> tuple[Any, Any] | None:
        noted = self.claim.proposal if self.claim and self.claim.iteration == iteration and self.claim.takeover else None
        if not noted or noted.get("trial") is None:
            return None
        folder = self.run.path / "candidates" / f"c{iteration}"
        if noted.get("spec") and self.store.materialize(f"c{iteration}", folder):
            spec = load_candidate_spec(folder)
            if spec_hash(spec) == noted["spec"]:
                ask = Ask(_Trial(noted["trial"]), noted["operator"], noted.get("params") or {})
                return ask, Proposal(spec=spec, component=str(noted.get("component") or ""), note=str(noted.get("note", "")))
        with contextlib.suppress(Exception):  # the dead worker's trial, not finished: failed (it proposed nothing kept)
            self.study.tell(Ask(_Trial(noted["trial"]), noted.get("operator", ""), {}), None)
        return None

    def _duplicate_of(self, cid: str, key: str) -> str | None:
        return self.store.claim_spec(key, cid) or super()._duplicate_of(cid, key)

    def _save_candidate(self, cid: str, spec: Any) -> None:
        folder = self.run.path / "candidates" / cid
        save_spec(spec, folder)
        self.store.put_folder(cid, folder)

    def _room(self, reserve: int) -> int | None:
        """Within this iteration's reservation (what the final test needs is outside it)."""
        if self.config.budget.max_rollouts is None or self.claim is None or self.claim.iteration <= 0:
            return super()._room(reserve)
        return max(0, self.claim.reserved - self.store.played_in(self.claim.iteration) - max(0, reserve - self.test_reserve))

    def sample_room(self, wanted: int, reserve: int) -> int:
        """Within this iteration's reservation: what it played so far and the child's screen and val stay covered."""
        if self.config.budget.max_rollouts is None or self.claim is None:
            return wanted
        played = self.store.played_in(self.claim.iteration)
        return max(0, min(wanted, self.claim.reserved - played - (reserve - self.test_reserve)))

    # --- the final test, claimed ---
    async def _finish(self, val: list[TaskRef], test: list[TaskRef]) -> Any:
        while True:
            got = self.store.claim_finish()
            if got is None:
                self._rebuild()
                return None  # another worker finished the run: its summary is in the database
            if got:
                self.finisher = True
                self._rebuild()
                self.store.iteration = FINISH_ITERATION
                return await super()._finish(val, test)
            train, val_tasks = self._splits
            await self._search(train, val_tasks)  # iterations still running (or a dead one to take over)
            await asyncio.sleep(POLL_S)
