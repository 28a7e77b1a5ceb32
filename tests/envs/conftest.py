"""Fixtures for tests/envs: the openenv-core 0.3 virtualenv (tests/envs/old_core.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.envs import old_core
from tests.envs.old_core import OldCoreVenvError, ensure_old_core_venv


@pytest.fixture(scope="session")
def old_core_venv() -> Path:
    """A virtualenv with openenv-core 0.3, built once per machine and then reused.
    Without PyPI this fails (one line), never skips: CI has PyPI."""
    try:
        return ensure_old_core_venv(status=old_core.STATUS)
    except OldCoreVenvError as exc:
        pytest.fail(f"openenv-core 0.3 virtualenv: {exc}", pytrace=False)


def pytest_terminal_summary(terminalreporter) -> None:
    """Say whether the old-core virtualenv was built (and in how long) or reused."""
    for line in old_core.STATUS:
        terminalreporter.write_line(line)
