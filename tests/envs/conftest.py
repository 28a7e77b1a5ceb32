"""Fixtures for tests/envs: the openenv-core 0.3 virtualenv (tests/envs/old_core.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.envs.old_core import OldCoreVenvError, ensure_old_core_venv


@pytest.fixture(scope="session")
def old_core_venv() -> Path:
    """A virtualenv with openenv-core 0.3, built once per machine and then reused.
    Without PyPI this fails (one line), never skips: CI has PyPI."""
    try:
        return ensure_old_core_venv()
    except OldCoreVenvError as exc:
        pytest.fail(f"openenv-core 0.3 virtualenv: {exc}", pytrace=False)
