"""The run: baseline, then propose -> screen on train -> accept on val, until a budget is spent.

1. The baseline (candidate c0) is evaluated on val.
2. Each iteration picks a parent from the Pareto front of accepted candidates (per-task
   val bests), samples a train minibatch, lets Optuna choose an operator and its
   settings, and asks the operator for a child.
3. The child is screened on the same minibatch: not better than its parent there, it is
   dropped. Otherwise it is evaluated on val and accepted only when it strictly beats the
   best accepted val score (by `min_delta`, optionally with a paired bootstrap).
4. At the end the winner (and the baseline) are evaluated once on test, never used for a
   decision.

Every episode and decision goes to the journal as it happens; iteration i's randomness is
seeded by (seed, i), so `--resume` rebuilds the state and carries on where a kill stopped
it, with no finished episode played again.
"""

from __future__ import annotations

import asyncio
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
from agentopt.optimizer.journal import Journal, spec_hash
from agentopt.optimizer.operators import all_operators
from agentopt.optimizer.operators.sample import player
from agentopt.optimizer.study import DUPLICATE, NOTHING_PROPOSED, OperatorStudy
from agentopt.optimizer.types import BASELINE, Candidate, Operator, ProposalContext
from agentopt.records import IDLE, PLAYED  # statuses: nothing to evaluate; the spec was played
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


def _mean(episodes: list[Episode]) -> float | None:
    scores = [e.score.score for e in episodes if e.score.error is None]
    return sum(scores) / len(scores) if scores else None


