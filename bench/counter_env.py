"""The benchmark's environment: the test suite's counter (add numbers, then report the
total with `done`), with as many tasks as a benchmark needs and room for every session.

Served by the harness like any `module:factory` app:
`--env bench.counter_env:build_counter` (the repo root must be importable).
"""

from __future__ import annotations

from typing import Any

from openenv.core.env_server.mcp_types import CallToolAction, CallToolObservation

from agentopt.envs.builtin.common import TaskObservation, TaskState
from tests.fakes.envs import CounterEnvironment

TASKS = 2000  # tasks in each of the val and train splits
MAX_SESSIONS = 512  # the built-in environments allow 64 (MAX_CONCURRENT_SESSIONS)


class BenchCounter(CounterEnvironment):
    def __init__(self) -> None:
        super().__init__()
        tasks = [{"id": f"c{i}", "start": i, "target": i + 5} for i in range(TASKS)]
        self._tasks = {"val": tasks, "train": tasks}


def build_counter(**_: Any) -> Any:
    from openenv.core.env_server.http_server import create_app

    return create_app(
        BenchCounter,
        CallToolAction,
        CallToolObservation,
        env_name="counter",
        max_concurrent_envs=MAX_SESSIONS,
        state_cls=TaskState,
        reset_observation_cls=TaskObservation,
    )
