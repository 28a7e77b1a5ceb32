"""Optuna glue: which operator to try next and with which settings (ask/tell, TPE).

The study lives in the run folder (`study.db`, SQLite: open it with `sqlite3` or
optuna-dashboard), or at `--storage URL` so several workers can share one study.
Every outcome is told, including proposals that failed or were screened out. An operator
that had nothing to propose is told `NOTHING_PROPOSED` (-1, the worst gain a child can
have) and a child identical to an evaluated candidate `DUPLICATE` (0), so TPE learns to
choose them less; only an operator that failed (e.g. its provider) is a FAIL trial.

Determinism across `--resume`: the sampler is re-created for each trial with the seed
`seed + trial number`, so a trial's suggestions depend only on the study's history and
its number, not on how many processes it took to get there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

OBJECTIVE = "train minibatch score gain over the parent"
# What a proposal that was not screened is told, so TPE learns from it (a failed trial teaches it nothing):
NOTHING_PROPOSED = -1.0  # the operator had nothing to propose: as bad as a child can be
DUPLICATE = 0.0  # the child's spec was already evaluated: nothing new over what is known


@dataclass
class Ask:
    trial: Any  # optuna.trial.Trial
    operator: str
    params: dict[str, Any]


# pg_advisory_lock key held while the Optuna schema and a study are created (any constant: "agentopt" in ASCII)
SCHEMA_LOCK = 0x6167656E746F7074


def _rdb(storage: str) -> Any:
    """Optuna's RDB storage for a URL (postgresql:// means psycopg 3, see agentopt.storage_url)."""
    import optuna

    from agentopt.storage_url import is_postgres, normalize

    url = normalize(storage)
    engine_kwargs = {"pool_pre_ping": True, **({"connect_args": {"connect_timeout": 10}} if is_postgres(url) else {})}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)


@contextmanager
def schema_lock(storage: str) -> Iterator[None]:
    """Serialize schema creation between processes: a PostgreSQL advisory lock (Optuna's
    `CREATE TYPE studydirection` otherwise races: UniqueViolation in the second worker); SQLite
    serializes its writers itself."""
    from agentopt.storage_url import is_postgres, make_engine

    if not is_postgres(storage):
        yield
        return
    import sqlalchemy

    engine = make_engine(storage, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK})
    finally:
        engine.dispose()


class OperatorStudy:
    def __init__(self, storage: str, study_name: str, seed: int, told: dict[int, float | None] | None = None,
                 first: list[dict[str, Any]] | None = None):
        """`first`: trials a new study runs before TPE chooses, in order; each gives the
        operator and any settings to start from (e.g. {"operator": "fewshot", "fewshot.pick": "similar"})."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.storage = storage
        self.study_name = study_name
        self.seed = seed
        with schema_lock(storage):  # workers starting together: one creates the schema and the study, the others load it
            self.study = optuna.create_study(storage=_rdb(storage), study_name=study_name, direction="maximize", load_if_exists=True)
            if self.study.user_attrs.get("objective") != OBJECTIVE:
                self.study.set_user_attr("objective", OBJECTIVE)
            if not self.study.trials:
                for params in first or ():
                    self.study.enqueue_trial(params)
        if told is not None:  # None: shared by live workers, whose running trials are not this process's to close
            self._close_interrupted(told)

    def _close_interrupted(self, told: dict[int, float | None]) -> None:
        """Trials a kill left RUNNING: told now when the journal has their outcome, else
        closed as failed and asked again first (same parameters: same child)."""
        running = self._optuna.trial.TrialState.RUNNING
        for trial in self.study.get_trials(deepcopy=False, states=(running,)):
            if trial.number in told:
                self._tell(trial.number, told[trial.number])
            else:
                self.study.tell(trial.number, state=self._optuna.trial.TrialState.FAIL)
                self.study.enqueue_trial(trial.params, skip_if_exists=False)

    def close(self) -> None:
        """Let go of the database connections (a shared study's engine; SQLite's too)."""
        backend = getattr(self.study._storage, "_backend", self.study._storage)
        if hasattr(backend, "remove_session"):
            backend.remove_session()
        engine = getattr(backend, "engine", None)
        if engine is not None:
            engine.dispose()

    def ask(self, operators: dict[str, Any], space_of: Any, iteration: int) -> Ask:
        """The sampler is seeded by the iteration, so a resumed run asks what an unbroken one would."""
        samplers = self._optuna.samplers
        self.study.sampler = samplers.TPESampler(seed=self.seed + iteration, n_startup_trials=len(operators) * 2)
        trial = self.study.ask()
        name = trial.suggest_categorical("operator", sorted(operators))
        params = {key: _suggest(trial, key, dist) for key, dist in operators[name].search_space(space_of).items()}
        return Ask(trial, name, params)

    def tell(self, ask: Ask, value: float | None) -> None:
        """A number for a screened proposal; None when the operator had nothing to offer."""
        self._tell(ask.trial.number, value)

    def _tell(self, number: int, value: float | None) -> None:
        if value is None:
            self.study.tell(number, state=self._optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(number, value)


def _suggest(trial: Any, name: str, dist: Any) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    raise TypeError(f"unsupported distribution for {name}: {dist!r}")
