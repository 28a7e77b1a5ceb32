"""Profile the harness on the overhead benchmark's workload (instant model, counter env).

Needs pyinstrument, which agentopt does not depend on: `.venv/bin/pip install pyinstrument`.
Prints pyinstrument's call tree of the harness process (wall clock, all coroutines).

    .venv/bin/python bench/profile_harness.py --episodes 100 --concurrency 1
"""

from __future__ import annotations

import argparse
import asyncio

from common import load_inputs, machine, measure, model_server, tmpdir
from pyinstrument import Profiler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.0005)
    parser.add_argument("--sandbox", choices=["local", "none"], default="none")
    parser.add_argument("--all", action="store_true", help="show library frames too")
    parser.add_argument("--html", help="also write pyinstrument's HTML report here")
    args = parser.parse_args()
    folder = tmpdir("profile")
    print(f"machine: {machine()}")
    with model_server(delay=0.0) as server:
        spec, rubric = load_inputs(folder, server.url)
        asyncio.run(measure(spec, rubric, server, folder, 10, args.concurrency, sandbox=args.sandbox))  # imports, warm caches
        profiler = Profiler(interval=args.interval, async_mode="enabled")
        with profiler:
            r = asyncio.run(measure(spec, rubric, server, folder, args.episodes, args.concurrency, sandbox=args.sandbox))
    print(f"{r['episodes']} episodes, {r['steps']} steps, overhead {r['overhead_ms_per_step']:.2f} ms/step, cpu {r['cpu_ms_per_step']}")
    print(profiler.output_text(unicode=False, color=False, show_all=args.all, timeline=False))
    if args.html:
        with open(args.html, "w", encoding="utf-8") as handle:
            handle.write(profiler.output_html())


if __name__ == "__main__":
    main()
