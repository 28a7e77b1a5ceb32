"""Benchmark: what `agentopt run` achieves on the built-in tasks with the embedded model.

Prints, per task: baseline and winner scores on val and test (with 95% intervals), the
candidates proposed and accepted, distinct candidates screened per 100 rollouts, the best val
score reached, rollouts used and wall time. Figures, not a test.

    .venv/bin/python bench/optimize_demo.py                 # triage, 200 rollouts
    .venv/bin/python bench/optimize_demo.py --task iris     # the second benchmark (bench/iris.py)
    .venv/bin/python bench/optimize_demo.py --code /path/to/other/checkout   # the same, another version of agentopt
    .venv/bin/python bench/optimize_demo.py --task support --max-rollouts 30 --val-episodes 3 --test-episodes 3 --minibatch 2

Each run gets a fresh model-response cache (AGENTOPT_HOME in a temporary folder), so wall
times are not helped by an earlier run's answers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.run_stats import search_stats  # noqa: E402

TASKS = {
    "triage": ("agents/triage.yaml", "rubrics/triage.yaml", "dataset:examples/triage/tickets.jsonl"),
    "support": ("agents/support.yaml", "rubrics/support.yaml", "support"),
    "iris": ("agents/iris.yaml", "rubrics/iris.yaml", None),  # dataset built at run time from scikit-learn
}


def fmt(split: dict | None) -> str:
    if not split or split.get("mean") is None:
        return "n/a"
    return f"{split['mean']:.3f} [{split['ci_low']:.2f}, {split['ci_high']:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="triage")
    parser.add_argument("--max-rollouts", type=int, default=200)
    parser.add_argument("--mutator", default="local")
    parser.add_argument("--minibatch", type=int, default=8, help="train tasks a child is screened on")
    parser.add_argument("--val-episodes", type=int, help="use only the first N val tasks (support is slow locally)")
    parser.add_argument("--test-episodes", type=int, help="use only the first N test tasks")
    parser.add_argument("--concurrency", type=int, default=4, help="episodes at once (lower it on a busy machine: "
                        "the embedded model shares its one thread between them)")
    parser.add_argument("--code", type=Path, default=REPO, help="the agentopt checkout to run (default: this one)")
    args = parser.parse_args()
    agent, rubric, env = TASKS[args.task]
    runs = Path(tempfile.mkdtemp(prefix="agentopt-bench-"))
    if env is None:
        from bench.iris import build

        env = f"dataset:{build(runs / 'data')}"
    code = args.code.resolve()
    environ = {**os.environ, "PYTHONPATH": str(code), "AGENTOPT_HOME": str(runs / "cache")}
    started = time.monotonic()
    command = [
        sys.executable, "-m", "agentopt", "run", str(REPO / agent), "-r", str(REPO / rubric), "--env", env,
        "--max-rollouts", str(args.max_rollouts), "--mutator", args.mutator, "--runs-dir", str(runs),
        "--minibatch", str(args.minibatch), "--concurrency", str(args.concurrency), *(["--val-episodes", str(args.val_episodes)] if args.val_episodes else []),
        *(["--test-episodes", str(args.test_episodes)] if args.test_episodes else []),
    ]
    subprocess.run(command, cwd=code, check=True, stdout=subprocess.DEVNULL, env=environ)
    wall = time.monotonic() - started
    run = next(p for p in runs.iterdir() if "-run-" in p.name)
    summary = json.loads((run / "summary.json").read_text())
    counts = summary["candidates"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=code, capture_output=True, text=True).stdout.strip()
    print(f"task {args.task}, model {summary['model']}, mutator {summary['mutator_model']}, agentopt {commit}, run folder {run}")
    print(f"{'':10}{'val':>26}{'test':>26}")
    for role in ("baseline", "winner"):
        print(f"{role + ' ' + summary[role]['id']:10}{fmt(summary[role]['val']):>26}{fmt(summary[role]['test']):>26}")
    print(
        f"candidates: {counts['proposed']} proposed, {counts['screened_out']} screened out, "
        f"{counts['rejected']} rejected, {counts['accepted']} accepted; not played: "
        f"{counts.get('duplicate', 0)} duplicate, {counts['invalid']} nothing to propose"
    )
    rollouts = summary["usage"]["rollouts"]
    stats = search_stats(run)
    distinct = stats["distinct_screened"]
    plan = summary.get("plan") or {}
    print(f"distinct candidates screened: {distinct} ({100 * distinct / max(1, rollouts):.1f} per 100 rollouts); "
          f"plan: baseline {plan.get('baseline')}, per candidate up to {plan.get('per_candidate')}, final test {plan.get('final_test')}")
    curve = [f"{best:.3f} at {spent}" for best, spent in stats["curve"]]  # the best val after each acceptance, and the rollouts it took
    print(f"best val reached: {' -> '.join(curve) or 'n/a'} (rollouts)")
    print(f"rollouts: {rollouts}/{args.max_rollouts}; stopped: {summary['stopped']}; wall: {wall:.0f}s")


if __name__ == "__main__":
    main()
