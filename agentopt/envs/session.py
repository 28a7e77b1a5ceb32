"""The harness side of OpenEnv: launch or connect to a server, one WebSocket session per episode.

The harness only speaks the OpenEnv protocol (OpenEnv's own clients over `/ws`, plus the
HTTP Task API for listing a split's tasks), so any OpenEnv server URL works, of either kind
(agentopt.envs.kind): an MCP tool environment (list_tools and call_tool as steps over the WebSocket; see
mcp_session.py) or a typed-action one (`GenericEnvClient`: one tool, the action, sent as a
step; see typed_session.py). `EnvSession` hides which: reset, tools, call_tool.

Pitfalls handled here:
- the plain HTTP /reset and /step endpoints are stateless, so every episode uses its own
  WebSocket session;
- after a timed-out request OpenEnv's client silently reconnects to a *fresh* session on
  the next call; we treat any timeout or dropped connection as the end of the episode
  (an infrastructure error) and never send another step on that session.

A server we launch runs sandboxed (`sandbox="local"`, or in a container with "docker")
unless the target says `sandbox="none"` (docs/sandbox.md). When it dies (a crash, or a
memory or CPU limit), the episode that was using it ends as an environment error and the
next episode starts a fresh server, so a run goes on. Every step has a wall-clock limit (`step_timeout_s`) and so does every
episode's use of the environment (`episode_timeout_s`). When a step or a connect fails and
the server has not exited, it must answer GET /health within HEALTH_TIMEOUT_S: one that
does not is wedged (an async tool blocking its event loop) and is killed and replaced at
once, and the episode's error says so (a server given by URL is only reported). At most
MAX_RESTARTS replacements, crashes and wedges together, per evaluation.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from agentopt.envs.builtin import BUILTIN_ENVS
from agentopt.envs.client import _close_quietly, _tls_context, session_client
from agentopt.envs.kind import EnvKind, actions_for, probe
from agentopt.envs.observation import (  # noqa: F401 - PROMPT_FIELDS re-exported
    PROMPT_FIELDS,
    ResetOutcome,
    StepOutcome,
    ToolSpec,
    observation_fields,
    reset_text,
)
from agentopt.errors import EnvError, InfraError, Problem, UsageError, ValidationError, one_line
from agentopt.names import safe_name
from agentopt.redact import redact, redact_url
from agentopt.sandbox import SandboxConfig
from agentopt.sandbox.kinds import sandbox_for
from agentopt.servers import ServerProcess, python_module_argv

MAX_RESTARTS = 20  # fresh servers after crashes or wedges, per evaluation; then episodes fail at once
HEALTH_TIMEOUT_S = 5.0  # after a failed step or connect: a server that does not answer /health in this long is wedged
DEFAULT_EPISODE_TIMEOUT_S = 900.0
CAPACITY_RETRIES = 8  # a session refused at capacity is asked for again this often (backoff up to 1 s)
_CAPACITY = re.compile(r"at capacity: (\d+)/(\d+) sessions? active", re.I)


def capacity_limit(error: str | None) -> int | None:
    """The session limit M in OpenEnv's refusal `Server at capacity: N/M sessions active`;
    None when `error` is not that refusal."""
    match = _CAPACITY.search(error or "")
    return int(match.group(2)) if match else None


@dataclass(frozen=True)
class EnvTarget:
    """What `--env` names: a built-in or `module:factory` app to launch, or a running server's URL."""

    name: str
    options: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    sandbox: str = "local"  # how a launched server is confined: "local", "docker" or "none" (--sandbox)
    sandbox_image: str | None = None  # with "docker": --sandbox-image (else AGENTOPT_SANDBOX_IMAGE, else the default)
    replicas: int = 1  # launched: how many servers of it to run (--env-replicas N; agentopt/envs/replicas.py)
    urls: tuple[str, ...] = ()  # running servers given as a list (--env URL1,URL2): sessions spread over them
    replica: int | None = None  # one replica of a pool: its index (labels and log files say which)

    @property
    def label(self) -> str:
        """How messages name it: a URL with its credentials hidden."""
        if self.urls:
            return ",".join(redact_url(u) or u for u in self.urls)
        base = redact_url(self.url) or (f"{self.name}:{self.options['path']}" if "path" in self.options else self.name)
        return base if self.replica is None else f"{base} (replica {self.replica + 1})"


