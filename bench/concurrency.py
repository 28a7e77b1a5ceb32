"""Benchmark: how episodes/s scale with concurrency when the model takes 200 ms to answer.

The model server (bench/fake_model.py) answers every call after `--delay` seconds; each
counter episode takes 6 model turns, so one episode at a time runs at most
1 / (6 x 0.2 s) = 0.83 episodes/s. For each concurrency K, one Evaluator (its own
environment server, not timed) plays `--per-slot` x K episodes at concurrency K. Prints
episodes/s, the speed-up over concurrency 1 (goal: >= 25x at 32) and the CPU the harness
and the environment server used per second of wall time (2.0 = both cores full).

    .venv/bin/python bench/concurrency.py                       # 1 8 32 64 128
    .venv/bin/python bench/concurrency.py --levels 1 32 --sandbox none
    .venv/bin/python bench/concurrency.py --levels 1 8 32 128 --replicas 1 2   # --env-replicas 1, then 2
"""

from __future__ import annotations

import argparse
import asyncio

from common import load_inputs, machine, measure, model_server, tmpdir

GOAL = 25.0


def run_levels(args, server, spec, rubric, folder, replicas: int) -> None:
    print(f"--env-replicas {replicas}")
    print(f"{'K':>4} {'episodes':>8} {'errors':>6} {'wall s':>7} {'ep/s':>7} {'x K=1':>6} {'ms/ep':>7} {'CPU/wall':>8}  CPU per episode: harness + env servers")
    base = None
    rates: dict[int, float] = {}
    for k in args.levels:
        n = max(args.min_episodes, args.per_slot * k)
        r = asyncio.run(measure(spec, rubric, server, folder, n, k, warmup=min(k, 8), sandbox=args.sandbox, replicas=replicas))
        rate = r["episodes_per_s"]
        base = base or rate
        rates[k] = rate
        cpu = r["cpu_ms_per_step"]
        per_episode = {name: ms * r["steps"] / r["episodes"] for name, ms in cpu.items()}
        busy = (cpu["harness"] + cpu["env_server"] + cpu["model_server"]) * r["steps"] / 1000 / r["wall_s"]
        print(
            f"{k:>4} {r['episodes']:>8} {r['errors']:>6} {r['wall_s']:>7.2f} {rate:>7.2f} {rate / base:>6.1f} "
            f"{r['wall_ms_per_episode']:>7.1f} {busy:>8.2f}  {per_episode['harness']:.0f} + {per_episode['env_server']:.0f} ms"
            + (f"  first error: {r['first_error']}" if r["first_error"] else ""),
            flush=True,
        )
    if 1 in rates and 32 in rates:
        ratio = rates[32] / rates[1]
        print(f"at K=32: {ratio:.1f}x the rate at K=1 (goal >= {GOAL:.0f}x: {'met' if ratio >= GOAL else 'NOT met'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32, 64, 128])
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--per-slot", type=int, default=3, help="episodes per unit of concurrency (default 3)")
    parser.add_argument("--min-episodes", type=int, default=8)
    parser.add_argument("--sandbox", choices=["local", "none"], default="local")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1], help="--env-replicas values to measure (default 1)")
    args = parser.parse_args()
    folder = tmpdir("concurrency")
    print(f"machine: {machine()}")
    print(f"model delay {args.delay * 1000:.0f} ms, 6 model turns per episode, sandbox {args.sandbox}")
    with model_server(delay=args.delay) as server:
        spec, rubric = load_inputs(folder, server.url)
        for replicas in args.replicas:
            run_levels(args, server, spec, rubric, folder, replicas)
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