def _by_task(episodes: list[Episode]) -> dict[str, float]:
    return {e.trace.task_id: e.score.score for e in episodes if e.score.error is None}


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
        self.journal = Journal(run)
        self.operators = self._operators()
        self.candidates: dict[str, Candidate] = {"c0": self.baseline}
        self.pool: list[str] = []  # accepted candidates (the baseline first)
        self.val_scores: dict[str, dict[str, float]] = {}
        # proposed: new children played; invalid: the operator had nothing to propose; duplicate: a child
        # whose spec was already evaluated (not played again); neither counts as proposed
        self.counts = {"proposed": 0, "screened_out": 0, "rejected": 0, "accepted": 0, "invalid": 0, "duplicate": 0, "errors": 0}
        self._hashes: dict[str, str] = {}  # candidate id -> spec hash, for duplicate detection
        self.tracker = self._tracker()

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
        elapsed = max((d.get("elapsed_s", 0.0) for d in self.journal.decisions), default=0.0)
        return BudgetTracker(
            self.config.budget,
            stop_file=self.run.path / "STOP",
            rollouts=self.journal.played,
            cost=self.journal.cost,
            candidates=sum(1 for d in self.journal.decisions if d["status"] in PLAYED and d["status"] != BASELINE),
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
        return [self.journal.episode(candidate.id, key, split, t.task_id) for t in tasks]

    def stats(self) -> dict[str, Any]:
        best = self.best()
        return {
            **self.counts,
            "rollouts": self.tracker.rollouts,
            "max_rollouts": self.config.budget.max_rollouts,
            "cost": self.tracker.cost,
            "baseline_val": _avg(self.val_scores.get("c0")),
            "best_val": _avg(self.val_scores.get(best)) if best else None,
            "best": best,
        }

    def best(self) -> str | None:
        if not self.pool:
            return None
        return max(self.pool, key=lambda cid: (_avg(self.val_scores[cid]) or 0.0, -self.pool.index(cid)))

    # --- the run ---
    async def optimize(self) -> RunResult:
        async with Evaluator(self.env_target, self.rubric, self.run.logs, self.config.eval, notify=self.display.warn, model=self.model) as evaluator:
            self.evaluator = evaluator
            self.display.step("listing tasks")
            train = await evaluator.tasks("train")
            val = await evaluator.tasks("val", self.config.val_episodes)
            test = await evaluator.tasks("test", self.config.test_episodes) if self.config.run_test else []
            self.test_reserve = 2 * len(test)  # the baseline and the winner on test, at the end
            self.plan = Plan.make(self.config.budget.max_rollouts, len(train), len(val), len(test), self.config.minibatch)
            self.run.write_json("plan.json", self.plan.to_dict())
            for line in self.plan.lines():
                self.display.note(line)
            refusal = self.plan.refusal()
            if refusal and self.journal.played == 0:  # a resumed run already paid for part of its plan
                raise PlanRefused(refusal)
            await evaluator.check_spec(self.baseline.spec)
            self.env_tools = await self._env_tools()
            self.run.write_json("splits.json", {name: [t.task_id for t in tasks] for name, tasks in (("train", train), ("val", val), ("test", test))})
            overlap = held_out_overlap({"train": train, "val": val, "test": test})
            self.run.write_json("overlap.json", overlap)
            if warning := overlap_warning(overlap, {"val": len(val), "test": len(test)}):
                self.display.warn(warning)
            if self.retry_errors:
                await self._retry_errors({"train": train, "val": val, "test": test})
            await self._baseline(train, val)
            stopped = await self._search(train, val)
            summaries = await self._finish(val, test)
        counts = dict(self.counts)
        return RunResult(self.run, self.baseline, self.candidates[self.best()], summaries, stopped, counts, self.tracker, self.env_tools)

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
        try:
            return load_candidate_spec(self.run.path / "candidates" / cid)
        except (AgentoptError, OSError):
            return None

    async def _env_tools(self) -> tuple[tuple[str, str], ...]:
        async with self.evaluator.env.session() as session:
            tools = await session.tools()
        spec = self.baseline.spec
        return tuple((t.name, spec.tool_description(t.name, t.description)) for t in tools if t.name not in spec.hidden_tools)

    async def _baseline(self, train: list[TaskRef], val: list[TaskRef]) -> None:
        """The baseline on val (the bar to beat) and on all of train: its train episodes are
        the first minibatches' parent scores and the first demonstrations for few-shot."""
        self.display.step("evaluating the baseline on val and train")
        if not (self.run.path / "candidates" / "c0" / "agent.yaml").exists():
            save_spec(self.baseline.spec, self.run.path / "candidates" / "c0")
        episodes = await self.evaluate(self.baseline, val, "val")
        train_eps = await self.evaluate(self.baseline, self._baseline_train(train, val), "train")
        self.val_scores["c0"] = _by_task(episodes)
        if not self.val_scores["c0"]:
            raise _nothing_scored(episodes)
        self.pool = ["c0"]
        if self.journal.decision("c0") is None:
            train_info = {"mean": _mean(train_eps), "n": len(train_eps)} if train_eps else None
            self._decide(self.baseline, BASELINE, "the starting spec", train=train_info, val=episodes)
        self._replay_decisions()

    def _replay_decisions(self) -> None:
        """On --resume: rebuild candidates, pool and counts from the recorded decisions."""
        for record in self.journal.decisions:
            if record["status"] == BASELINE:
                continue
            cid = record["id"]
            if record["status"] in ("error", "skipped"):
                self.counts["errors"] += record["status"] == "error"
                continue
            if record["status"] in ("invalid", "duplicate"):
                self.counts[record["status"]] += 1
                continue
            self.counts["proposed"] += 1
            self.counts[record["status"]] += 1
            folder = self.run.path / "candidates" / cid
            if (folder / "agent.yaml").exists():
                spec = load_candidate_spec(folder)
                self.candidates[cid] = Candidate(cid, spec, record.get("parent"), record["operator"], record.get("component"), record.get("note", ""))
            if record["status"] == "accepted":
                self.pool.append(cid)
                key = spec_hash(self.candidates[cid].spec)
                self.val_scores[cid] = {
                    task: e.score.score
                    for (c, spec, split, task), e in self.journal.episodes.items()
                    if c == cid and spec == key and split == "val" and e.score.error is None
                }

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
        best = _avg(self.val_scores[self.best()])
        if best is not None and best >= 1.0:
            return "the best candidate is perfect on val: nothing left to improve"
        idle = 0
        for record in reversed(self.journal.decisions):
            if record["status"] not in IDLE:
                break
            idle += 1
        if idle >= PATIENCE:
            return f"the last {idle} iterations produced no candidate to evaluate"
        return nothing_to_learn(self.journal, self.operators, self.baseline.spec, self.config.mutator_model)

    def _pick(self, iteration: int, train: list[TaskRef], batch: int) -> tuple[random.Random, Candidate, list[TaskRef]]:
        """Iteration i's rng, parent and minibatch: the same every time they are asked for."""
        rng = _iteration_rng(self.config.seed, iteration)
        parent = self.candidates[select_parent({c: self.val_scores[c] for c in self.pool}, rng)]
        if self.config.curriculum:
            return rng, parent, curriculum.minibatch(rng, self.run.path, self.journal.decisions, train, batch)
        return rng, parent, rng.sample(train, batch)

    async def _iteration(self, iteration: int, train: list[TaskRef], val: list[TaskRef], batch: int) -> None:
        cid = f"c{iteration}"
        rng, parent, minibatch = self._pick(iteration, train, batch)
        self.display.step(f"{cid}: parent {parent.id} on {batch} train tasks")
        parent_eps = await self.evaluate(parent, minibatch, "train")
        if all(e.score.error is None and e.score.score >= 1.0 for e in parent_eps):
            # Like GEPA: a parent that is perfect on the minibatch has no failure to learn from.
            self._record(cid, parent, "none", None, "", "skipped", "the parent is perfect on this minibatch")
            return
        ask = self.study.ask(self.operators, self.baseline, iteration)  # search spaces are the run's, not the parent's
        ctx = ProposalContext(
            parent=parent,
            episodes=parent_eps,
            train_episodes=self._train_episodes(parent_eps),
            rubric=self.rubric,
            rng=rng,
            params=ask.params,
            mutator=self.evaluator.client,
            mutator_model=self.config.mutator_model,
            others=tuple(self.candidates[c] for c in self.pool if c != parent.id) + ((self.baseline,) if parent.id != "c0" else ()),
            train_inputs=tuple(str(t.spec.get("input", "")) for t in train if t.spec.get("input")),
            tools=self.env_tools,
            variables=tuple(sorted(self._variables(parent_eps))),
            play=player(self, cid, train, batch + len(val) + self.test_reserve),  # for sample: what the child still needs is kept
        )
        self.display.step(f"{cid}: {ask.operator} proposes a child of {parent.id}")
        try:
            proposal = await self.operators[ask.operator].propose(ctx)
        except AgentoptError as exc:  # e.g. the mutator's provider failed after retries
            self.counts["errors"] += 1
            self._record(cid, parent, ask.operator, None, "", "error", f"operator failed: {exc}", trial=(ask, None))
            self.study.tell(ask, None)
            return
        if proposal is None:
            self.counts["invalid"] += 1
            self._record(cid, parent, ask.operator, None, "", "invalid", f"{ask.operator} had nothing to propose", trial=(ask, NOTHING_PROPOSED))
            self.study.tell(ask, NOTHING_PROPOSED)
            return
        spec = replace(proposal.spec, name=parent.spec.name)
        same = self._evaluated(spec_hash(spec))
        if same is not None:  # never played again: the earlier candidate's recorded result stands
            earlier = self.journal.decision(same) or {}
            self.counts["duplicate"] += 1
            reason = f"the same spec as {same} ({earlier.get('status', 'evaluated')}): not played again"
            self._record(cid, parent, ask.operator, proposal.component, proposal.note, "duplicate", reason,
                         earlier.get("train"), earlier.get("val"), trial=(ask, DUPLICATE), extra={"duplicate_of": same})
            self.study.tell(ask, DUPLICATE)
            return
        self.tracker.add_candidate()
        self.counts["proposed"] += 1
        child = Candidate(cid, spec, parent.id, ask.operator, proposal.component, proposal.note)
        self.candidates[cid] = child
        save_spec(child.spec, self.run.path / "candidates" / cid)
        self.display.step(f"{cid}: screening ({ask.operator}: {proposal.note[:60]})")
        child_eps = await self.evaluate(child, minibatch, "train")
        gain = _paired_gain(child_eps, parent_eps)
        train_info = {"mean": _mean(child_eps), "parent_mean": _mean(parent_eps), "n": len(minibatch)}
        if gain is None or gain <= 0:
            self.counts["screened_out"] += 1
            reason = f"train {_fmt(train_info['mean'])} vs parent {_fmt(train_info['parent_mean'])}: not better"
            self._decide(child, "screened_out", reason, train_info, None, trial=(ask, gain))
            self.study.tell(ask, gain)
            return
        self.display.step(f"{cid}: evaluating on val")
        val_eps = await self.evaluate(child, val, "val")
        best = self.best()
        decision = decide(_by_task(val_eps), self.val_scores[best], self.config.min_delta, self.config.significance, rng)
        status = "accepted" if decision.accepted else "rejected"
        self.counts[status] += 1
        if decision.accepted:
            self.pool.append(cid)
            self.val_scores[cid] = _by_task(val_eps)
        self._decide(child, status, decision.reason, train_info, val_eps, trial=(ask, gain))
        self.study.tell(ask, gain)

    def _baseline_train(self, train: list[TaskRef], val: list[TaskRef]) -> list[TaskRef]:
        """The first tasks of train, as many as the budget plan gives the baseline (all of train
        without a rollout limit, else at most a quarter of what val and test leave). Computed
        from the budget alone (not from what was spent), so --resume picks the same tasks."""
        return train[: self.plan.baseline_train]

    def _evaluated(self, key: str) -> str | None:
        """The id of a candidate already played (screened at least) whose spec hash is `key`."""
        for record in self.journal.decisions:
            cid = record["id"]
            if record["status"] in PLAYED and cid in self.candidates:
                if cid not in self._hashes:
                    self._hashes[cid] = spec_hash(self.candidates[cid].spec)
                if self._hashes[cid] == key:
                    return cid
        return None

    def _train_episodes(self, parent_eps: list[Episode]) -> list[Episode]:
        """The best scored train episode per task among the candidates decided so far and the
        parent's minibatch: what few-shot bootstraps from. Only decided candidates count, so a
        resumed run sees what an unbroken run saw (episodes of a child cut off by a kill do not)."""
        decided = {d["id"] for d in self.journal.decisions}
        found = [e for (cid, _, split, _), e in self.journal.episodes.items() if split == "train" and cid in decided]
        best: dict[str, Episode] = {}
        for episode in [*found, *parent_eps]:
            task = episode.trace.task_id
            if episode.score.error is None and (task not in best or episode.score.score > best[task].score.score):
                best[task] = episode
        return [best[task] for task in sorted(best)]

    def _variables(self, episodes: list[Episode]) -> set[str]:
        return {name for e in episodes for name in e.trace.variables}

    def _decide(self, cand: Candidate, status: str, reason: str, train: dict[str, Any] | None, val: list[Episode] | None, trial=None) -> None:
        val_info = None
        if val is not None:
            summary = summarize([e.score for e in val], self.rubric)
            val_info = {"mean": summary.mean, "n": summary.n, "errors": summary.n_errors}
        parent = self.candidates.get(cand.parent) if cand.parent else None
        self._record(cand.id, parent, cand.operator, cand.component, cand.note, status, reason, train, val_info, trial)

    def _record(self, cid, parent, operator, component, note, status, reason, train=None, val=None, trial=None, extra=None) -> None:
        """Append a decision; `trial` is (the Optuna ask, the value told), kept so a resume
        can close a trial the kill left open with the outcome already decided."""
        self.journal.add_decision(
            {
                "id": cid,
                "trial": trial[0].trial.number if trial else None,
                "objective": trial[1] if trial else None,
                "parent": parent.id if parent else None,
                "operator": operator,
                "component": component,
                "note": note,
                "status": status,
                "reason": reason,
                "train": train,
                "val": val,
                "rollouts": self.tracker.rollouts,
                "cost_usd": round(self.tracker.cost, 6),
                "elapsed_s": round(self.tracker.elapsed_s, 2),
                **(extra or {}),
            }
        )
        self.display.update(self.stats())

    async def _finish(self, val: list[TaskRef], test: list[TaskRef]) -> dict[str, dict[str, SplitSummary | None]]:
        winner = self.candidates[self.best()]
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
        if not hasattr(self, "_study"):
            storage = self.config.storage or f"sqlite:///{(self.run.path / 'study.db').resolve()}"
            told = {d["trial"]: d.get("objective") for d in self.journal.decisions if d.get("trial") is not None}
            self._study = OperatorStudy(storage, study_name(self.run_id), self.config.seed, told, first=self._first_trials())
        return self._study


def study_name(run_id: str) -> str:
    """The Optuna study of a run: named by the run id, so every worker of the run shares it."""
    return f"agentopt-{run_id}"


def _avg(scores: dict[str, float] | None) -> float | None:
    return sum(scores.values()) / len(scores) if scores else None


def _paired_gain(child: list[Episode], parent: list[Episode]) -> float | None:
    c, p = _by_task(child), _by_task(parent)
    shared = c.keys() & p.keys()
    if not shared:
        return None
    return sum(c[t] - p[t] for t in shared) / len(shared)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _nothing_scored(episodes: list[Episode]) -> InfraError:
    """No val episode of the baseline has a score: there is no bar for a candidate to beat."""
    errors = [e.score.error for e in episodes if e.score.error]
    first = f"; first: {errors[0]}" if errors else ""
    return InfraError(
        f"none of the baseline's {len(episodes)} val episodes could be scored{first}: there is nothing to compare "
        "candidates on; run agentopt eval on the val split to see why"
    )