def parse_env(arg: str, sandbox: str = "local", sandbox_image: str | None = None, replicas: int = 1) -> EnvTarget:
    """What `--env ARG` names. `replicas` > 1 (--env-replicas) launches that many servers of a
    launched environment; several running servers are given as comma-separated URLs."""
    sandbox_for(sandbox)  # an unknown mode is a usage error naming the registered ones
    SandboxConfig.from_env(sandbox)  # so is a bad limit, before any launch
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise UsageError(f"--env-replicas {replicas!r}: give 1 or more")
    if URL_SCHEME.match(arg):
        if replicas > 1:
            raise UsageError(
                "--env-replicas launches servers; for servers you run, give each one's URL: --env URL1,URL2,..."
            )
        if "," in arg:
            urls = tuple(parse_env_url(part.strip()) for part in arg.split(","))
            if len(set(urls)) != len(urls):
                raise UsageError(one_line(f"--env: a URL is listed twice in {redact_url(arg)!r}"))
            return EnvTarget(name="remote", urls=urls) if len(urls) > 1 else EnvTarget(name="remote", url=urls[0])
        return EnvTarget(name="remote", url=parse_env_url(arg))
    target = replace(_parse_launched(arg, sandbox), sandbox_image=sandbox_image, replicas=replicas)
    # Fail closed before anything starts: e.g. no Docker engine, no server.
    problem = sandbox_for(sandbox).preflight(SandboxConfig.from_env(sandbox, sandbox_image))
    if problem is not None:
        raise InfraError(problem)
    return target


URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


def parse_env_url(arg: str) -> str:
    """A running server's URL as the base the harness uses (`http(s)://host[:port][/path]`);
    a malformed one is a usage error naming what is wrong."""
    shown = re.sub(r"(//)[^/@]*@", r"\1***@", arg)  # never echo credentials

    def bad(why: str) -> UsageError:
        return UsageError(one_line(f"--env: invalid URL {shown!r}: {why}"))

    try:
        parts = urlsplit(arg)
        port = parts.port  # a non-numeric or out-of-range port raises here
    except ValueError as exc:
        raise bad(str(exc)) from None
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise bad(f"unsupported scheme {parts.scheme!r}: use http://, https://, ws:// or wss://")
    if not parts.hostname:
        raise bad("no host")
    if port == 0:
        raise bad("port 0")
    if any(c.isspace() or not c.isprintable() for c in arg):
        raise bad("it contains a space or a control character")
    if parts.query or parts.fragment or arg.endswith(("?", "#")):
        raise bad("a server's base URL takes no query or fragment")
    url = urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise bad(str(exc)) from None
    return url


def _parse_launched(arg: str, sandbox: str) -> EnvTarget:
    name, sep, rest = arg.partition(":")
    if name in BUILTIN_ENVS:
        if name == "dataset":
            if not rest:
                raise UsageError("--env dataset needs a file: --env dataset:path/to/data.jsonl")
            path = Path(rest)
            if not path.is_file():
                raise UsageError(f"--env: dataset file not found: {rest}")
            check_dataset(path)
            return EnvTarget(name=name, options={"path": str(path.resolve())}, sandbox=sandbox)
        return EnvTarget(name=name, sandbox=sandbox)
    if sep and rest:
        return EnvTarget(name=arg, sandbox=sandbox)  # module:factory
    raise UsageError(f"--env: unknown environment {arg!r}: use {', '.join(BUILTIN_ENVS)}, dataset:FILE, module:factory or a URL")


def check_dataset(path: Path) -> None:
    """Load a dataset file here, so its mistakes are reported as file:line before any launch."""
    from agentopt.envs.builtin.dataset.data import load_dataset, load_schema
    from agentopt.envs.builtin.jsonl import DataError

    try:
        load_dataset(path)
        load_schema(path)
    except DataError as exc:
        raise ValidationError(Problem(exc.path, exc.line, 0, "", exc.message)) from None


