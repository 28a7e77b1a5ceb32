"""Benchmark: peak memory (RSS) of `agentopt eval` over 1,000 episodes.

Runs the real CLI (`agentopt eval`, in a child process that reports its own peak RSS
from getrusage; the environment and model servers are other processes and not counted)
on the counter environment (3-turn episodes by default) with an instant model server, once with `--small` episodes
and once with `--episodes`. Each trace carries a ~14 KB system prompt, so a harness that
kept every trace would grow by tens of MB; one that streams traces to traces.jsonl stays
flat. Prints both peaks and the growth per episode.

    .venv/bin/python bench/memory.py                      # 100 then 1,000 episodes
    .venv/bin/python bench/memory.py --episodes 1000 --concurrency 16
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from common import ENV, REPO, machine, model_server, tmpdir, write_inputs

PADDING_WORDS = 2000  # ~14 KB of system prompt in every trace


def child(argv: list[str]) -> None:
    """Run `agentopt eval ARGV` in this process and print its peak RSS as JSON."""
    from agentopt.cli import app

    started = time.perf_counter()
    code = 0
    try:
        app(argv, standalone_mode=False)
    except SystemExit as exc:  # noqa: PERF203
        code = exc.code or 0
    except Exception as exc:  # noqa: BLE001 - report it, the parent prints it
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        raise
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_mib": peak_kib / 1024, "wall_s": time.perf_counter() - started, "exit": code}))


def run(episodes: int, concurrency: int, sandbox: str, model_url: str) -> dict:
    folder = tmpdir(f"memory-{episodes}")
    agent, rubric = write_inputs(folder, model_url, padding_words=PADDING_WORDS)
    argv = [
        "eval", str(agent), "-r", str(rubric), "--env", ENV, "--split", "val", "--episodes", str(episodes),
        "--concurrency", str(concurrency), "--no-cache", "--runs-dir", str(folder / "runs"),
    ]
    if sandbox == "none":
        argv.append("--no-sandbox")
    env = {**os.environ, "AGENTOPT_HOME": str(folder / "cache")}
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(argv)], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    try:
        result = json.loads(last)
    except ValueError:
        raise SystemExit(f"the eval child failed (exit {out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}") from None
    traces = next((folder / "runs").iterdir()) / "traces.jsonl"
    result["traces_mib"] = traces.stat().st_size / 2**20
    result["lines"] = sum(1 for _ in traces.open())
    result["summary_line"] = next((text for text in out.stdout.splitlines() if text.startswith("model calls:")), "")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sandbox", choices=["local", "none"], default="local")
    parser.add_argument("--adds", type=int, default=2, help="add steps per episode (default 2: 3 model turns; memory depends on the episode count)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    print(f"machine: {machine()}")
    with model_server(delay=0.0, adds=args.adds) as server:
        results = {n: run(n, args.concurrency, args.sandbox, server.url) for n in (args.small, args.episodes)}
    for n, r in results.items():
        print(
            f"{n:>5} episodes: peak RSS {r['peak_rss_mib']:.1f} MiB, traces.jsonl {r['traces_mib']:.1f} MiB ({r['lines']} lines), "
            f"wall {r['wall_s']:.1f}s, exit {r['exit']}; {r['summary_line']}"
        )
    small, big = results[args.small], results[args.episodes]
    growth_kib = (big["peak_rss_mib"] - small["peak_rss_mib"]) * 1024 / (args.episodes - args.small)
    print(f"growth: {big['peak_rss_mib'] - small['peak_rss_mib']:+.1f} MiB for {args.episodes - args.small} more episodes ({growth_kib:+.1f} KiB/episode)")
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
