"""What the benchmarks share: the fake model server, the counter agent and rubric, and
CPU accounting for the three processes (harness, environment server, model server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# The environment server is launched as `python -m agentopt.envs.serve bench.counter_env:...`:
# it needs the repo root on its path too.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)

from agentopt.servers import free_port  # noqa: E402

ENV = "bench.counter_env:build_counter"
ADDS = 5  # add steps per episode; then one `done`: 6 model turns and 6 tool calls per episode

AGENT = """\
name: counter
model: openai/bench
model_params: {{api_base: "{url}", max_tokens: 32, timeout_s: 60}}
system_prompt: |
  You keep a running total. The total starts at {{{{ start }}}}. Call add, then done.
{padding}loop: {{max_turns: 12}}
"""

RUBRIC = """\
name: counter
pass_threshold: 0.5
criteria:
  - {id: right_total, description: The reported total is the target., weight: 3, check: {type: env_reward}}
  - {id: reported, description: The agent reports with done., weight: 1, check: {type: tool_called, tool: done}}
  - {id: added, description: The agent adds before reporting., weight: 1, check: {type: tool_called, tool: add}}
  - {id: few_turns, description: At most ten turns., weight: 1, check: {type: max_turns, limit: 10}}
"""


def machine() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, Python {sys.version.split()[0]}"


class ModelServer:
    def __init__(self, url: str, proc: subprocess.Popen):
        self.url = url
        self.proc = proc

    def stats(self) -> dict:
        return httpx.get(self.url + "/stats", timeout=10).json()

    def reset(self) -> None:
        httpx.post(self.url + "/stats/reset", timeout=10)


@contextmanager
def model_server(delay: float = 0.0, adds: int = ADDS) -> Iterator[ModelServer]:
    port = free_port()
    argv = [sys.executable, str(REPO / "bench" / "fake_model.py"), "--port", str(port), "--delay", str(delay), "--adds", str(adds)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    server = ModelServer(f"http://127.0.0.1:{port}", proc)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(server.url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def write_inputs(folder: Path, model_url: str, padding_words: int = 0) -> tuple[Path, Path]:
    """The agent spec and rubric files. `padding_words` lengthens the system prompt
    (bigger traces, for the memory benchmark)."""
    padding = ""
    if padding_words:
        words = " ".join(f"word{i}" for i in range(padding_words))
        padding = f"  Background: {words}\n"
    agent = folder / "agent.yaml"
    agent.write_text(AGENT.format(url=model_url + "/v1", padding=padding), encoding="utf-8")
    rubric = folder / "rubric.yaml"
    rubric.write_text(RUBRIC, encoding="utf-8")
    return agent, rubric


def load_inputs(folder: Path, model_url: str, padding_words: int = 0):
    import agentopt.scoring  # noqa: F401 - registers the check types a rubric is validated against
    from agentopt.spec.load import load_agent, load_rubric

    agent, rubric = write_inputs(folder, model_url, padding_words)
    return load_agent(str(agent)), load_rubric(str(rubric))


def tmpdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"agentopt-bench-{prefix}-"))


def session_cpu_s(sid: int) -> float:
    """CPU seconds (user + system) of every live process in session `sid`: a launched
    server runs in its own session, whatever wraps it."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is field 3 (state): session is field 6, utime 14, stime 15.
        if int(fields[3]) == sid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def env_server_pids(evaluator) -> list[int]:
    """The launched environment server's pid, or each replica's."""
    servers = getattr(evaluator.env, "replicas", [evaluator.env])
    return [server._process._proc.pid for server in servers]


def env_cpu_s(pids: list[int]) -> float:
    return sum(session_cpu_s(pid) for pid in pids)


def print_json(label: str, data: dict) -> None:
    print(f"{label}: {json.dumps(data)}")


async def measure(
    spec, rubric, server: ModelServer, folder: Path, episodes: int, concurrency: int, warmup: int = 0, sandbox: str = "local",
    replicas: int = 1,
) -> dict:
    """Play `episodes` counter episodes at `concurrency` through one Evaluator (as
    `agentopt eval` does: each trace scored and appended to traces.jsonl), after
    `warmup` untimed ones, and return the figures. `sandbox` is agentopt's environment
    sandbox mode: "local" (the default, a namespace behind a relay) or "none"; `replicas`
    is --env-replicas (environment CPU is summed over the replicas)."""
    from agentopt.envs.session import EnvTarget
    from agentopt.evaluation import EvalConfig, Evaluator
    from agentopt.store.run import RunFolder

    run = RunFolder.create(folder / "runs", "bench", f"c{concurrency}")
    config = EvalConfig(split="val", concurrency=concurrency, cache_path=None)
    async with Evaluator(EnvTarget(name=ENV, sandbox=sandbox, replicas=replicas), rubric, run.logs, config) as ev:
        tasks = await ev.tasks("val")
        if warmup:
            await ev.run(spec, tasks[:warmup])
        mine = tasks[warmup : warmup + episodes]
        env_pids = env_server_pids(ev)
        totals = {"steps": 0, "errors": 0, "score": 0.0, "first_error": None}

        def record(episode) -> None:
            run.append_episode(episode.to_record())
            totals["steps"] += episode.trace.turns
            if episode.score.error:
                totals["errors"] += 1
                totals["first_error"] = totals["first_error"] or episode.score.error
            else:
                totals["score"] += episode.score.score

        server.reset()
        env_cpu0, cpu0, t0 = env_cpu_s(env_pids), time.process_time(), time.perf_counter()
        await ev.run(spec, mine, on_episode=record)
        wall = time.perf_counter() - t0
        harness_cpu, env_cpu = time.process_time() - cpu0, env_cpu_s(env_pids) - env_cpu0
    model = server.stats()
    steps = max(1, totals["steps"])
    n = len(mine)
    return {
        "episodes": n,
        "concurrency": concurrency,
        "sandbox": sandbox,
        "replicas": replicas,
        "steps": totals["steps"],
        "errors": totals["errors"],
        "first_error": totals["first_error"],
        "mean_score": totals["score"] / max(1, n - totals["errors"]),
        "wall_s": wall,
        "episodes_per_s": n / wall,
        "wall_ms_per_episode": 1000 * wall / n,
        "wall_ms_per_step": 1000 * wall / steps,
        "model_requests": model["requests"],
        "model_handle_ms_per_step": 1000 * model["handle_s"] / steps,
        "overhead_ms_per_step": 1000 * (wall - model["handle_s"]) / steps,  # everything but the model server's handling
        "cpu_ms_per_step": {
            "harness": 1000 * harness_cpu / steps,
            "env_server": 1000 * env_cpu / steps,
            "model_server": 1000 * model["cpu_s"] / steps,
        },
    }
