"""A run's shared state in a SQL database (`--storage URL`): many workers, one optimization.

Plain tables beside Optuna's (open them with `psql` or `sqlite3`; JSON in text columns, no pickles):

- `agentopt_runs`: one row per run id: its options (credentials redacted), the summary once finished;
- `agentopt_docs`: splits.json, plan.json, overlap.json of the run;
- `agentopt_files`: the inputs (rubric, baseline spec, tasks file) and every candidate's spec folder;
- `agentopt_episodes`: every played episode, tagged with candidate, spec hash, split, iteration, worker;
- `agentopt_decisions`: one row per candidate and decision (unique per candidate);
- `agentopt_claims`: who plays which iteration (0 is the baseline, -1 the final test), its
  reserved rollouts, its heartbeat and, once proposed, its child (so a takeover plays the same child);
- `agentopt_specs`: which candidate owns a spec hash (unique: no spec is evaluated twice).

Concurrency: a claim, an acceptance and the finish are decided in a transaction holding the run's
row (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite transactions are `BEGIN IMMEDIATE`, one writer
at a time). A new iteration is claimed only when the rollouts played, plus what running claims may
still play, plus its own reservation, plus the final test fit in `--max-rollouts`: the budget is
spent once, between all workers. A claim whose heartbeat is older than the claim TTL
(`AGENTOPT_CLAIM_TTL`, seconds, default 60) is taken over by the next worker that asks.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from agentopt.episode_record import Episode
from agentopt.errors import InfraError
from agentopt.optimizer.journal import EpisodeIndex
from agentopt.records import Decision, Status
from agentopt.scoring.result import EpisodeScore
from agentopt.storage_url import is_postgres, make_engine
from agentopt.trace import Trace

DEFAULT_TTL_S = 60.0
BASELINE_ITERATION = 0
FINISH_ITERATION = -1
INPUTS = "inputs"  # the files table's owner of the run's inputs
CHILDREN_PLAYED = tuple(s.value for s in Status if s.played and s is not Status.BASELINE)  # what --max-candidates counts

md = sa.MetaData()
_run = lambda: sa.Column("run_id", sa.String(255), nullable=False)  # noqa: E731

runs = sa.Table(
    "agentopt_runs", md,
    sa.Column("run_id", sa.String(255), primary_key=True),
    sa.Column("options", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("summary", sa.Text),
    sa.Column("finished_by", sa.String(255)),
    sa.Column("finished_at", sa.Float),
)
docs = sa.Table(
    "agentopt_docs", md, _run(), sa.Column("name", sa.String(255), nullable=False), sa.Column("content", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("run_id", "name"),
)
files = sa.Table(
    "agentopt_files", md, _run(), sa.Column("owner", sa.String(255), nullable=False), sa.Column("path", sa.String(1024), nullable=False),
    sa.Column("content", sa.Text, nullable=False), sa.PrimaryKeyConstraint("run_id", "owner", "path"),
)
episodes = sa.Table(
    "agentopt_episodes", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), _run(),
    sa.Column("candidate", sa.String(255), nullable=False), sa.Column("spec", sa.String(64), nullable=False),
    sa.Column("split", sa.String(32), nullable=False), sa.Column("task_id", sa.String(1024), nullable=False),
    sa.Column("iteration", sa.Integer), sa.Column("worker", sa.String(255)), sa.Column("cost_usd", sa.Float, nullable=False, default=0.0),
    sa.Column("record", sa.Text, nullable=False), sa.Index("agentopt_episodes_run", "run_id", "id"),
)
decisions = sa.Table(
    "agentopt_decisions", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), _run(),
    sa.Column("candidate", sa.String(255), nullable=False), sa.Column("iteration", sa.Integer), sa.Column("status", sa.String(32), nullable=False),
    sa.Column("worker", sa.String(255)), sa.Column("record", sa.Text, nullable=False), sa.UniqueConstraint("run_id", "candidate"),
)
claims = sa.Table(
    "agentopt_claims", md, _run(), sa.Column("iteration", sa.Integer, nullable=False), sa.Column("worker", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False), sa.Column("reserved", sa.Integer, nullable=False),
    sa.Column("heartbeat", sa.Float, nullable=False), sa.Column("takeovers", sa.Integer, nullable=False, default=0),
    sa.Column("proposal", sa.Text), sa.PrimaryKeyConstraint("run_id", "iteration"),
)
plays = sa.Table(  # who plays an episode of a candidate that is not its own (a parent's minibatch): played once
    "agentopt_plays", md, _run(), sa.Column("candidate", sa.String(255), nullable=False), sa.Column("spec", sa.String(64), nullable=False),
    sa.Column("split", sa.String(32), nullable=False), sa.Column("task_id", sa.String(1024), nullable=False),
    sa.Column("worker", sa.String(255), nullable=False), sa.PrimaryKeyConstraint("run_id", "candidate", "spec", "split", "task_id"),
)
specs = sa.Table(
    "agentopt_specs", md, _run(), sa.Column("spec", sa.String(64), nullable=False), sa.Column("candidate", sa.String(255), nullable=False),
    sa.PrimaryKeyConstraint("run_id", "spec"),
)


class ClaimLost(InfraError):
    """This worker's claim expired and another worker took it over: its result is not recorded."""


