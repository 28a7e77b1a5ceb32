"""Benchmark (issue 10): how the rate of one optimization grows with 1, 2 and 3 workers.

A private PostgreSQL cluster (Debian's initdb/pg_ctl, started by tests/scale/pg.py as for the tests),
a scripted OpenAI-compatible model that answers after 200 ms (tests/fakes/openai_server.py),
and the capitals quiz of tests/scale/test_workers.py (a dataset environment server per process).
One optimization with a fixed rollout budget is run with 1, then 2, then 3 workers, each on a
fresh database; for each: wall time, rollouts played, candidates decided, rollouts per second and
the speed-up over 1 worker.

    PYTHONPATH=$PWD .venv/bin/python bench/workers.py --max-rollouts 120
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fakes.openai_server import ScriptedLLM  # noqa: E402
from tests.scale.pg import ROLE, Cluster, Unavailable, private_cluster  # noqa: E402
from tests.scale.test_workers import _finish, _run_id, _spawn, _sql, _start, _wait_for, slow_quiz  # noqa: E402


def one_run(cluster: Cluster, workers: int, budget: int, delay: float) -> dict:
    name = f"b_{uuid.uuid4().hex[:12]}"
    with cluster.admin() as conn:
        conn.execute(f"CREATE DATABASE {name} OWNER {ROLE}")
    url = cluster.url(name)
    work = Path(tempfile.mkdtemp(prefix=f"agentopt-workers{workers}-"))
    with ScriptedLLM(slow_quiz(delay)) as llm:
        started = time.monotonic()
        starter = _start(work, llm.url, url, budget=budget)
        run_id = _wait_for(lambda: _run_id(url), 60, "the run to be registered", [starter])
        joined = [_spawn(work, "worker", run_id, "--storage", url, "--runs-dir", "runs", name=f"w{i}") for i in range(workers - 1)]
        _finish([starter, *joined], work, timeout=1800, url=url)
        wall = time.monotonic() - started
    played = _sql(url, "SELECT count(*) FROM agentopt_episodes WHERE run_id = %s", run_id)[0][0]
    decisions = [json.loads(r[0]) for r in _sql(url, "SELECT record FROM agentopt_decisions WHERE run_id = %s", run_id)]
    deciders = {r[0] for r in _sql(url, "SELECT DISTINCT worker FROM agentopt_decisions WHERE run_id = %s", run_id)}
    summary = json.loads(_sql(url, "SELECT summary FROM agentopt_runs WHERE run_id = %s", run_id)[0][0])
    shutil.rmtree(work, ignore_errors=True)
    return {"workers": workers, "wall_s": round(wall, 1), "rollouts": played, "decided": len(decisions),
            "workers_deciding": len(deciders), "rollouts_per_s": round(played / wall, 2), "stopped": summary["stopped"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-rollouts", type=int, default=120)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds the scripted model takes to answer")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    try:
        with private_cluster() as cluster:
            base = None
            for n in args.workers:
                row = one_run(cluster, n, args.max_rollouts, args.delay)
                base = base or row["rollouts_per_s"]
                row["speedup"] = round(row["rollouts_per_s"] / base, 2)
                print(json.dumps(row), flush=True)
    except Unavailable as exc:
        sys.exit(f"no PostgreSQL: {exc} (apt-get install postgresql)")

if __name__ == "__main__":
    main()
