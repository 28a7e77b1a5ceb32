"""The run: baseline, then propose -> screen on train -> accept on val, until a budget is spent.

1. The baseline (candidate c0) is evaluated on val. On train it is played lazily: only on
   the tasks a screen (as a parent) or an operator (`train_tasks`) needs.
2. Each iteration picks a parent from the Pareto front of accepted candidates (per-task
   val bests), samples a train minibatch, lets Optuna choose an operator and its
   settings, and asks the operator for a child.
3. The child is screened on the same minibatch: not better than its parent there, it is
   dropped. A screen tied on every task is decided by the rubric's partial scores (the
   criteria's weighted mean before gates) or, tied there too at all 0 or all 1, widened
   (up to `Plan.widen` more tasks: one minibatch) while the budget spares it. A child that wins its screen
   is evaluated on val and accepted only when it strictly beats the best accepted val score
   (by `min_delta`, optionally with a paired bootstrap).
4. At the end the winner (and the baseline) are evaluated once on test, never used for a
   decision.

Every episode and decision goes to the journal as it happens; iteration i's randomness is
seeded by (seed, i), so `--resume` rebuilds the state and carries on where a kill stopped
it, with no finished episode played again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from agentopt.envs.overlap import held_out_overlap, overlap_warning
from agentopt.envs.session import EnvTarget
from agentopt.envs.tasks import TaskRef
from agentopt.episode_record import Episode
from agentopt.errors import AgentoptError, InfraError, UsageError
from agentopt.evaluation import EvalConfig, Evaluator
from agentopt.models.types import ChatModel
from agentopt.optimizer import curriculum
from agentopt.optimizer.accept import decide
from agentopt.optimizer.account import nothing_to_learn
from agentopt.optimizer.artifacts import load_candidate_spec, save_spec
from agentopt.optimizer.budget import Budget, BudgetTracker, Plan
from agentopt.optimizer.frontier import select_parent
from agentopt.optimizer.journal import Journal, RunJournal, spec_hash
from agentopt.optimizer.operators import all_operators
from agentopt.optimizer.operators.sample import player
from agentopt.optimizer.screen import Screen
from agentopt.optimizer.state import BASELINE_ID, RunState, mean_score, scores_by_task
from agentopt.optimizer.study import DUPLICATE, NOTHING_PROPOSED, OperatorStudy
from agentopt.optimizer.types import Candidate, Operator, ProposalContext
from agentopt.records import (  # IDLE: nothing to evaluate; PLAYED: the spec was played
    IDLE,
    PLAYED,
    Component,
    Decision,
    Status,
)
from agentopt.scoring.aggregate import summarize
from agentopt.scoring.result import SplitSummary
from agentopt.spec.agent import LOCAL_MODEL, AgentSpec
from agentopt.spec.rubric import Rubric
from agentopt.store.run import RunFolder

log = logging.getLogger(__name__)

PATIENCE = 10  # stop after this many iterations in a row that produced nothing to evaluate


@dataclass(frozen=True)
class RunConfig:
    budget: Budget = field(default_factory=lambda: Budget(max_rollouts=300))
    minibatch: int = 8  # train tasks per screening
    min_delta: float = 0.0  # a child must beat the best val score by more than 0 and by at least this
    significance: float | None = None  # also require a paired-bootstrap p-value below this
    seed: int = 0
    mutator_model: str = "local"
    operators: tuple[str, ...] = ()  # empty: every operator
    val_episodes: int | None = None  # use only the first N val tasks
    test_episodes: int | None = None  # use only the first N test tasks
    run_test: bool = True
    curriculum: bool = False  # weight minibatches towards train tasks solved sometimes (optimizer/curriculum.py)
    storage: str | None = None  # Optuna storage URL; default: sqlite in the run folder
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        """What run_options.json keeps, so --resume carries on with the same settings."""
        data = asdict(self)
        data["eval"]["cache_path"] = str(self.eval.cache_path) if self.eval.cache_path else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        data = dict(data)
        cache = data["eval"].get("cache_path")
        data["eval"] = EvalConfig(**{**data["eval"], "cache_path": Path(cache) if cache else None})
        data["budget"] = Budget(**data["budget"])
        data["operators"] = tuple(data["operators"])
        return cls(**data)


class PlanRefused(UsageError):
    """The budget plan buys too few candidates: refused before any episode is played."""


class Display(Protocol):
    def step(self, text: str) -> None: ...
    def note(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def update(self, stats: dict[str, Any]) -> None: ...


class _Quiet:
    def step(self, text: str) -> None:
        log.info(text)

    def note(self, text: str) -> None:
        log.info(text)

    def warn(self, text: str) -> None:
        log.warning(text)

    def update(self, stats: dict[str, Any]) -> None:
        pass


@dataclass
class RunResult:
    run: RunFolder
    baseline: Candidate
    winner: Candidate
    summaries: dict[str, dict[str, SplitSummary | None]]  # {"baseline"|"winner": {"val"|"test": ...}}
    stopped: str
    counts: dict[str, int]
    tracker: BudgetTracker
    env_tools: tuple[tuple[str, str], ...] = ()


def _iteration_rng(seed: int, iteration: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{iteration}".encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


class Optimizer:
    def __init__(
        self, spec: AgentSpec, rubric: Rubric, env: EnvTarget, run: RunFolder, config: RunConfig, display: Display | None = None,
        retry_errors: bool = False, model: ChatModel | None = None, extra_operators: dict[str, Operator] | None = None,
        run_id: str | None = None,
    ):
        self.run_id = run_id or run.path.name  # names the Optuna study: the run's, whichever folder or machine plays it
        self.model = model  # a caller's chat model instead of agentopt's client (agentopt.optimize(model=...))
        self.extra_operators = dict(extra_operators or {})  # a caller's operators, by name; a built-in's name replaces it
        self.baseline = Candidate(id="c0", spec=spec)
        self.retry_errors = retry_errors  # --resume --retry-errors: play infrastructure-error episodes again
        self.retried = 0  # how many it played again
        self.rubric = rubric
        self.env_target = env
        self.run = run
        self.config = config
        self.display = display or _Quiet()
        self.journal = self._open_journal()
        self.operators = self._operators()
        self.state = RunState(self.baseline)  # rebuilt from the journal once the baseline is decided
        self.tracker = self._tracker()
        # Known once optimize() has listed the tasks and opened the environment:
        self._evaluator: Evaluator | None = None
        self._plan: Plan | None = None
        self._study: OperatorStudy | None = None
        self.test_reserve = 0  # the rollouts the final test needs: the baseline and the winner on test
        self.env_tools: tuple[tuple[str, str], ...] = ()  # (name, description the agent sees) per environment tool

    @property
    def evaluator(self) -> Evaluator:
        if self._evaluator is None:
            raise RuntimeError("the optimizer has not started: call optimize()")
        return self._evaluator

    @property
    def plan(self) -> Plan:
        if self._plan is None:
            raise RuntimeError("the optimizer has not started: call optimize()")
        return self._plan

    def _open_journal(self) -> RunJournal:
        """Where the run's episodes and decisions live: the run folder's files (`Journal`)."""
        return Journal(self.run)

    def _write_doc(self, name: str, data: Any) -> None:
        """plan.json, splits.json, overlap.json: in the run folder."""
        self.run.write_json(name, data)

    def _operators(self) -> dict[str, Operator]:
        available = {**all_operators(), **self.extra_operators}
        unknown = [name for name in self.config.operators if name not in available]
        if unknown:
            raise UsageError(f"--operators: unknown {', '.join(unknown)}; use {', '.join(sorted(available))}")
        allowed = self.baseline.spec.optimize.components
        available = {n: op for n, op in available.items() if op.edits in (None, *allowed)}
        if self.config.operators:
            chosen = {n: op for n, op in available.items() if n in self.config.operators}
        elif self.config.mutator_model == LOCAL_MODEL:  # its rewrites are junk (docs/design.md): spend nothing on them
            chosen = {n: op for n, op in available.items() if not op.needs_mutator}
        else:
            chosen = available
        if not chosen:
            raise UsageError(f"--operators: none of them may change this spec (optimize.components: {', '.join(allowed) or 'none'})")
        return chosen

    def _first_trials(self) -> list[dict[str, Any]]:
        """Each operator once, in order, with the settings it suggests starting from."""
        return [{"operator": name, **op.first_params} for name, op in self.operators.items()]

    def _tracker(self) -> BudgetTracker:
        elapsed = max((d.elapsed_s for d in self.journal.decisions), default=0.0)
        return BudgetTracker(
            self.config.budget,
            stop_file=self.run.path / "STOP",
            rollouts=self.journal.played,
            cost=self.journal.cost,
            candidates=sum(1 for d in self.journal.decisions if d.status in PLAYED and d.status != Status.BASELINE),
            elapsed_s=elapsed,
        )

    # --- evaluation through the journal: a finished episode is never played twice ---
    async def evaluate(self, candidate: Candidate, tasks: list[TaskRef], split: str) -> list[Episode]:
        key = spec_hash(candidate.spec)
        todo = [t for t in tasks if self.journal.episode(candidate.id, key, split, t.task_id) is None]

        def record(episode: Episode) -> None:
            self.journal.add_episode(candidate.id, key, split, episode)
            self.tracker.spend(1, episode.trace.cost_usd)
            self.display.update(self.stats())

        if todo:
            await self.evaluator.run(candidate.spec, todo, on_episode=record)
        return self._recorded(candidate.id, key, split, tasks)

    def _recorded(self, cid: str, key: str, split: str, tasks: list[TaskRef]) -> list[Episode]:
        """The journal's episodes of the spec on `tasks`, every one of which has been played."""
        found = []
        for task in tasks:
            episode = self.journal.episode(cid, key, split, task.task_id)
            if episode is None:  # the evaluator ends every episode it starts, in a score or an error
                raise InfraError(f"{cid}: no episode was recorded for {split} task {task.task_id}")
            found.append(episode)
        return found

    def stats(self) -> dict[str, Any]:
        return {
            **self.state.counts,
            "rollouts": self.tracker.rollouts,
            "max_rollouts": self.config.budget.max_rollouts,
            "cost": self.tracker.cost,
            "baseline_val": mean_score(self.state.val_scores.get(BASELINE_ID)),
            "best_val": self.state.best_mean(),
            "best": self.state.best(),
        }

    # --- the run ---
    async def optimize(self) -> RunResult:
        async with Evaluator(self.env_target, self.rubric, self.run.logs, self.config.eval, notify=self.display.warn, model=self.model) as evaluator:
            self._evaluator = evaluator
            self.display.step("listing tasks")
            train = await evaluator.tasks("train")
            val = await evaluator.tasks("val", self.config.val_episodes)
            test = await evaluator.tasks("test", self.config.test_episodes) if self.config.run_test else []
            self.test_reserve = 2 * len(test)  # the baseline and the winner on test, at the end
            self._plan = Plan.make(self.config.budget.max_rollouts, len(train), len(val), len(test), self.config.minibatch)
            self._write_doc("plan.json", self.plan.to_dict())
            for line in self.plan.lines():
                self.display.note(line)
            refusal = self.plan.refusal()
            if refusal and self.journal.played == 0:  # a resumed run already paid for part of its plan
                raise PlanRefused(refusal)
            await evaluator.check_spec(self.baseline.spec)
            self.env_tools = await self._env_tools()
            self._write_doc("splits.json", {name: [t.task_id for t in tasks] for name, tasks in (("train", train), ("val", val), ("test", test))})
            overlap = held_out_overlap({"train": train, "val": val, "test": test})
            self._write_doc("overlap.json", overlap)
            if warning := overlap_warning(overlap, {"val": len(val), "test": len(test)}):
                self.display.warn(warning)
            if self.retry_errors:
                await self._retry_errors({"train": train, "val": val, "test": test})
            await self._baseline(val)
            stopped = await self._search(train, val)
            summaries = await self._finish(val, test)
        return RunResult(self.run, self.baseline, self._winner(), summaries, stopped, dict(self.state.counts), self.tracker, self.env_tools)

    def _winner(self) -> Candidate:
        best = self.state.best()
        if best is None:  # the baseline's val run is decided before any search
            raise RuntimeError("no candidate has been decided")
        return self.state.candidates[best]

    async def _retry_errors(self, splits: dict[str, list[TaskRef]]) -> None:
        """Play again every journal episode that ended in an infrastructure error (an
        environment crash, a hung step, a dropped connection, a provider failure), for the
        same candidate spec; the rest of the journal is reused. Decisions already recorded
        stay as they were; what comes next (the pool's val scores, the next iterations, the
        final val and test scores) reads the new plays."""
        by_run: dict[tuple[str, str, str], list[TaskRef]] = {}
        for key in self.journal.infra_errors():
            cid, spec_key, split, task_id = key
            task = next((t for t in splits.get(split, []) if t.task_id == task_id), None)
            if task is not None:
                by_run.setdefault((cid, spec_key, split), []).append(task)
        plays = []
        for (cid, spec_key, split), tasks in by_run.items():
            spec = self.baseline.spec if cid == "c0" else self._saved_spec(cid)
            if spec is None or spec_hash(spec) != spec_key:
                continue  # not this run's spec any more: nothing would reuse the episode
            for task in tasks:
                self.journal.forget((cid, spec_key, split, task.task_id))
            plays.append(self.evaluate(Candidate(cid, spec), tasks, split))
            self.retried += len(tasks)
        self.display.step(f"retrying {self.retried} episode(s) that hit infrastructure errors")
        await asyncio.gather(*plays)  # the evaluator's concurrency limit still applies

    def _saved_spec(self, cid: str) -> AgentSpec | None:
        """A candidate's spec folder; None when missing or unreadable (a kill can cut short
        the rewrite of a child whose iteration was being re-run, never a decided one)."""
        folder = self.run.path / "candidates" / cid
        if not (folder / "agent.yaml").exists():
            return None
        try:
            return load_candidate_spec(folder)
        except (AgentoptError, OSError):
            return None

    async def _env_tools(self) -> tuple[tuple[str, str], ...]:
        tools = await self.evaluator.env_tools()
        spec = self.baseline.spec
        return tuple((t.name, spec.tool_description(t.name, t.description)) for t in tools if t.name not in spec.hidden_tools)

    async def _baseline(self, val: list[TaskRef]) -> None:
        """The baseline on val: the bar to beat. It is played on train only where a screen or
        an operator needs it (each task once, reused from then on), not on all of train up front."""
        self.display.step("evaluating the baseline on val")
        if not (self.run.path / "candidates" / "c0" / "agent.yaml").exists():
            save_spec(self.baseline.spec, self.run.path / "candidates" / "c0")
        episodes = await self.evaluate(self.baseline, val, "val")
        if not scores_by_task(episodes):
            raise _nothing_scored(episodes)
        if self.journal.decision(BASELINE_ID) is None:
            self._decide(self.baseline, Status.BASELINE, "the starting spec", train=None, val=episodes)
        self.state = self._rebuilt_state(val)

    def _rebuilt_state(self, val: list[TaskRef]) -> RunState:
        """Candidates, pool, val scores and counts from the journal's decisions (on --resume, what the kill left)."""
        return RunState.from_journal(self.baseline, self.journal, [t.task_id for t in val], self._saved_spec)

    async def _search(self, train: list[TaskRef], val: list[TaskRef]) -> str:
        if not train:
            return "no train tasks: nothing to learn from"
        while True:
            reason = self.tracker.exhausted() or self._converged()
            if reason:
                return reason
            batch = min(self.config.minibatch, len(train))
            iteration = len(self.journal.decisions)
            _, parent, minibatch = self._pick(iteration, train, batch)
            key = spec_hash(parent.spec)
            unplayed = sum(self.journal.episode(parent.id, key, "train", t.task_id) is None for t in minibatch)
            if not self.tracker.can_afford(unplayed + batch + len(val) + self.test_reserve):
                return "not enough rollouts left for another candidate"
            await self._iteration(iteration, train, val, batch)

    def _converged(self) -> str | None:
        best = self.state.best_mean()
        if best is not None and best >= 1.0:
            return "the best candidate is perfect on val: nothing left to improve"
        idle = 0
        for record in reversed(self.journal.decisions):
            if record.status not in IDLE:
                break
            idle += 1
        if idle >= PATIENCE:
            return f"the last {idle} iterations produced no candidate to evaluate"
        return nothing_to_learn(self.journal, self.operators, self.baseline.spec, self.config.mutator_model)

    def _pick(self, iteration: int, train: list[TaskRef], batch: int) -> tuple[random.Random, Candidate, list[TaskRef]]:
        """Iteration i's rng, parent and minibatch: the same every time they are asked for."""
        rng = _iteration_rng(self.config.seed, iteration)
        parent = self.state.candidates[self._select_parent(iteration, rng)]
        if self.config.curriculum:
            return rng, parent, curriculum.minibatch(rng, self.run.path, self.journal.decisions, train, batch)
        return rng, parent, rng.sample(train, batch)

    def _select_parent(self, iteration: int, rng: random.Random) -> str:
        return select_parent({c: self.state.val_scores[c] for c in self.state.pool}, rng)

    async def _iteration(self, iteration: int, train: list[TaskRef], val: list[TaskRef], batch: int) -> None:
        cid = f"c{iteration}"
        rng, parent, minibatch = self._pick(iteration, train, batch)
        self.display.step(f"{cid}: parent {parent.id} on {batch} train tasks")
        parent_eps = await self.evaluate(parent, minibatch, "train")
        if all(e.score.error is None and e.score.score >= 1.0 for e in parent_eps):
            # Like GEPA: a parent that is perfect on the minibatch has no failure to learn from.
            self._record(cid, parent, "none", None, "", Status.SKIPPED, "the parent is perfect on this minibatch")
            return
        resumed = self._resumed_proposal(iteration, parent)
        if resumed is not None:  # a worker that took this iteration over plays the child its first holder proposed
            ask, proposal = resumed
        else:
            ask, proposal = await self._propose(iteration, cid, rng, parent, parent_eps, train, val, batch)
            if proposal is None:
                return
        await self._play_child(iteration, cid, rng, parent, parent_eps, train, minibatch, val, ask, proposal)

    async def _propose(self, iteration: int, cid: str, rng: random.Random, parent: Candidate, parent_eps: list[Episode],
                       train: list[TaskRef], val: list[TaskRef], batch: int) -> tuple[Any, Any]:
        """Optuna's ask and the operator's child; (ask, None) when the iteration ended without one (recorded)."""
        ask = self.study.ask(self.operators, self.baseline, iteration)  # search spaces are the run's, not the parent's
        self._note(iteration, {"parent": parent.id, "trial": ask.trial.number, "operator": ask.operator, "params": ask.params})
        more = await self._operator_train(self.operators[ask.operator], parent, iteration, train, batch + len(val) + self.test_reserve)
        ctx = ProposalContext(
            parent=parent,
            episodes=parent_eps,
            train_episodes=self._train_episodes([*parent_eps, *more]),
            rubric=self.rubric,
            rng=rng,
            params=ask.params,
            mutator=self.evaluator.client,
            mutator_model=self.config.mutator_model,
            others=tuple(self.state.candidates[c] for c in self.state.pool if c != parent.id) + ((self.baseline,) if parent.id != BASELINE_ID else ()),
            train_inputs=tuple(str(t.spec.get("input", "")) for t in train if t.spec.get("input")),
            tools=self.env_tools,
            variables=tuple(sorted(self._variables(parent_eps))),
            play=player(self, cid, train, batch + len(val) + self.test_reserve, cap=2 * batch),  # sample: the child's needs kept, one screen's worth
        )
        self.display.step(f"{cid}: {ask.operator} proposes a child of {parent.id}")
        try:
            proposal = await self.operators[ask.operator].propose(ctx)
        except AgentoptError as exc:  # e.g. the mutator's provider failed after retries
            self._record(cid, parent, ask.operator, None, "", Status.ERROR, f"operator failed: {exc}", trial=(ask, None))
            self.study.tell(ask, None)
            return ask, None
        if proposal is None:
            self._record(cid, parent, ask.operator, None, "", Status.INVALID, f"{ask.operator} had nothing to propose", trial=(ask, NOTHING_PROPOSED))
            self.study.tell(ask, NOTHING_PROPOSED)
            return ask, None
        spec = replace(proposal.spec, name=parent.spec.name)
        same = self._duplicate_of(cid, spec_hash(spec))
        if same is not None:  # never played again: the earlier candidate's recorded result stands
            earlier = self.journal.decision(same)
            reason = f"the same spec as {same} ({earlier.status if earlier else 'evaluated'}): not played again"
            self._record(cid, parent, ask.operator, proposal.component, proposal.note, Status.DUPLICATE, reason,
                         earlier.train if earlier else None, earlier.val if earlier else None, trial=(ask, DUPLICATE), duplicate_of=same)
            self.study.tell(ask, DUPLICATE)
            return ask, None
        proposal = replace(proposal, spec=spec)
        self._save_candidate(cid, spec)
        self._note(iteration, {"parent": parent.id, "trial": ask.trial.number, "operator": ask.operator, "params": ask.params,
                               "component": proposal.component, "note": proposal.note, "spec": spec_hash(spec)})
        return ask, proposal

    async def _play_child(self, iteration: int, cid: str, rng: random.Random, parent: Candidate, parent_eps: list[Episode],
                          train: list[TaskRef], minibatch: list[TaskRef], val: list[TaskRef], ask: Any, proposal: Any) -> None:
        """Screen the child on the parent's minibatch, then (when better there) decide it on val."""
        spec = proposal.spec
        self.tracker.add_candidate()
        child = Candidate(cid, spec, parent.id, ask.operator, proposal.component, proposal.note)
        self.state.candidates[cid] = child
        self.display.step(f"{cid}: screening ({ask.operator}: {proposal.note[:60]})")
        child_eps = await self.evaluate(child, minibatch, "train")
        screen = await self._screen(iteration, parent, child, train, minibatch, parent_eps, child_eps, len(val))
        gain = screen.gain
        train_info = screen.info()
        if gain is None or gain <= 0:
            reason = f"{screen.describe()}: not better"
            self._decide(child, Status.SCREENED_OUT, reason, train_info, None, trial=(ask, gain))
            self.study.tell(ask, gain)
            return
        self.display.step(f"{cid}: evaluating on val")
        val_eps = await self.evaluate(child, val, "val")
        with self.journal_exclusive():  # with many workers: against the global best, recorded before anyone else decides
            self._sync()
            best = self.state.best() or BASELINE_ID
            decision = decide(scores_by_task(val_eps), self.state.val_scores[best], self.config.min_delta, self.config.significance, rng)
            status = Status.ACCEPTED if decision.accepted else Status.REJECTED
            self._decide(child, status, decision.reason, train_info, val_eps, trial=(ask, gain))
        self.study.tell(ask, gain)

    def _others(self, iteration: int, train: list[TaskRef], minibatch: list[TaskRef]) -> list[TaskRef]:
        """The train tasks outside the iteration's minibatch, in an order fixed by (seed,
        iteration): where a tied screen widens, and where an operator's extra tasks come from."""
        rng = _iteration_rng(self.config.seed, iteration + 1_000_003)
        chosen = {t.task_id for t in minibatch}
        rest = [t for t in train if t.task_id not in chosen]
        rng.shuffle(rest)
        return rest

    def _room(self, reserve: int) -> int | None:
        """Rollouts the budget spares beyond `reserve`; None without a rollout limit."""
        limit = self.config.budget.max_rollouts
        return None if limit is None else max(0, limit - self.tracker.rollouts - reserve)

    async def _operator_train(self, operator: Any, parent: Candidate, iteration: int, train: list[TaskRef], reserve: int) -> list[Episode]:
        """The lazy baseline's other half: an operator that reads train episodes beyond the
        minibatch (`train_tasks`, e.g. few-shot's demonstrations) gets the parent played on
        tasks no decided candidate has a scored episode for yet, up to that many tasks covered
        and as many as the budget spares beside `reserve` (the child's screen and val run, the
        final test)."""
        want = min(int(getattr(operator, "train_tasks", 0) or 0), len(train))
        if not want:
            return []
        _, _, minibatch = self._pick(iteration, train, min(self.config.minibatch, len(train)))
        covered = {e.trace.task_id for e in self._train_episodes([])}
        order = [*minibatch, *self._others(iteration, train, minibatch)]
        key = spec_hash(parent.spec)
        todo = [t for t in order if t.task_id not in covered and self.journal.episode(parent.id, key, "train", t.task_id) is None]
        todo = todo[: max(0, want - len(covered))]
        room = self._room(reserve)
        if room is not None:
            todo = todo[:room]
        if not todo:
            return []
        self.display.step(f"c{iteration}: {operator.name} reads {len(todo)} more train episode(s) of {parent.id}")
        return await self.evaluate(parent, todo, "train")

    async def _screen(self, iteration: int, parent: Candidate, child: Candidate, train: list[TaskRef], minibatch: list[TaskRef],
                      parent_eps: list[Episode], child_eps: list[Episode], val: int) -> Screen:
        """Parent and child on the minibatch; tied on every task (and on the partial scores),
        the screen widens a minibatch of other train tasks at a time, up to `Plan.widen` tasks
        and only while the budget still spares the child's val run and the final test."""
        screen = Screen(list(parent_eps), list(child_eps), self.rubric)
        others = self._others(iteration, train, minibatch)
        step = max(1, len(minibatch))
        pkey, ckey = spec_hash(parent.spec), spec_hash(child.spec)
        while screen.uninformative and others and screen.widened < self.plan.widen:
            tasks = others[: min(step, self.plan.widen - screen.widened)]
            cost = sum((self.journal.episode(parent.id, pkey, "train", t.task_id) is None)
                       + (self.journal.episode(child.id, ckey, "train", t.task_id) is None) for t in tasks)
            room = self._room(val + self.test_reserve)
            if room is not None and cost > room:
                break
            others = others[len(tasks):]
            self.display.step(f"{child.id}: tied with {parent.id} on every task: screening on {len(tasks)} more")
            screen = screen.wider(await self.evaluate(parent, tasks, "train"), await self.evaluate(child, tasks, "train"))
        return screen

    # --- hooks a shared run (agentopt.optimizer.workers) fills in; one process: nothing to do ---
    def journal_exclusive(self) -> Any:
        return contextlib.nullcontext()

    def _sync(self) -> None:
        """Bring the pool up to date (other workers' decisions)."""

    def _note(self, iteration: int, proposal: dict[str, Any]) -> None:
        """Remember what iteration `iteration` proposed so far."""

    def _resumed_proposal(self, iteration: int, parent: Candidate) -> tuple[Any, Any] | None:
        return None

    def _duplicate_of(self, cid: str, key: str) -> str | None:
        """The id of a candidate already played (screened at least) whose spec hash is `key`."""
        return self.state.played_with(key)

    def _save_candidate(self, cid: str, spec: AgentSpec) -> None:
        save_spec(spec, self.run.path / "candidates" / cid)

    def sample_room(self, wanted: int, reserve: int) -> int:
        """How many sample episodes the budget spares, keeping `reserve` for the child and the final test."""
        limit = self.config.budget.max_rollouts
        return wanted if limit is None else max(0, limit - self.tracker.rollouts - reserve)

    def _train_episodes(self, parent_eps: list[Episode]) -> list[Episode]:
        """The best scored train episode per task among the candidates decided so far and the
        parent's minibatch: what few-shot bootstraps from. Only decided candidates count, so a
        resumed run sees what an unbroken run saw (episodes of a child cut off by a kill do not)."""
        decided = {d.id for d in self.journal.decisions}
        found = [e for (cid, _, split, _), e in self.journal.episodes.items() if split == "train" and cid in decided]
        best: dict[str, Episode] = {}
        for episode in [*found, *parent_eps]:
            task = episode.trace.task_id
            if episode.score.error is None and (task not in best or episode.score.score > best[task].score.score):
                best[task] = episode
        return [best[task] for task in sorted(best)]

    def _variables(self, episodes: list[Episode]) -> set[str]:
        return {name for e in episodes for name in e.trace.variables}

    def _decide(self, cand: Candidate, status: Status, reason: str, train: dict[str, Any] | None, val: list[Episode] | None,
                trial: tuple[Any, float | None] | None = None) -> None:
        """A played candidate's decision, with its val summary when it reached val."""
        val_info = None
        if val is not None:
            summary = summarize([e.score for e in val], self.rubric)
            val_info = {"mean": summary.mean, "n": summary.n, "errors": summary.n_errors}
        parent = self.state.candidates.get(cand.parent) if cand.parent else None
        self._record(cand.id, parent, cand.operator, cand.component, cand.note, status, reason, train, val_info, trial,
                     val_scores=scores_by_task(val) if val is not None else None)

    def _record(self, cid: str, parent: Candidate | None, operator: str, component: str | None, note: str, status: Status,
                reason: str, train: dict[str, Any] | None = None, val: dict[str, Any] | None = None,
                trial: tuple[Any, float | None] | None = None, duplicate_of: str | None = None,
                val_scores: dict[str, float] | None = None) -> None:
        """Append a decision and apply it to the state; `trial` is (the Optuna ask, the value
        told), kept so a resume can close a trial the kill left open with the outcome already decided."""
        decision = Decision(
            id=cid,
            status=status,
            operator=operator,
            reason=reason,
            parent=parent.id if parent else None,
            component=Component(component) if component else None,
            note=note,
            trial=trial[0].trial.number if trial else None,
            objective=trial[1] if trial else None,
            train=train,
            val=val,
            rollouts=self.tracker.rollouts,
            cost_usd=round(self.tracker.cost, 6),
            elapsed_s=round(self.tracker.elapsed_s, 2),
            duplicate_of=duplicate_of,
        )
        self.journal.add_decision(decision)
        self.state.apply(decision, val_scores)
        self.display.update(self.stats())

    async def _finish(self, val: list[TaskRef], test: list[TaskRef]) -> dict[str, dict[str, SplitSummary | None]]:
        winner = self._winner()
        summaries: dict[str, dict[str, SplitSummary | None]] = {}
        for role, cand in (("baseline", self.baseline), ("winner", winner)):
            val_eps = await self.evaluate(cand, val, "val")
            test_summary = None
            if test:
                self.display.step(f"evaluating the {role} ({cand.id}) on test")
                test_eps = await self.evaluate(cand, test, "test")
                test_summary = summarize([e.score for e in test_eps], self.rubric)
            summaries[role] = {"val": summarize([e.score for e in val_eps], self.rubric), "test": test_summary}
        return summaries

    @property
    def study(self) -> OperatorStudy:
        """The run's Optuna study, opened when the first iteration asks for an operator."""
        if self._study is None:
            self._study = self._open_study()
        return self._study

    def _open_study(self) -> OperatorStudy:
        storage = self.config.storage or f"sqlite:///{(self.run.path / 'study.db').resolve()}"
        told = {d.trial: d.objective for d in self.journal.decisions if d.trial is not None}
        return OperatorStudy(storage, study_name(self.run_id), self.config.seed, told, first=self._first_trials())


def study_name(run_id: str) -> str:
    """The Optuna study of a run: named by the run id, so every worker of the run shares it."""
    return f"agentopt-{run_id}"


def _nothing_scored(episodes: list[Episode]) -> InfraError:
    """No val episode of the baseline has a score: there is no bar for a candidate to beat."""
    errors = [e.score.error for e in episodes if e.score.error]
    first = f"; first: {errors[0]}" if errors else ""
    return InfraError(
        f"none of the baseline's {len(episodes)} val episodes could be scored{first}: there is nothing to compare "
        "candidates on; run agentopt eval on the val split to see why"
    )