@dataclass(frozen=True)
class Claim:
    iteration: int
    reserved: int
    takeover: bool = False
    proposal: dict[str, Any] | None = None  # the child proposed before a takeover: played again, not proposed anew


@dataclass(frozen=True)
class Wait:
    """No claim for now: other workers hold the rest of the budget (or the baseline)."""

    reason: str


def claim_ttl() -> float:
    try:
        return max(1.0, float(os.environ.get("AGENTOPT_CLAIM_TTL", DEFAULT_TTL_S)))
    except ValueError:
        return DEFAULT_TTL_S


def worker_id() -> str:
    import socket

    return f"{socket.gethostname()}-{os.getpid()}"


def _iteration_of(candidate: str) -> int | None:
    return int(candidate[1:]) if candidate.startswith("c") and candidate[1:].isdigit() else None


class SqlRunStore(EpisodeIndex):
    """One run's rows in the database, plus the journal view the optimizer reads (the same
    attributes and methods as `agentopt.optimizer.journal.Journal`: `episodes`, `decisions`,
    `played`, `cost`, `episode()`, `add_episode()`, `add_decision()`, `decision()`)."""

    def __init__(self, url: str, run_id: str, worker: str | None = None):
        super().__init__()
        self.url = url
        self.run_id = run_id
        self.worker = worker or worker_id()
        self.pg = is_postgres(url)
        self.engine = make_engine(url)
        if not self.pg:
            _serialize_sqlite(self.engine)
        self.iteration: int | None = None  # the claim the next episodes are played for
        self._last_episode = 0
        self._tx: sa.Connection | None = None  # the connection of the transaction `exclusive()` holds
        self._beat: _Heartbeat | None = None
        self._stop_after_tx = False

    # --- schema and the run's row ---
    def create_schema(self) -> None:
        """The tables, created once even when workers start together (an advisory lock on PostgreSQL)."""
        from agentopt.optimizer.study import schema_lock

        with schema_lock(self.url):
            for attempt in range(5):
                try:
                    md.create_all(self.engine)
                    return
                except sa.exc.OperationalError:  # SQLite: another process created a table meanwhile
                    if attempt == 4:
                        raise
                    time.sleep(0.2 * (attempt + 1))

    def register(self, options: dict[str, Any], inputs: dict[str, str]) -> None:
        """The run's row, its options and input files (the first process of the run writes them)."""
        with self.engine.begin() as conn:
            if conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id == self.run_id)).first() is None:
                try:
                    with conn.begin_nested():
                        conn.execute(runs.insert().values(run_id=self.run_id, options=json.dumps(options), created_at=time.time()))
                except sa.exc.IntegrityError:
                    return  # another process registered it first
                for path, content in inputs.items():
                    conn.execute(files.insert().values(run_id=self.run_id, owner=INPUTS, path=path, content=content))

    def options(self) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs.c.options).where(runs.c.run_id == self.run_id)).first()
        return json.loads(row[0]) if row else None

    def run_row(self) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.run_id == self.run_id)).mappings().first()
        return dict(row) if row else None

    # --- documents and files ---
    def put_doc(self, name: str, data: Any) -> None:
        text = json.dumps(data, default=str)
        with self.engine.begin() as conn:
            updated = conn.execute(docs.update().where(docs.c.run_id == self.run_id, docs.c.name == name).values(content=text)).rowcount
            if not updated:
                try:
                    with conn.begin_nested():
                        conn.execute(docs.insert().values(run_id=self.run_id, name=name, content=text))
                except sa.exc.IntegrityError:
                    conn.execute(docs.update().where(docs.c.run_id == self.run_id, docs.c.name == name).values(content=text))

    def doc(self, name: str) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(docs.c.content).where(docs.c.run_id == self.run_id, docs.c.name == name)).first()
        return json.loads(row[0]) if row else None

    def doc_names(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.select(docs.c.name).where(docs.c.run_id == self.run_id).order_by(docs.c.name))]

    def put_folder(self, owner: str, folder: Path) -> None:
        """Every file under `folder` (a candidate's spec: agent.yaml, skills/*.md), once per owner."""
        rows = [{"run_id": self.run_id, "owner": owner, "path": p.relative_to(folder).as_posix(), "content": p.read_text(encoding="utf-8")}
                for p in sorted(folder.rglob("*")) if p.is_file()]
        with self.engine.begin() as conn:
            if conn.execute(sa.select(files.c.path).where(files.c.run_id == self.run_id, files.c.owner == owner).limit(1)).first():
                return  # a spec folder is written once: a takeover proposes nothing new
            if rows:
                conn.execute(files.insert(), rows)

    def folder(self, owner: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            result = conn.execute(sa.select(files.c.path, files.c.content).where(files.c.run_id == self.run_id, files.c.owner == owner))
            return {path: content for path, content in result}

    def owners(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.select(files.c.owner).where(files.c.run_id == self.run_id).distinct())]

    def materialize(self, owner: str, target: Path) -> bool:
        """Write `owner`'s files under `target` (safe relative paths only); False when there are none."""
        found = self.folder(owner)
        for rel, content in found.items():
            path = (target / rel).resolve()
            if not str(path).startswith(str(target.resolve())):
                continue  # never outside the folder
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        return bool(found)

    # --- the journal view ---
    def refresh(self) -> None:
        """New episodes and every decision, as the database has them now."""
        with self._connection() as conn:
            rows = conn.execute(
                sa.select(episodes.c.id, episodes.c.candidate, episodes.c.spec, episodes.c.split, episodes.c.record)
                .where(episodes.c.run_id == self.run_id, episodes.c.id > self._last_episode).order_by(episodes.c.id)
            ).all()
            found = conn.execute(sa.select(decisions.c.record).where(decisions.c.run_id == self.run_id).order_by(decisions.c.id)).all()
        for row_id, candidate, spec, split, text in rows:
            record = json.loads(text)
            episode = Episode(Trace.from_dict(record["trace"]), EpisodeScore.from_dict(record["score"]))
            self._keep((candidate, spec, split, episode.trace.task_id), episode)
            self._last_episode = row_id
        self.decisions = [Decision.from_dict(json.loads(r[0])) for r in found]

    def add_episode(self, candidate: str, spec: str, split: str, episode: Episode) -> None:
        record = json.dumps(episode.to_record(), default=str)
        with self.engine.begin() as conn:
            conn.execute(episodes.insert().values(
                run_id=self.run_id, candidate=candidate, spec=spec, split=split, task_id=episode.trace.task_id,
                iteration=self.iteration, worker=self.worker, cost_usd=episode.trace.cost_usd, record=record,
            ))
        self.refresh()

    def add_decision(self, decision: Decision) -> None:
        """The decision and the end of its claim, in one transaction: a claim another worker took
        over (this one was presumed dead) records nothing (ClaimLost)."""
        record = decision.to_dict()
        iteration = _iteration_of(decision.id)
        with self._connection(write=True) as conn:
            if iteration is not None:
                done = conn.execute(
                    claims.update().where(claims.c.run_id == self.run_id, claims.c.iteration == iteration,
                                          claims.c.worker == self.worker, claims.c.status == "running").values(status="done")
                ).rowcount
                if not done:
                    raise ClaimLost(f"{record['id']}: this worker's claim was taken over by another worker; its result is dropped")
            conn.execute(decisions.insert().values(run_id=self.run_id, candidate=record["id"], iteration=iteration,
                                                   status=decision.status.value, worker=self.worker, record=json.dumps(record, default=str)))
        if self._tx is None:
            self.stop_heartbeat()
        else:  # the heartbeat's update waits on this transaction's row: stop it once committed (exclusive())
            self._stop_after_tx = True
        self.refresh()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """A transaction holding the run's row: what is read and recorded inside it (the pool and an
        acceptance) no other worker's acceptance can interleave with."""
        if self._tx is not None:
            yield
            return
        try:
            with self.engine.begin() as conn:
                self._lock_run(conn)
                self._tx = conn
                try:
                    yield
                finally:
                    self._tx = None
        finally:
            if self._stop_after_tx:
                self._stop_after_tx = False
                self.stop_heartbeat()

    @contextmanager
    def _connection(self, write: bool = False) -> Iterator[sa.Connection]:
        if self._tx is not None:
            yield self._tx
        elif write:
            with self.engine.begin() as conn:
                yield conn
        else:
            with self.engine.connect() as conn:
                yield conn

    def _lock_run(self, conn: sa.Connection) -> None:
        conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id == self.run_id).with_for_update())

    def _now(self, conn: sa.Connection) -> float:
        """The database's clock on PostgreSQL (workers' clocks may disagree); SQLite is on this machine."""
        if self.pg:
            return float(conn.execute(sa.text("SELECT extract(epoch from clock_timestamp())")).scalar_one())
        return time.time()

    # --- claims ---
    def claim(self, reserve: int, floor: int, max_rollouts: int | None, max_candidates: int | None, search: bool,
              baseline_reserve: int) -> Claim | Wait | str:
        """The next iteration for this worker: a dead worker's claim first (taken over), else the
        baseline while nobody has it, else a new iteration when the budget has room for `reserve`
        more rollouts beside what is played, what running claims may still play and `floor` (the
        final test). Wait while others may still free or need the budget; a reason string when the
        search is over for everyone."""
        ttl = claim_ttl()
        with self.engine.begin() as conn:
            self._lock_run(conn)
            now = self._now(conn)
            held = conn.execute(sa.select(claims).where(claims.c.run_id == self.run_id, claims.c.iteration >= 0)).mappings().all()
            running = [c for c in held if c["status"] == "running"]
            for c in sorted(running, key=lambda c: c["iteration"]):
                if c["heartbeat"] < now - ttl:
                    conn.execute(claims.update().where(claims.c.run_id == self.run_id, claims.c.iteration == c["iteration"])
                                 .values(worker=self.worker, heartbeat=now, takeovers=c["takeovers"] + 1))
                    return self._start(Claim(c["iteration"], c["reserved"], True, json.loads(c["proposal"]) if c["proposal"] else None))
            if not any(c["iteration"] == BASELINE_ITERATION for c in held):
                conn.execute(claims.insert().values(run_id=self.run_id, iteration=BASELINE_ITERATION, worker=self.worker, status="running",
                                                    reserved=baseline_reserve, heartbeat=now, takeovers=0))
                return self._start(Claim(BASELINE_ITERATION, baseline_reserve))
            if any(c["iteration"] == BASELINE_ITERATION for c in running):
                return Wait("the baseline is being evaluated by another worker")
            if not search:
                return Wait("other workers are finishing their iterations") if running else "search over"
            spent = conn.execute(sa.select(sa.func.count()).select_from(episodes).where(episodes.c.run_id == self.run_id)).scalar_one()
            by_claim = dict(conn.execute(
                sa.select(episodes.c.iteration, sa.func.count()).where(episodes.c.run_id == self.run_id).group_by(episodes.c.iteration)
            ).all())
            outstanding = sum(max(0, c["reserved"] - by_claim.get(c["iteration"], 0)) for c in running)
            if max_rollouts is not None and spent + outstanding + reserve + floor > max_rollouts:
                if running:
                    return Wait("the rest of the budget is reserved by other workers' iterations")
                return "not enough rollouts left for another candidate"
            if max_candidates is not None:
                proposed = conn.execute(sa.select(sa.func.count()).select_from(decisions).where(
                    decisions.c.run_id == self.run_id, decisions.c.status.in_(CHILDREN_PLAYED))).scalar_one()
                if proposed + sum(1 for c in running if c["iteration"] > 0) >= max_candidates:
                    return Wait("other workers hold the last candidates") if running else f"candidate budget spent ({proposed}/{max_candidates})"
            iteration = max(c["iteration"] for c in held) + 1
            conn.execute(runs.update().where(runs.c.run_id == self.run_id).values(finished_at=None))  # a resumed run searches again
            conn.execute(claims.insert().values(run_id=self.run_id, iteration=iteration, worker=self.worker, status="running",
                                                reserved=reserve, heartbeat=now, takeovers=0))
            return self._start(Claim(iteration, reserve))

    def note_proposal(self, iteration: int, proposal: dict[str, Any]) -> None:
        """What the claim has proposed so far (parent, trial, child): a takeover plays the same."""
        with self.engine.begin() as conn:
            conn.execute(claims.update().where(claims.c.run_id == self.run_id, claims.c.iteration == iteration, claims.c.worker == self.worker)
                         .values(proposal=json.dumps(proposal, default=str)))

    def claim_spec(self, spec: str, candidate: str) -> str | None:
        """Own `spec` for `candidate`; the other candidate's id when it already owns the same spec."""
        with self.engine.begin() as conn:
            try:
                with conn.begin_nested():
                    conn.execute(specs.insert().values(run_id=self.run_id, spec=spec, candidate=candidate))
                return None
            except sa.exc.IntegrityError:
                pass
            holder = conn.execute(sa.select(specs.c.candidate).where(specs.c.run_id == self.run_id, specs.c.spec == spec)).scalar_one()
        return None if holder == candidate else holder

    def claim_plays(self, candidate: str, spec: str, split: str, task_ids: list[str]) -> list[str]:
        """The tasks this worker is first to play for (candidate, spec, split); another worker plays the rest."""
        mine = []
        with self.engine.begin() as conn:
            for task_id in task_ids:
                try:
                    with conn.begin_nested():
                        conn.execute(plays.insert().values(run_id=self.run_id, candidate=candidate, spec=spec, split=split,
                                                           task_id=task_id, worker=self.worker))
                    mine.append(task_id)
                except sa.exc.IntegrityError:
                    continue
        return mine

    def played_in(self, iteration: int) -> int:
        """Episodes played for one claim (the rollouts its reservation already paid)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(episodes).where(
                episodes.c.run_id == self.run_id, episodes.c.iteration == iteration)).scalar_one()

    def running(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(claims).where(
                claims.c.run_id == self.run_id, claims.c.status == "running")).scalar_one()

    def claim_finish(self) -> bool | None:
        """Become the worker that plays the final test and writes the summary: True; the run is
        finished: None; someone else is at it (or iterations are still running): False."""
        ttl = claim_ttl()
        with self.engine.begin() as conn:
            self._lock_run(conn)
            row = conn.execute(sa.select(runs.c.finished_at).where(runs.c.run_id == self.run_id)).first()
            if row and row[0] is not None:
                return None
            now = self._now(conn)
            held = conn.execute(sa.select(claims).where(claims.c.run_id == self.run_id, claims.c.status == "running")).mappings().all()
            if any(c["iteration"] != FINISH_ITERATION for c in held):
                return False  # an iteration may still be accepted: the winner is not known yet
            finish = conn.execute(sa.select(claims).where(claims.c.run_id == self.run_id, claims.c.iteration == FINISH_ITERATION)).mappings().first()
            if finish is None:
                conn.execute(claims.insert().values(run_id=self.run_id, iteration=FINISH_ITERATION, worker=self.worker, status="running",
                                                    reserved=0, heartbeat=now, takeovers=0))
            elif finish["status"] == "running" and finish["heartbeat"] >= now - ttl:
                return False  # another worker is playing the final test
            else:  # its worker died, or a resumed run searched again after it finished: finish it (again)
                conn.execute(claims.update().where(claims.c.run_id == self.run_id, claims.c.iteration == FINISH_ITERATION).values(
                    worker=self.worker, status="running", heartbeat=now, takeovers=finish["takeovers"] + (finish["status"] == "running")))
        self._start(Claim(FINISH_ITERATION, 0))
        return True

    def finished(self) -> bool:
        row = self.run_row()
        return bool(row and row["finished_at"] is not None)

    def complete(self, summary: dict[str, Any]) -> None:
        """The summary, and the run marked finished, by the finishing worker."""
        with self.engine.begin() as conn:
            done = conn.execute(claims.update().where(claims.c.run_id == self.run_id, claims.c.iteration == FINISH_ITERATION,
                                                      claims.c.worker == self.worker).values(status="done")).rowcount
            if not done:
                raise ClaimLost("the final evaluation was taken over by another worker; its summary is dropped")
            conn.execute(runs.update().where(runs.c.run_id == self.run_id).values(
                summary=json.dumps(summary, default=str), finished_by=self.worker, finished_at=time.time()))
        self.stop_heartbeat()

    # --- heartbeat ---
    def _start(self, claim: Claim) -> Claim:
        self.iteration = claim.iteration
        self.stop_heartbeat()
        self._beat = _Heartbeat(self, claim.iteration)
        self._beat.start()
        return claim

    def stop_heartbeat(self) -> None:
        if self._beat is not None:
            self._beat.stop()
            self._beat = None

    def beat(self, engine: sa.Engine, iteration: int) -> None:
        with engine.begin() as conn:
            conn.execute(claims.update().where(claims.c.run_id == self.run_id, claims.c.iteration == iteration,
                                               claims.c.worker == self.worker, claims.c.status == "running")
                         .values(heartbeat=self._now(conn)))

    def close(self) -> None:
        self.stop_heartbeat()
        self.engine.dispose()

    # --- export ---
    def all_episodes(self) -> Iterator[dict[str, Any]]:
        with self.engine.connect() as conn:
            result = conn.execute(sa.select(episodes.c.candidate, episodes.c.spec, episodes.c.split, episodes.c.record)
                                  .where(episodes.c.run_id == self.run_id).order_by(episodes.c.id))
            for candidate, spec, split, text in result:
                yield {"candidate": candidate, "spec": spec, "split": split, **json.loads(text)}

    def claim_rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(claims).where(claims.c.run_id == self.run_id).order_by(claims.c.iteration)).mappings()]


class _Heartbeat(threading.Thread):
    """Refreshes a claim's heartbeat every third of the TTL, from its own thread (a busy event loop
    does not starve it) and its own connection (no pool shared with the main thread); a kill -9
    stops it, and the claim then expires. Stopped and joined before the claim's end is recorded
    and before the process exits (a daemon thread frozen mid-query at exit can hang the exit)."""

    def __init__(self, store: SqlRunStore, iteration: int):
        super().__init__(daemon=True, name=f"agentopt-heartbeat-{iteration}")
        self.store, self.iteration = store, iteration
        self._stopped = threading.Event()

    def run(self) -> None:
        engine = make_engine(self.store.url, poolclass=sa.pool.NullPool)
        try:
            while not self._stopped.wait(claim_ttl() / 3):
                try:
                    self.store.beat(engine, self.iteration)
                except sa.exc.SQLAlchemyError:
                    continue  # a blip: the next beat retries; a long outage lets the claim expire, as it should
        finally:
            engine.dispose()

    def stop(self) -> None:
        self._stopped.set()
        if self is not threading.current_thread():
            self.join(timeout=30)


def _serialize_sqlite(engine: sa.Engine) -> None:
    """SQLite: every transaction BEGIN IMMEDIATE (one writer at a time, no upgrade deadlocks), WAL for readers."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def run_ids(url: str) -> list[str]:
    """Every run id the database holds (for a helpful error)."""
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("agentopt_runs"):
                return []
            return [r[0] for r in conn.execute(sa.select(runs.c.run_id).order_by(runs.c.created_at))]
    finally:
        engine.dispose()
