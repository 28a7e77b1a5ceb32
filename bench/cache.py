"""Benchmark: a repeated evaluation is answered from the model cache.

Runs the real CLI twice, `agentopt eval` on the counter environment with the same agent,
rubric, episodes and cache folder (AGENTOPT_HOME), against a model server that answers
after `--delay` seconds. The second run must report 0 model calls. Prints each run's
"model calls" line, the evaluation's own wall time (as the CLI reports it: environment
start-up included) and the whole process's wall time (Python and OpenEnv imports too).

    .venv/bin/python bench/cache.py                              # 50 episodes, 200 ms model
    .venv/bin/python bench/cache.py --episodes 200 --delay 0
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

from common import ENV, REPO, machine, model_server, tmpdir, write_inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--sandbox", choices=["local", "none"], default="local")
    args = parser.parse_args()
    folder = tmpdir("cache")
    print(f"machine: {machine()}")
    env = {**os.environ, "AGENTOPT_HOME": str(folder / "cache")}
    with model_server(delay=args.delay) as server:
        agent, rubric = write_inputs(folder, server.url)
        argv = [
            sys.executable, "-m", "agentopt", "eval", str(agent), "-r", str(rubric), "--env", ENV, "--split", "val",
            "--episodes", str(args.episodes), "--concurrency", str(args.concurrency), "--runs-dir", str(folder / "runs"),
        ] + (["--no-sandbox"] if args.sandbox == "none" else [])
        results = []
        for label in ("first", "repeat"):
            server.reset()
            started = time.perf_counter()
            out = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
            process_wall = time.perf_counter() - started
            line = next((text for text in out.stdout.splitlines() if text.startswith("model calls:")), f"(no summary; exit {out.returncode}) {out.stderr[-500:]}")
            wall = re.search(r"wall ([0-9.]+)s", line)
            results.append((label, line, float(wall.group(1)) if wall else float("nan"), process_wall, server.stats()["requests"], out.returncode))
    for label, line, _wall, process_wall, requests, code in results:
        print(f"{label:>6}: {line.split(' · report')[0]}; process {process_wall:.1f}s; model server saw {requests} requests; exit {code}")
    first, repeat = results
    print(f"repeat/first evaluation wall: {repeat[2] / first[2]:.2f} ({first[2]:.1f}s -> {repeat[2]:.1f}s), model delay {args.delay * 1000:.0f} ms, {args.episodes} episodes x 6 turns at concurrency {args.concurrency}")
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
