"""A private PostgreSQL cluster for the scale-out tests (tests/scale/pg.py), started once per
session. Each test gets its own empty database owned by a test role with a password (`pg_url`).
Without the binaries the tests are skipped with the reason, except under CI (the `CI` variable
set), where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from contextlib import ExitStack

import pytest

from tests.scale.pg import ROLE, Cluster, Unavailable, private_cluster


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is needed in CI: {reason} (.ci/run installs Debian's postgresql)")
    pytest.skip(f"no PostgreSQL server binaries: {reason}; install Debian's postgresql (apt-get install postgresql) to run these tests")


@pytest.fixture(scope="session")
def pg_cluster():
    with ExitStack() as stack:
        try:
            cluster = stack.enter_context(private_cluster())
        except Unavailable as exc:
            _unavailable(str(exc))
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """A new empty database owned by the test role: its URL, password included."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with pg_cluster.admin() as conn:
        conn.execute(f"CREATE DATABASE {name} OWNER {ROLE}")
    return pg_cluster.url(name)
