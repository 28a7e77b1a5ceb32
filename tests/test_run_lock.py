"""One writer per run folder: `agentopt run` holds `RUN/.lock` (flock) for the whole run.

A second `run --resume` on a folder in use gets one line and exit 2 (before, both ran: an
Optuna IntegrityError traceback and duplicate journal lines). The kernel drops the lock
when its holder dies, so after a kill -9 the folder resumes at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.conftest import REPO, run_cli, scripted_agent
from tests.fakes.openai_server import Reply, ScriptedLLM
from tests.optimize.test_run_integration import dataset, quiz_model, rubric

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
os.write(fd, f"{os.getpid()}\\n".encode())
print("locked", flush=True)
time.sleep(600)
"""


def hold_lock(lock: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def fake_run_folder(tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "20250101-000000-run-x"
    run.mkdir(parents=True)
    (run / "run_options.json").write_text(json.dumps({"env": "support", "config": {}}))
    (run / "episodes.jsonl").write_text('{"candidate": "c0"}\n')
    return run


def test_a_second_writer_gets_one_line_and_exit_2_and_writes_nothing(tmp_path):
    run = fake_run_folder(tmp_path)
    holder = hold_lock(run / ".lock")
    try:
        before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
        result = run_cli("run", "--resume", str(run), cwd=tmp_path, timeout=120)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.strip() == f"error: {run} is in use by another agentopt process (pid {holder.pid})"
        assert "Traceback" not in result.stderr
        after = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
        assert after == before  # not one byte written, no study.db created
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_is_released_when_its_holder_is_killed_9(tmp_path):
    run = fake_run_folder(tmp_path)
    holder = hold_lock(run / ".lock")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (run / ".lock").read_text().strip() == str(holder.pid)  # the stale file stays: it does not matter
    from agentopt.store.run import RunFolder

    with RunFolder(run).locked():
        assert (run / ".lock").read_text().strip() == str(os.getpid())
    with RunFolder(run).locked():  # released on the way out, in the same process too
        pass


def slow_quiz(request: dict) -> Reply:
    reply = quiz_model(request)
    reply.delay_s = 0.1
    return reply


def journal_keys(run: Path) -> Counter:
    keys = Counter()
    for line in (run / "episodes.jsonl").read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line the kill cut short
        keys[(record["candidate"], record["spec"], record["split"], record["trace"]["task_id"])] += 1
    return keys


def test_two_runs_on_one_folder_then_kill_9_then_resume(tmp_path):
    """A live `agentopt run` holds its folder: a concurrent --resume is refused naming its pid;
    after a kill -9 of the first, --resume runs to the end with every episode once."""
    data, rules = dataset(tmp_path), rubric(tmp_path)
    with ScriptedLLM(slow_quiz) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        env = {**os.environ, "AGENTOPT_HOME": str(tmp_path / ".cache"), "PYTHONPATH": str(REPO)}
        first = subprocess.Popen(
            [sys.executable, "-m", "agentopt", "run", str(agent), "-r", str(rules), "--env", f"dataset:{data}",
             "--runs-dir", "runs", "--max-rollouts", "56", "--minibatch", "4", "--operators", "rules"],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while not list((tmp_path / "runs").glob("*/episodes.jsonl")):
                assert first.poll() is None, first.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "the first run never played an episode"
                time.sleep(0.05)
            run = next((tmp_path / "runs").iterdir())
            second = run_cli("run", "--resume", str(run), cwd=tmp_path, timeout=120)
            assert second.returncode == 2, second.stdout + second.stderr
            assert second.stderr.strip() == f"error: {run} is in use by another agentopt process (pid {first.pid})"
            assert first.poll() is None  # the first run was not disturbed
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
        assert not (run / "summary.json").exists(), "the first run finished before the kill: nothing was tested"
        resumed = run_cli("run", "--resume", str(run), cwd=tmp_path, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (run / "summary.json").exists()
    keys = journal_keys(run)
    assert keys and [k for k, n in keys.items() if n > 1] == []


def test_a_run_options_file_agentopt_cannot_read_is_one_line_and_exit_2(tmp_path):
    run = fake_run_folder(tmp_path)  # its run_options.json lacks the settings
    result = run_cli("run", "--resume", str(run), cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (f"error: --resume: {run / 'run_options.json'} is not a run_options.json agentopt "
                                     "can read (KeyError: 'eval')")
    assert not (run / ".lock").read_text()  # the lock was taken and given back
