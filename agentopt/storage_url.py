"""`--storage URL`: checked before anything is spent, and never written down with its password.

A run's shared state (and its Optuna study) can live in a SQL database given as a SQLAlchemy
URL: `sqlite:///path/run.db` or `postgresql://user:password@host:5432/db`. `check_storage`
parses the URL, loads its driver and connects once, so a mistake is one line and an exit code
before the first episode:

- not a database URL, or its driver missing -> UsageError (exit 2), naming
  `pip install 'agentopt[postgres]'` for PostgreSQL;
- wrong password, no password, unreachable server, unknown database -> InfraError (exit 3).

`postgresql://` and `postgres://` mean psycopg 3 (the `postgres` extra installs it), not
SQLAlchemy's default psycopg2; `postgresql+psycopg2://` still picks psycopg2 when installed.
Every message names the URL through `redact_url`: the password never reaches a terminal.
"""

from __future__ import annotations

import re
import warnings

from agentopt.errors import InfraError, UsageError, one_line
from agentopt.redact import redact_url

POSTGRES_EXTRA = "pip install 'agentopt[postgres]'"
_PG_BARE = re.compile(r"^(postgres|postgresql)://", re.I)
CONNECT_TIMEOUT_S = 10


def normalize(url: str) -> str:
    """`postgres(ql)://...` -> `postgresql+psycopg://...` (psycopg 3); any other URL unchanged."""
    return _PG_BARE.sub("postgresql+psycopg://", url.strip())


def is_postgres(url: str) -> bool:
    return normalize(url).lower().startswith("postgresql")


def make_engine(url: str, **options):
    """A SQLAlchemy engine for a checked URL (`check_storage`): pooled, pre-pinged, short connect timeout."""
    import sqlalchemy

    url = normalize(url)
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if is_postgres(url) else {"timeout": 30}
    with warnings.catch_warnings():  # e.g. a query argument the driver ignores (?password= on SQLite): not worth a line
        warnings.simplefilter("ignore")
        return sqlalchemy.create_engine(url, pool_pre_ping=True, connect_args=connect_args, **options)


def check_storage(url: str, option: str = "--storage") -> str:
    """The URL to connect with (normalized), after one successful connection; else one line, exit 2 or 3."""
    import sqlalchemy
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

    shown = redact_url(url)
    url = normalize(url)
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except ArgumentError:
        raise UsageError(f"{option} {shown}: not a database URL; use sqlite:///PATH.db or postgresql://USER:PASSWORD@HOST:PORT/DB") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise UsageError(f"{option} {shown}: {backend} is not supported; use sqlite:///PATH.db or postgresql://USER:PASSWORD@HOST:PORT/DB")
    if backend == "sqlite" and not parsed.database:
        raise UsageError(f"{option} {shown}: an in-memory SQLite database cannot be shared; give a file, sqlite:///PATH.db")
    try:
        engine = make_engine(url, poolclass=sqlalchemy.pool.NullPool)
    except (NoSuchModuleError, ImportError, ModuleNotFoundError) as exc:
        extra = f"; {POSTGRES_EXTRA} (psycopg 3, used for postgresql:// URLs)" if backend == "postgresql" else ""
        raise UsageError(f"{option} {shown}: the database driver is not installed ({_first_line(exc)}){extra}") from None
    except (ArgumentError, TypeError, ValueError) as exc:
        raise UsageError(f"{option} {shown}: {_first_line(exc)}") from None
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    except DBAPIError as exc:
        raise InfraError(f"{option} {shown}: cannot connect: {_first_line(exc.orig or exc)}") from None
    except (SQLAlchemyError, OSError) as exc:
        raise InfraError(f"{option} {shown}: cannot connect: {_first_line(exc)}") from None
    except TypeError as exc:  # a query parameter the driver does not take
        raise UsageError(f"{option} {shown}: {_first_line(exc)}") from None
    finally:
        engine.dispose()
    return url


def _first_line(exc: BaseException) -> str:
    """The driver's message, one line, credentials out (psycopg repeats the host, never the password,
    but a DSN in a message would carry it)."""
    from agentopt.redact import redact

    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = "; ".join(lines[:2]) if lines else type(exc).__name__
    return one_line(redact(text))
