"""kill -9 in the middle of `agentopt run`, then --resume: nothing finished is lost or
played twice, and the run ends exactly where an unbroken run ends."""

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


def slow_quiz(request: dict) -> Reply:
    reply = quiz_model(request)
    reply.delay_s = 0.05
    return reply


# A third criterion that is never met, so the run goes on until its budget is spent.
NEVER_MET = """
  - id: signed
    description: Sign every answer with the team's code word.
    weight: 1
    check: {type: contains, target: answer.answer, value: zebra-42}
"""


RUN_ARGS = ("--max-rollouts", "70", "--minibatch", "4", "--operators", "rules,fewshot", "--runs-dir", "runs")


def start(agent: Path, rules: Path, data: Path, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "AGENTOPT_HOME": str(cwd / ".cache"), "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "agentopt", "run", str(agent), "-r", str(rules), "--env", f"dataset:{data}", *RUN_ARGS]
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def journal(run: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (run / name).read_text().splitlines() if line.strip().endswith("}")]


def test_kill_9_then_resume_equals_an_unbroken_run(tmp_path):
    data = dataset(tmp_path)
    rules = rubric(tmp_path, NEVER_MET)
    with ScriptedLLM(slow_quiz) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        unbroken_dir, broken_dir = tmp_path / "unbroken", tmp_path / "broken"
        unbroken_dir.mkdir(), broken_dir.mkdir()
        first = run_cli("run", str(agent), "-r", str(rules), "--env", f"dataset:{data}", *RUN_ARGS, cwd=unbroken_dir, timeout=600)
        assert first.returncode == 0, first.stdout + first.stderr
        unbroken_calls = len(llm.requests)

        process = start(agent, rules, data, broken_dir)
        deadline = time.monotonic() + 300
        episodes = None
        while time.monotonic() < deadline:
            runs = list((broken_dir / "runs").glob("*/episodes.jsonl"))
            if runs and len(runs[0].read_text().splitlines()) >= 25:
                episodes = runs[0]
                break
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.05)
        assert episodes is not None, "the run never got going"
        os.killpg(process.pid, signal.SIGKILL)  # the run, as a kill -9 would
        process.wait()
        # Its servers run in their own process groups; they notice their parent is gone.
        deadline = time.monotonic() + 10
        while processes_mentioning(str(data)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes_mentioning(str(data)) == []
        run = episodes.parent
        assert not (run / "summary.json").exists()

        resumed = run_cli("run", "--resume", str(run), cwd=broken_dir, timeout=600)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        broken_calls = len(llm.requests) - unbroken_calls

    reference = next((unbroken_dir / "runs").iterdir())
    decisions = lambda r: [(d["id"], d["parent"], d["operator"], d["status"]) for d in journal(r, "candidates.jsonl")]  # noqa: E731
    assert decisions(run) == decisions(reference)
    summary, expected = (json.loads((r / "summary.json").read_text()) for r in (run, reference))
    for role in ("baseline", "winner"):
        for split in ("val", "test"):
            assert summary[role][split]["mean"] == expected[role][split]["mean"]
    assert summary["winner"]["id"] == expected["winner"]["id"]
    # Every finished episode was kept and none was played twice.
    keys = Counter((e["candidate"], e["spec"], e["split"], e["trace"]["task_id"]) for e in journal(run, "episodes.jsonl"))
    assert max(keys.values()) == 1
    assert sorted(keys) == sorted((e["candidate"], e["spec"], e["split"], e["trace"]["task_id"]) for e in journal(reference, "episodes.jsonl"))
    # Model calls: the cache answers everything finished before the kill; only calls in
    # flight at the kill (at most the concurrency, 4) can be made again.
    assert broken_calls <= unbroken_calls + 4


def processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


def test_ctrl_c_stops_cleanly_leaves_no_server_behind_and_resumes(tmp_path):
    data = dataset(tmp_path)
    rules = rubric(tmp_path, NEVER_MET)
    with ScriptedLLM(slow_quiz) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        process = start(agent, rules, data, tmp_path)
        deadline = time.monotonic() + 300
        while not list((tmp_path / "runs").glob("*/episodes.jsonl")) or len(next((tmp_path / "runs").glob("*/episodes.jsonl")).read_text().splitlines()) < 8:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground process
        assert process.wait(timeout=60) == 130
        time.sleep(1)
        assert processes_mentioning(str(data)) == []  # the environment server was stopped too
        run = next((tmp_path / "runs").iterdir())
        resumed = run_cli("run", "--resume", str(run), cwd=tmp_path, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert json.loads((run / "summary.json").read_text())["winner"]["val"]["mean"] is not None