class RunningEnv:
    """An environment server for the length of an evaluation: launched by us, or given by URL."""

    def __init__(
        self,
        target: EnvTarget,
        log_dir: Path,
        step_timeout_s: float = 60.0,
        episode_timeout_s: float = DEFAULT_EPISODE_TIMEOUT_S,
    ):
        self.target = target
        self.step_timeout_s = step_timeout_s
        self.episode_timeout_s = episode_timeout_s
        self._process: ServerProcess | None = None
        self.restarts = 0
        self.generation = 0  # which launch of the server is current: +1 at each restart
        self.health_timeout_s = HEALTH_TIMEOUT_S
        self._restart_lock: asyncio.Lock | None = None
        if target.url is None:
            options = [f"{k}={v}" for k, v in target.options.items()]
            self._process = ServerProcess(
                name=f"environment server {target.label!r}",
                argv=python_module_argv("agentopt.envs.serve", target.name, *options),
                log_path=log_dir / f"env-{safe_name(target.name)}{'' if target.replica is None else f'-r{target.replica + 1}'}.log",
                sandbox=SandboxConfig.from_env(target.sandbox, target.sandbox_image),
            )
        self.url = target.url or ""
        self.env_name: str | None = None  # the Task API's name for the environment; None: no Task API
        self.session_limit: int | None = None  # sessions at once, when the server publishes it
        self._mcp_tools: tuple[int, tuple[Any, ...]] | None = None  # (generation, tools): an MCP server's tools, listed once per launch

    def start(self) -> RunningEnv:
        if self._process is not None:
            self._process.start()
            self.url = self._process.url
        self.env_name = self._task_api_name()
        self.session_limit = self._published_session_limit()
        return self

    def _get_json(self, path: str) -> Any:
        """GET `path` as JSON; None when the server does not answer it (404, an error, not JSON)."""
        try:
            response = httpx.get(f"{self.url}{path}", timeout=10, verify=_tls_context())
            return response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, OSError):
            return None

    def _task_api_name(self) -> str | None:
        """The environment's name in OpenEnv's Task API; None without it (openenv-core 0.3
        servers, any app without /list_environments: their 404 body is a dict)."""
        names = self._get_json("/list_environments")
        if isinstance(names, list) and names and isinstance(names[0], str) and names[0]:
            return names[0]
        return None

    def _published_session_limit(self) -> int | None:
        """The server's session limit when /metadata publishes one (OpenEnv's own does not:
        then the capacity error's `N/M sessions active` tells it)."""
        meta = self._get_json("/metadata")
        if isinstance(meta, dict):
            for key in ("max_concurrent_envs", "max_sessions", "max_concurrent_sessions"):
                value = meta.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    return value
        return None

    def capacity(self, refused_at: int) -> int | None:
        """The sessions it takes at once, learnt from a refusal `at capacity: N/M` (M = `refused_at`)."""
        self.session_limit = refused_at
        return refused_at

    def splits(self) -> list[str] | None:
        """The split names the Task API lists; None when it does not list them."""
        if not self.env_name:
            return None
        splits = self._get_json(f"/{self.env_name}/splits")
        if not isinstance(splits, list):
            return None
        names = [s.get("name") if isinstance(s, dict) else s for s in splits]
        return [str(n) for n in names if isinstance(n, (str, int))] or None

    async def reset_observation(self, **kwargs: Any) -> dict[str, Any]:
        """One reset in a fresh session of its own, as the server answers it (observation,
        reward, done). A server at capacity (another session still closing) is asked again."""
        await self.ensure_running()
        for attempt in range(CAPACITY_RETRIES + 1):
            client = session_client(self.url, self.step_timeout_s)
            try:
                await client.connect()
                result = await asyncio.wait_for(client.reset(**kwargs), self.step_timeout_s)
                return {"observation": result.observation, "reward": result.reward, "done": result.done}
            except Exception as exc:  # noqa: BLE001 - every failure here is the environment's
                if capacity_limit(str(exc)) is None or attempt == CAPACITY_RETRIES:
                    raise EnvError(redact(f"environment {self.target.label}: reset failed: {type(exc).__name__}: {exc}"[:400])) from None
            finally:
                await _close_quietly(client)
            await asyncio.sleep(min(0.1 * 2**attempt, 1.0))
        raise AssertionError("unreachable")

    async def seeds_honoured(self, seed: int, split: str = "train", index: int = 0) -> bool:
        """Whether two resets with one seed give the same observation (ids and clocks aside)."""
        from agentopt.envs.tasks import comparable

        first = await self.reset_observation(seed=seed, split=split, index=index)
        second = await self.reset_observation(seed=seed, split=split, index=index)
        return comparable(first) == comparable(second)

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()

    async def ensure_running(self) -> None:
        """Before an episode: start a fresh server if the one we launched has died."""
        if self._process is None or self._process.running or self._process.port is None:
            return
        if self._restart_lock is None:
            self._restart_lock = asyncio.Lock()
        async with self._restart_lock:
            if self._process.running:
                return
            if self.restarts >= MAX_RESTARTS:
                raise EnvError(f"environment {self.target.label}: the server died {self.restarts + 1} times; not restarting it{self.crash_report()}")
            self.restarts += 1
            try:
                await self._relaunch()
            except InfraError as exc:
                raise EnvError(f"environment {self.target.label}: restarting the server failed: {exc}") from None

    async def _relaunch(self) -> None:
        assert self._process is not None
        self.generation += 1  # sessions on the old server now know it was replaced
        await asyncio.to_thread(self._process.start)
        self.url = self._process.url

    async def answers_health(self) -> bool:
        """Whether the server answers GET /health with 200 within `health_timeout_s`."""
        try:
            async with asyncio.timeout(self.health_timeout_s):  # the whole exchange, not each read
                async with httpx.AsyncClient(timeout=self.health_timeout_s, verify=_tls_context()) as client:
                    return (await client.get(f"{self.url}/health")).status_code == 200
        except (TimeoutError, httpx.HTTPError, OSError):
            return False

    async def health_report(self, generation: int) -> str:
        """After a step or a connect failed on the server of launch `generation` (and it did
        not exit): "" when it still answers /health; else why not, having killed and
        replaced it when we launched it. A wedged server (an async tool that blocks its
        event loop) never exits by itself: without this, every later episode would fail."""
        if self.generation != generation:
            return self._replaced_note()  # another episode found it wedged and replaced it
        if await self.answers_health():
            return ""
        if self._process is None:
            return f" (the environment server is not answering /health within {self.health_timeout_s:g} s; a server given by URL is not restarted)"
        if self._restart_lock is None:
            self._restart_lock = asyncio.Lock()
        async with self._restart_lock:
            if self.generation != generation:
                return self._replaced_note()
            if self.restarts >= MAX_RESTARTS:
                await asyncio.to_thread(self._process.stop, 1.0)
                return (f" (the environment server stopped answering /health within {self.health_timeout_s:g} s; "
                        f"it was stopped: its {MAX_RESTARTS} restarts are used up)")
            self.restarts += 1
            await asyncio.to_thread(self._process.stop, 1.0)  # wedged: SIGTERM would not be handled
            try:
                await self._relaunch()
            except InfraError as exc:
                return (f" (the environment server stopped answering /health within {self.health_timeout_s:g} s; "
                        f"restarting it failed: {exc})")
        return self._replaced_note()

    def _replaced_note(self) -> str:
        return f" (the environment server stopped answering /health within {self.health_timeout_s:g} s; it was restarted)"

    async def settle(self, wait_s: float = 0.5) -> None:
        """Give a launched server that just dropped a connection a moment to finish exiting,
        so `crash_report` can tell a crash from a network error (the socket closes before
        the process is reaped)."""
        if self._process is None:
            return
        deadline = time.monotonic() + wait_s
        while self._process.running and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    def crash_report(self) -> str:
        """Why the server stopped answering, when we launched it and it died."""
        if self._process is not None and not self._process.running:
            return f" (the server exited: {self._process.failure_summary()})"
        return ""

    def tasks(self, split: str) -> list[dict[str, Any]] | None:
        """The split's task specs through OpenEnv's Task API; None when the env has no Task API."""
        if not self.env_name:
            return None
        try:
            response = httpx.post(f"{self.url}/{self.env_name}/tasks", json={"split": split}, timeout=30)
        except httpx.HTTPError as exc:
            raise EnvError(f"environment {self.target.label}: listing tasks failed: {exc}{self.crash_report()}") from None
        if response.status_code in (404, 405, 501):
            return None
        if response.status_code != 200:
            raise EnvError(one_line(f"environment {self.target.label}: split {split!r}: {response.text[:200]}"))
        try:
            tasks = response.json().get("tasks", [])
            if not isinstance(tasks, list):
                raise TypeError("'tasks' is not a list")
        except (ValueError, AttributeError, TypeError) as exc:
            raise EnvError(one_line(f"environment {self.target.label}: listing tasks: the Task API answered something else than a task list ({exc})")) from None
        return [t if isinstance(t, dict) else {"id": str(t)} for t in tasks]

    def session(self) -> EnvSession:
        return EnvSession(self)

    async def kind(self) -> EnvKind | None:
        """Which kind of OpenEnv server this is (agentopt.envs.kind), asked once; None while
        it cannot be reached (the session's connect then says why). A URL that answers but
        is not an OpenEnv server raises NotAnOpenEnvServer, which stops the run."""
        known: EnvKind | None = getattr(self, "_kind", None)
        if known is not None:
            return known
        if getattr(self, "_kind_lock", None) is None:
            self._kind_lock = asyncio.Lock()
        async with self._kind_lock:
            if getattr(self, "_kind", None) is None:
                self._kind = await probe(self.url, self.target.label, verify=_tls_context())
        return self._kind


