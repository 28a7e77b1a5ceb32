"""`agentopt worker`: a run whose options in the database it cannot use is a one-line usage
error (exit 2), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentopt.optimizer.loop import RunConfig
from agentopt.optimizer.shared import SqlRunStore
from tests.conftest import run_cli

RUBRIC = "name: r\ncriteria:\n  - id: a\n    description: d\n    check: {type: contains, value: x}\n"


@pytest.mark.parametrize("env", [None, 7])
def test_a_worker_refuses_saved_options_whose_env_is_not_text(tmp_path: Path, env):
    baseline = tmp_path / "c0"
    baseline.mkdir()
    (baseline / "agent.yaml").write_text("name: a\nsystem_prompt: hi\n", encoding="utf-8")
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    store = SqlRunStore(storage, "r1")
    store.create_schema()
    store.register({"config": RunConfig().to_dict(), "env": env}, {"rubric.yaml": RUBRIC})
    store.put_folder("c0", baseline)
    store.engine.dispose()

    worker = run_cli("worker", "r1", "--storage", storage, "--runs-dir", "runs", cwd=tmp_path)

    assert worker.returncode == 2, worker.stdout + worker.stderr
    assert worker.stderr.strip() == (f"error: run r1: its options in the database are not ones this agentopt can read "
                                     f"(its env is {env!r}, not text)")
