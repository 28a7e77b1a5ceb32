"""Benchmark: how `agentopt run` spends its rollouts, before/after a change, in seconds.

The figures of bench/optimize_demo.py (the embedded model) take an hour on a busy 2-core
machine. This one answers the budget question alone: candidates screened per 100 rollouts and
the best val score reached, on the demo's tickets and on the iris benchmark (bench/iris.py),
with a scripted stand-in for the embedded model served on loopback (tests/fakes/openai_server.py)
so a run takes seconds and two checkouts of agentopt can be compared on identical behaviour.

The stand-ins behave like the 135M model on these tasks, deterministically:
- triage: the category right on about 2 tickets in 3, the priority right on half the tickets
  or whenever the prompt shows worked examples, a junk reply ("saber") on 3 tickets in 5; a
  temperature above 0 flips some answers (seeded), as sampling does;
- iris: "setosa" for short petals, otherwise a coin flip between the other two species, unless
  the prompt shows worked examples: then the species of the shown flower whose petal length is
  nearest (the few-shot signal a real model gets from similar examples).

    .venv/bin/python bench/budget_use.py                                  # this checkout
    .venv/bin/python bench/budget_use.py --code /path/to/other/checkout   # another version
    .venv/bin/python bench/budget_use.py --task iris --minibatch 4
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.run_stats import search_stats  # noqa: E402
from tests.fakes.openai_server import Reply, ScriptedLLM, call, last_user_text, system_text  # noqa: E402

TICKETS_FILE = REPO / "examples/triage/tickets.jsonl"


def _h(*parts: object) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest(), 16)


def _noise(request: dict, text: str) -> bool:
    """Sampling at a temperature above 0 changes about a third of the answers (seeded)."""
    temperature = float(request.get("temperature") or 0)
    return temperature > 0 and _h(text, temperature, request.get("seed")) % 3 == 0


def triage_model(tickets: dict[str, dict]):
    def model(request: dict) -> Reply:
        ticket = last_user_text(request)
        expected = next(e for text, e in tickets.items() if text in ticket)
        h = _h(ticket)
        examples = "## Examples" in system_text(request)
        category = expected["category"] if h % 3 else "technical"
        priority = expected["priority"] if examples or h % 2 else "low"
        if _noise(request, ticket):
            category, priority = ("billing" if category != "billing" else "account"), "medium"
        reply = "saber" if h % 5 < 3 else "Thanks for writing, we are looking into it."
        return call("submit", {"category": category, "priority": priority, "reply": reply})

    return model


def _petal(text: str) -> float:
    return float(re.search(r"petal ([\d.]+) cm long", text).group(1))


def iris_model(request: dict) -> Reply:
    flower = last_user_text(request)
    petal = _petal(flower)
    shown = re.findall(r"Input: (.*)\nAnswer: (\{.*\})", system_text(request))
    if shown:
        species = json.loads(min(shown, key=lambda s: abs(_petal(s[0]) - petal))[1]).get("species", "setosa")
    else:
        species = "setosa" if petal < 2.5 else ("versicolor" if _h(flower) % 2 else "virginica")
    if _noise(request, flower):
        species = "virginica" if species != "virginica" else "versicolor"
    return call("submit", {"species": species})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("triage", "iris"), default="triage")
    parser.add_argument("--max-rollouts", type=int, default=200)
    parser.add_argument("--minibatch", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--code", type=Path, default=REPO, help="the agentopt checkout to run (default: this one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="agentopt-budget-"))
    if args.task == "triage":
        data = TICKETS_FILE
        tickets = {r["input"]: r["expected"] for r in map(json.loads, data.read_text().splitlines())}
        model, agent, rubric = triage_model(tickets), REPO / "agents/triage.yaml", REPO / "rubrics/triage.yaml"
    else:
        from bench.iris import build

        data = build(work / "data")
        model, agent, rubric = iris_model, REPO / "agents/iris.yaml", REPO / "rubrics/iris.yaml"
    code = args.code.resolve()
    started = time.monotonic()
    with ScriptedLLM(model) as llm:
        spec = yaml.safe_load(agent.read_text())
        spec.update(model="openai/scripted", model_params={**spec["model_params"], "api_base": llm.url})
        (work / "agent.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        command = [sys.executable, "-m", "agentopt", "run", str(work / "agent.yaml"), "-r", str(rubric), "--env", f"dataset:{data}",
                   "--max-rollouts", str(args.max_rollouts), "--minibatch", str(args.minibatch), "--seed", str(args.seed),
                   "--runs-dir", str(work / "runs")]
        env = {**os.environ, "PYTHONPATH": str(code), "AGENTOPT_HOME": str(work / "cache")}
        subprocess.run(command, cwd=code, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.monotonic() - started
    run = next((work / "runs").iterdir())
    summary = json.loads((run / "summary.json").read_text())
    stats = search_stats(run)
    rollouts = summary["usage"]["rollouts"]
    specs = stats["distinct_screened"]
    curve = [f"{best:.3f}@{spent}" for best, spent in stats["curve"]]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=code, capture_output=True, text=True).stdout.strip()
    print(json.dumps({
        "task": args.task, "agentopt": commit, "max_rollouts": args.max_rollouts, "minibatch": args.minibatch, "rollouts": rollouts,
        "distinct_screened": specs, "per_100_rollouts": round(100 * specs / max(1, rollouts), 1), "counts": stats["counts"],
        "best_val": curve, "val": [summary["baseline"]["val"]["mean"], summary["winner"]["val"]["mean"]],
        "test": [summary["baseline"]["test"]["mean"], summary["winner"]["test"]["mean"]],
        "stopped": summary["stopped"], "wall_s": round(wall, 1), "run": str(run),
    }))


if __name__ == "__main__":
    main()
