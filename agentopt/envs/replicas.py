"""Environment replicas: several servers of one environment, sessions spread over them.

`--env-replicas N` launches N sandboxed servers of a launched environment; `--env URL1,URL2`
names servers someone else runs. `EnvPool` stands where one `RunningEnv` would (the
Evaluator, the optimizer and TaskEnv use the same methods) and hands each episode's
session to the least-loaded replica that has room:

- each replica is a `RunningEnv` of its own, so everything session.py does for one server
  holds per replica: a replica that crashes is relaunched for its next session, one that
  stops answering /health is killed and replaced, and only the episodes that were using it
  fail (infrastructure errors, as with one server); the others go on;
- a replica's session limit (published in /metadata, or learnt from an `at capacity: N/M`
  refusal) is respected: a replica at its limit gets no new session until one ends, and
  when every replica is full a session waits for a slot;
- a server given by URL that fails a session and does not answer /health is left out until
  it answers again (asked every DOWN_S seconds, in the background), so a dead server someone
  else runs costs the episodes that were on it, not one episode in N for the rest of the run.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from agentopt.envs.kind import EnvKind
from agentopt.envs.session import (
    DEFAULT_EPISODE_TIMEOUT_S,
    EnvTarget,
    RunningEnv,
    capacity_limit,
)
from agentopt.errors import EnvError

DOWN_S = 5.0  # a server given by URL that refused a connection gets no session for this long


def open_env(
    target: EnvTarget, log_dir: Path, step_timeout_s: float = 60.0, episode_timeout_s: float = DEFAULT_EPISODE_TIMEOUT_S,
) -> RunningEnv | EnvPool:
    """One server (a `RunningEnv`), or a pool of replicas when the target names several."""
    if target.urls or target.replicas > 1:
        return EnvPool(target, log_dir, step_timeout_s, episode_timeout_s)
    return RunningEnv(target, log_dir, step_timeout_s=step_timeout_s, episode_timeout_s=episode_timeout_s)


def replica_targets(target: EnvTarget) -> list[EnvTarget]:
    if target.urls:
        return [replace(target, url=url, urls=(), replica=i) for i, url in enumerate(target.urls)]
    return [replace(target, replicas=1, replica=i) for i in range(target.replicas)]


class EnvPool:
    """N environment servers behind the interface of one (see the module's docstring)."""

    def __init__(self, target: EnvTarget, log_dir: Path, step_timeout_s: float = 60.0, episode_timeout_s: float = DEFAULT_EPISODE_TIMEOUT_S):
        self.target = target
        self.step_timeout_s = step_timeout_s
        self.episode_timeout_s = episode_timeout_s
        self.replicas = [RunningEnv(t, log_dir, step_timeout_s, episode_timeout_s) for t in replica_targets(target)]
        self.launched = target.url is None and not target.urls
        self.active = [0] * len(self.replicas)  # sessions open on each replica now
        self.sessions = [0] * len(self.replicas)  # sessions each replica was given in all
        self._down_until = [0.0] * len(self.replicas)
        self._turn = 0  # rotates the tie-break between equally loaded replicas
        self._room: asyncio.Condition | None = None
        self._probes: dict[int, asyncio.Task[None]] = {}  # /health probes of down servers, by replica

    # --- what the Evaluator asks of one server ---
    def start(self) -> EnvPool:
        """Start (launched) or probe (URLs) every replica at once; one that cannot start stops them all."""
        with ThreadPoolExecutor(max_workers=len(self.replicas)) as threads:
            futures = [threads.submit(r.start) for r in self.replicas]
            errors = [f.exception() for f in futures]
        failed = next((e for e in errors if e is not None), None)
        if failed is not None:
            self.stop()
            raise failed
        return self

    def stop(self) -> None:
        with ThreadPoolExecutor(max_workers=len(self.replicas)) as threads:
            list(threads.map(lambda r: r.stop(), self.replicas))

    @property
    def env_name(self) -> str | None:
        return self.replicas[0].env_name

    @property
    def session_limit(self) -> int | None:
        """Sessions at once over all replicas, when every replica's limit is known."""
        limits = [r.session_limit for r in self.replicas]
        return None if any(v is None for v in limits) else sum(limits)  # type: ignore[arg-type]

    @property
    def restarts(self) -> int:
        return sum(r.restarts for r in self.replicas)

    def capacity(self, refused_at: int) -> int | None:
        """After a replica refused a session at capacity (the pool's session noted which):
        the sessions all replicas take at once, when known."""
        return self.session_limit

    def splits(self) -> list[str] | None:
        return self._first_answer(lambda r: r.splits())

    def tasks(self, split: str) -> list[dict[str, Any]] | None:
        return self._first_answer(lambda r: r.tasks(split))

    def _first_answer(self, ask: Any) -> Any:
        """Every replica serves the same environment: the first that answers speaks for all
        (those whose Task API answered at start first)."""
        error: EnvError | None = None
        for replica in sorted(self.replicas, key=lambda r: r.env_name is None):
            try:
                return ask(replica)
            except EnvError as exc:
                error = error or exc
        assert error is not None
        raise error

    async def _first_async_answer(self, ask: Any) -> Any:
        error: EnvError | None = None
        for replica in sorted(self.replicas, key=lambda r: r.env_name is None):
            try:
                return await ask(replica)
            except EnvError as exc:
                error = error or exc
        assert error is not None
        raise error

    async def reset_observation(self, **kwargs: Any) -> dict[str, Any]:
        return await self._first_async_answer(lambda r: r.reset_observation(**kwargs))

    async def seeds_honoured(self, seed: int, split: str = "train", index: int = 0) -> bool:
        return await self._first_async_answer(lambda r: r.seeds_honoured(seed, split, index))

    async def kind(self) -> EnvKind | None:
        """Every replica's kind is asked (a URL in the list that is no OpenEnv server stops
        the run here); the first one known is the pool's."""
        kinds = await asyncio.gather(*(r.kind() for r in self.replicas))
        return next((k for k in kinds if k is not None), None)

    def crash_report(self) -> str:
        return ""

    def session(self) -> PoolSession:
        return PoolSession(self)

    # --- choosing a replica ---
    def _has_room(self, i: int) -> bool:
        limit = self.replicas[i].session_limit
        return limit is None or self.active[i] < limit

    def _choose(self) -> int | None:
        """The least-loaded replica with room that is not down; None when all are full."""
        n = len(self.replicas)
        order = [(self._turn + k) % n for k in range(n)]
        now = time.monotonic()
        for i in order:  # a down server whose time out is over is asked for /health, off the hot path
            if 0 < self._down_until[i] <= now and i not in self._probes:
                self._probes[i] = asyncio.create_task(self._probe(i))
        up = [i for i in order if self._down_until[i] == 0.0]
        candidates = [i for i in (up or order) if self._has_room(i)]  # all down: try them anyway
        if not candidates:
            return None
        return min(candidates, key=lambda i: self.active[i])  # min keeps the rotated order on ties

    async def _probe(self, index: int) -> None:
        """Back in the pool once it answers /health; else down for another DOWN_S."""
        try:
            healthy = await self.replicas[index].answers_health()
            self._down_until[index] = 0.0 if healthy else time.monotonic() + DOWN_S
            if healthy and self._room is not None:
                async with self._room:
                    self._room.notify_all()
        finally:
            self._probes.pop(index, None)

    async def acquire(self) -> int:
        if self._room is None:
            self._room = asyncio.Condition()
        async with self._room:
            while True:
                index = self._choose()
                if index is not None:
                    break
                await self._room.wait()
            self._turn += 1
            self.active[index] += 1
            self.sessions[index] += 1
            return index

    async def release(self, index: int, error: BaseException | None) -> None:
        replica = self.replicas[index]
        refused = capacity_limit(str(error)) if isinstance(error, EnvError) else None
        if refused is not None:
            # One server's limit; launched replicas are one app, so it is theirs too.
            for other in self.replicas if self.launched else [replica]:
                other.session_limit = refused
        elif isinstance(error, EnvError) and not self.launched and not await replica.answers_health():
            self._down_until[index] = time.monotonic() + DOWN_S
        assert self._room is not None
        async with self._room:
            self.active[index] -= 1
            self._room.notify_all()


class PoolSession:
    """One episode's session on the replica the pool chose: the replica's own EnvSession
    (reset, tools, call_tool), with the pool's bookkeeping around it."""

    def __init__(self, pool: EnvPool):
        self.pool = pool
        self.index: int | None = None
        self._inner: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or self._inner is None:
            raise AttributeError(name)
        return getattr(self._inner, name)

    async def __aenter__(self) -> PoolSession:
        index = await self.pool.acquire()
        inner = self.pool.replicas[index].session()
        try:
            await inner.__aenter__()
        except BaseException as exc:
            await self.pool.release(index, exc)
            raise
        self.index, self._inner = index, inner
        return self

    async def __aexit__(self, *exc: object) -> Any:
        inner, self._inner = self._inner, None
        try:
            return await inner.__aexit__(*exc)
        finally:
            assert self.index is not None
            await self.pool.release(self.index, exc[1] if isinstance(exc[1], BaseException) else None)
