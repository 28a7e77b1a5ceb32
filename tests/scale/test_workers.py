"""One optimization, many workers, on a real PostgreSQL server.

`agentopt run --storage URL` starts the run; `agentopt worker RUN --storage URL` processes join
it. The agent is the capitals quiz of tests/optimize/test_run_integration.py (a scripted
OpenAI-compatible model served over loopback, a real dataset environment server per process),
slowed down a little so that workers' iterations overlap. A criterion nobody can meet keeps the
best val score below 1, so the search runs until the budget is spent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from tests.conftest import REPO, run_cli, scripted_agent, write
from tests.fakes.openai_server import Reply, ScriptedLLM
from tests.optimize.test_run_integration import RUBRIC, dataset, quiz_model
from tests.scale.pg import PASSWORD

BUDGET = 72
NEVER = """
  - id: signed
    description: End the answer with the word zzz.
    weight: 1
    check: {type: regex, target: answer.answer, pattern: "zzz$"}
"""

SEARCH_SPACE = """
optimize:
  search_space:
    temperature: {low: 0.0, high: 1.0}
"""


def slow_quiz(delay: float):
    def answer(request: dict) -> Reply:
        reply = quiz_model(request)
        reply.delay_s = delay
        return reply

    return answer


def _env(tmp_path: Path, ttl: float = 60) -> dict[str, str]:
    return {**os.environ, "AGENTOPT_HOME": str(tmp_path / ".cache"), "PYTHONPATH": str(REPO), "AGENTOPT_CLAIM_TTL": str(ttl)}


def _spawn(tmp_path: Path, *args: str, ttl: float = 60, name: str = "p") -> subprocess.Popen:
    out = open(tmp_path / f"{name}.out", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen([sys.executable, "-m", "agentopt", *args], cwd=tmp_path, env=_env(tmp_path, ttl), stdout=out, stderr=subprocess.STDOUT)


def _start(tmp_path: Path, llm_url: str, storage: str, budget: int = BUDGET, ttl: float = 60) -> subprocess.Popen:
    data = dataset(tmp_path)
    rules = write(tmp_path / "rubrics" / "capitals.yaml", RUBRIC + NEVER)
    # `choices` tries temperatures the scripted model ignores: a new child to screen almost every iteration, so the
    # search goes on until the rollout budget, not patience, stops it.
    agent = scripted_agent(tmp_path, llm_url, name="capitals", extra=SEARCH_SPACE)
    return _spawn(tmp_path, "run", str(agent), "-r", str(rules), "--env", f"dataset:{data}", "--runs-dir", "runs",
                  "--max-rollouts", str(budget), "--minibatch", "4", "--operators", "rules,choices", "--concurrency", "2",
                  "--storage", storage, ttl=ttl, name="starter")


def _sql(url: str, query: str, *params) -> list[tuple]:
    with psycopg.connect(url.replace("postgresql://", "postgresql://", 1)) as conn:
        return conn.execute(query, params).fetchall()


def _wait_for(predicate, timeout: float, what: str, procs=(), url: str | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for proc in procs:
            assert proc.poll() in (None, 0), f"{what}: a process exited {proc.returncode}"
        time.sleep(0.2)
    activity = _sql(url, "SELECT pid, state, wait_event_type, wait_event, left(query, 200) FROM pg_stat_activity "
                         "WHERE datname = current_database()") if url else []
    raise AssertionError(f"timed out waiting for {what}; database sessions: {activity}")


def _run_id(url: str) -> str | None:
    try:
        rows = _sql(url, "SELECT run_id FROM agentopt_runs")
    except psycopg.errors.UndefinedTable:
        return None
    return rows[0][0] if rows else None


def _finish(procs: list[subprocess.Popen], tmp_path: Path, timeout: float = 150, url: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            sessions = _sql(url, "SELECT a.pid, a.state, a.wait_event_type, a.wait_event, pg_blocking_pids(a.pid), left(a.query, 300) "
                                 "FROM pg_stat_activity a WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()") if url else []
            for other in procs:
                other.kill()
            raise AssertionError(f"the workers did not finish in {timeout}s; database sessions: {sessions}") from None
    logs = {p.name: p.read_text() for p in tmp_path.glob("*.out")}
    for proc in procs:
        assert proc.returncode == 0, logs


def _check_shared_run(url: str, run_id: str, budget: int) -> dict:
    """What every shared run must satisfy: one budget, no child played twice, one decision per candidate."""
    played = _sql(url, "SELECT count(*) FROM agentopt_episodes WHERE run_id = %s", run_id)[0][0]
    assert played <= budget
    decisions = [json.loads(r[0]) for r in _sql(url, "SELECT record FROM agentopt_decisions WHERE run_id = %s ORDER BY id", run_id)]
    ids = Counter(d["id"] for d in decisions)
    assert all(n == 1 for n in ids.values()), ids
    # No candidate evaluated twice: every played decision has its own spec hash.
    hashes = dict(_sql(url, "SELECT candidate, spec FROM agentopt_episodes WHERE run_id = %s AND candidate NOT LIKE '%%~%%'", run_id))
    played_specs = [hashes[d["id"]] for d in decisions if d["status"] in ("baseline", "screened_out", "rejected", "accepted")]
    assert len(played_specs) == len(set(played_specs)), played_specs
    # No episode played twice either: a parent's minibatch wanted by two workers at once is played by one, and a
    # takeover reuses what the dead worker finished.
    per_key = _sql(url, "SELECT candidate, split, task_id, count(*) FROM agentopt_episodes WHERE run_id = %s "
                        "GROUP BY candidate, split, task_id HAVING count(*) > 1", run_id)
    assert per_key == [], per_key
    workers = {r[0] for r in _sql(url, "SELECT DISTINCT worker FROM agentopt_decisions WHERE run_id = %s", run_id)}
    finished = _sql(url, "SELECT summary, finished_by FROM agentopt_runs WHERE run_id = %s", run_id)[0]
    assert finished[0] is not None
    return {"played": played, "decisions": decisions, "workers": workers, "summary": json.loads(finished[0]), "finished_by": finished[1]}


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_share_one_run_and_spend_its_budget_once(tmp_path, pg_url, workers):
    with ScriptedLLM(slow_quiz(0.05)) as llm:
        starter = _start(tmp_path, llm.url, pg_url)
        run_id = _wait_for(lambda: _run_id(pg_url), 60, "the run to be registered", [starter])
        joined = [_spawn(tmp_path, "worker", run_id, "--storage", pg_url, "--runs-dir", "runs", name=f"w{i}") for i in range(workers - 1)]
        _finish([starter, *joined], tmp_path, url=pg_url)
    shared = _check_shared_run(pg_url, run_id, BUDGET)
    assert len(shared["workers"]) >= 2, "the joined workers decided nothing"  # they did share the work
    # The budget, not patience, ended the search: the workers shared it (each claim reserves the most its iteration can play).
    assert shared["summary"]["stopped"] == "not enough rollouts left for another candidate", shared["summary"]["stopped"]
    run = tmp_path / "runs" / run_id
    summary = json.loads((run / "summary.json").read_text())
    assert summary == shared["summary"]
    assert summary["winner"]["val"]["mean"] > summary["baseline"]["val"]["mean"]  # the lowercase rule was found and kept
    # Each worker wrote the same run folder from the database: one result, not one per worker.
    for folder in (tmp_path / "runs").glob(f"{run_id}-worker-*"):
        assert json.loads((folder / "summary.json").read_text()) == summary
        assert (folder / "best" / "agent.yaml").read_text() == (run / "best" / "agent.yaml").read_text()
    # The exported folder matches the database.
    exported = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]
    assert exported == shared["decisions"]
    assert len((run / "episodes.jsonl").read_text().splitlines()) == shared["played"]
    winner = summary["winner"]["id"]
    assert (run / "best" / "agent.yaml").read_text() == (run / "candidates" / winner / "agent.yaml").read_text()
    # The password is nowhere in the run folders, the logs or the terminal output.
    for path in [*tmp_path.glob("runs/**/*"), *tmp_path.glob("*.out")]:
        if path.is_file():
            assert PASSWORD not in path.read_text(errors="replace"), path


def test_a_killed_worker_loses_nothing_and_its_claim_is_taken_over(tmp_path, pg_url):
    with ScriptedLLM(slow_quiz(0.25)) as llm:
        starter = _start(tmp_path, llm.url, pg_url, ttl=3)
        run_id = _wait_for(lambda: _run_id(pg_url), 60, "the run to be registered", [starter])
        victim = _spawn(tmp_path, "worker", run_id, "--storage", pg_url, "--runs-dir", "runs", ttl=3, name="victim")
        # Kill -9 the worker mid-iteration: it holds a claim on a child and has played part of it.
        held = _wait_for(lambda: _sql(pg_url, "SELECT c.iteration FROM agentopt_claims c WHERE c.run_id = %s AND c.status = 'running' "
                                              "AND c.iteration > 0 AND c.worker LIKE %s AND EXISTS (SELECT 1 FROM agentopt_episodes e "
                                              "WHERE e.run_id = c.run_id AND e.iteration = c.iteration)", run_id, f"%-{victim.pid}"),
                         90, "the worker to be mid-iteration", [starter, victim], pg_url)
        iteration = held[0][0]
        before = _sql(pg_url, "SELECT count(*) FROM agentopt_episodes WHERE run_id = %s AND iteration = %s", run_id, iteration)[0][0]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        _finish([starter], tmp_path, url=pg_url)
    shared = _check_shared_run(pg_url, run_id, BUDGET)
    claim = _sql(pg_url, "SELECT status, takeovers, worker FROM agentopt_claims WHERE run_id = %s AND iteration = %s", run_id, iteration)[0]
    assert claim[0] == "done" and claim[1] >= 1 and not claim[2].endswith(f"-{victim.pid}")
    after = _sql(pg_url, "SELECT count(*) FROM agentopt_episodes WHERE run_id = %s AND iteration = %s", run_id, iteration)[0][0]
    assert after >= before  # what the killed worker played is still there, counted and reused
    assert any(d["id"] == f"c{iteration}" for d in shared["decisions"])


def test_workers_starting_together_on_an_empty_database_create_one_schema(pg_url):
    """Four processes open the same new database at once: tables and the Optuna study are created once."""
    script = (
        "import sys\n"
        "from agentopt.optimizer.shared import SqlRunStore\n"
        "from agentopt.optimizer.study import OperatorStudy\n"
        "store = SqlRunStore(sys.argv[1], 'r1')\n"
        "store.create_schema()\n"
        "store.register({'config': {}}, {'rubric.yaml': 'x'})\n"
        "OperatorStudy(sys.argv[1], 'agentopt-r1', 0, None, first=[{'operator': 'rules'}])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", script, pg_url], env=env, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    assert _sql(pg_url, "SELECT count(*) FROM agentopt_runs")[0][0] == 1
    assert _sql(pg_url, "SELECT count(*) FROM studies WHERE study_name = 'agentopt-r1'")[0][0] == 1
    assert _sql(pg_url, "SELECT count(*) FROM trials")[0][0] == 1  # the first trial enqueued once, not four times


def test_report_writes_the_run_folder_from_the_database_elsewhere(tmp_path, pg_url):
    with ScriptedLLM(slow_quiz(0.0)) as llm:
        starter = _start(tmp_path, llm.url, pg_url, budget=60)
        _finish([starter], tmp_path)
    run_id = _run_id(pg_url)
    elsewhere = tmp_path / "elsewhere"
    result = run_cli("report", run_id, "--storage", pg_url, "--runs-dir", str(elsewhere), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    original, copy = tmp_path / "runs" / run_id, elsewhere / run_id
    for name in ("summary.json", "candidates.jsonl", "episodes.jsonl", "splits.json", "plan.json", "best/agent.yaml", "run_options.json"):
        assert (copy / name).read_text() == (original / name).read_text(), name
    assert (copy / "report.html").exists()
    options = json.loads((copy / "run_options.json").read_text())
    assert PASSWORD not in json.dumps(options) and "***@" in options["config"]["storage"]
    missing = run_cli("report", "no-such-run", "--storage", pg_url, cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "is not in postgresql://***@" in missing.stderr
