"""Benchmark: what the harness, the environment and scoring cost per step, beside the model.

A model server on loopback that answers at once (bench/fake_model.py) plays many
episodes of the counter environment (5 `add` steps, then `done`: 6 model turns and 6
tool calls per episode) through one Evaluator, one episode at a time. Every episode
opens its own WebSocket session, is scored against a 4-criterion rubric and appended to
traces.jsonl, as in `agentopt eval`. Prints per step and per episode:

- overhead: wall time minus the model server's own handling time (harness, environment
  server and scoring together, and any wait for a core);
- CPU per step of each process (harness, environment server, model server); the goal
  (issue 10) is the harness's own CPU per step under 2 ms.

    .venv/bin/python bench/harness_overhead.py                  # 200 episodes after 20 warm-up
    .venv/bin/python bench/harness_overhead.py --episodes 500 --concurrency 1 4
"""

from __future__ import annotations

import argparse
import asyncio

from common import load_inputs, machine, measure, model_server, print_json, tmpdir

GOAL_MS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1])
    parser.add_argument("--sandbox", choices=["local", "none"], default="local", help="the environment sandbox (default: agentopt's default, local)")
    parser.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    args = parser.parse_args()
    folder = tmpdir("overhead")
    print(f"machine: {machine()}")
    with model_server(delay=0.0) as server:
        spec, rubric = load_inputs(folder, server.url)
        for concurrency in args.concurrency:
            r = asyncio.run(measure(spec, rubric, server, folder, args.episodes, concurrency, warmup=args.warmup, sandbox=args.sandbox))
            cpu = r["cpu_ms_per_step"]
            verdict = "met" if cpu["harness"] < GOAL_MS else "NOT met"
            print(
                f"concurrency {concurrency}, sandbox {args.sandbox}: {r['episodes']} episodes, {r['steps']} steps, {r['errors']} errors, "
                f"mean score {r['mean_score']:.2f}, wall {r['wall_s']:.2f}s\n"
                f"  per episode: {r['wall_ms_per_episode']:.2f} ms wall\n"
                f"  per step:    {r['wall_ms_per_step']:.2f} ms wall = {r['model_handle_ms_per_step']:.3f} ms in the model server"
                f" + {r['overhead_ms_per_step']:.2f} ms harness+environment+scoring\n"
                f"  CPU per step: harness {cpu['harness']:.2f} ms (goal < {GOAL_MS} ms: {verdict}), "
                f"environment server {cpu['env_server']:.2f} ms, model server {cpu['model_server']:.2f} ms"
            )
            if r["first_error"]:
                print(f"  first error: {r['first_error']}")
            if args.json:
                print_json("  raw", r)
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