class EpisodeTimeout(Exception):
    """The episode's wall-clock limit for the environment ran out."""


class EnvSession:
    """One episode's WebSocket session, whichever kind the server is (agentopt.envs.kind):
    `reset`, `tools`, `call_tool`. Any transport failure raises EnvError and ends it."""

    def __init__(self, env: RunningEnv):
        self.env = env
        self._client: Any = None
        self._actions: Any = None  # how the agent acts: its environment kind's Actions
        self._deadline = 0.0
        self._generation = env.generation  # the launch of the server this session talks to
        self.was_reset = False  # tools listed before any reset go another way (mcp_session.py)

    async def __aenter__(self) -> EnvSession:
        self._deadline = time.monotonic() + self.env.episode_timeout_s
        try:
            await self._connect()
        except EnvError:
            # Nothing of the episode was played yet: when the server we launched had died (or
            # wedged) and is now replaced, connect once more, to the new one. A crash then costs
            # only the episodes that were open on it, not the ones about to start.
            generation = self._generation
            await self.env.ensure_running()
            if self.env.generation == generation:
                raise
            await self._connect()
        return self

    async def _connect(self) -> None:
        await self.env.ensure_running()  # a fresh server if the last one died
        self._generation = self.env.generation
        self._actions = actions_for(await self.env.kind())  # the kind's (agentopt.envs.kind.ENV_KINDS)
        # A WebSocket client only (OpenEnv's GenericEnvClient): no HTTP client, no HTTP call per episode.
        self._client = self._actions.client(self.env.url, self.env.step_timeout_s)
        await self._guard("connect", self._client.connect())

    async def __aexit__(self, *exc: Any) -> None:
        client, self._client = self._client, None
        if client is not None:
            await _close_quietly(client)

    def _live(self) -> Any:
        """The open client; EnvError once a failure closed it (checked before a request is built)."""
        if self._client is None:
            raise EnvError("the environment session is closed")
        return self._client

    async def _guard(self, what: str, awaitable: Any) -> Any:
        if self._client is None:
            raise EnvError("the environment session is closed")
        remaining = self._deadline - time.monotonic()
        try:
            if remaining < self.env.step_timeout_s:  # the episode's limit comes first
                try:
                    async with asyncio.timeout(max(remaining, 0.001)):  # wait_for on 3.11 can swallow a Ctrl-C
                        return await awaitable
                except TimeoutError:
                    raise EpisodeTimeout(f"the episode used its {self.env.episode_timeout_s:g} s wall-clock limit") from None
            return await awaitable
        except Exception as exc:  # noqa: BLE001 - every failure here is the environment's
            client, self._client = self._client, None  # never reuse: it would open a fresh session
            # Closing waits for the server's close handshake (up to 10 s when it is wedged):
            # meanwhile, find out whether it died or stopped answering.
            closing = asyncio.create_task(_close_quietly(client))
            try:
                kind = "timed out" if "Timeout" in type(exc).__name__ else "failed"
                if kind == "failed":
                    await self.env.settle()
                why = self.env.crash_report() or await self.env.health_report(self._generation)
            finally:
                await closing
            raise EnvError(
                redact(f"environment {self.env.target.label}: {what} {kind}: {type(exc).__name__}: {exc}"[:400]) + why
            ) from None

    async def reset(self, split: str, index: int, seed: int | None = None, **extra: Any) -> ResetOutcome:
        """Reset for one episode: `split`, `index` and `seed` (and any `extra` reset arguments)
        go to the environment's reset, which takes those its signature names."""
        kwargs: dict[str, Any] = {"split": split, "index": index, **extra}
        if seed is not None:
            kwargs["seed"] = seed
        result = await self._guard("reset", self._live().reset(**kwargs))
        self.was_reset = True
        fields = observation_fields(result)
        context = dict(fields.get("context") or {}) if isinstance(fields.get("context"), dict) else {}
        # Every field of the observation (metadata included) is a system prompt variable;
        # agentopt's own environments give theirs in `context`, as before.
        variables = {k: v for k, v in fields.items() if k not in ("done", "reward")}
        return ResetOutcome(prompt=reset_text(fields), context={**variables, **context}, fields=fields)

    async def tools(self) -> list[ToolSpec]:
        return await self._actions.tools(self)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> StepOutcome:
        """One action of the agent: an MCP tool call, or a typed environment's step."""
        return await self._actions.call_tool(self, name, arguments)
