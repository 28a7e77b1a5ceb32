"""kill -9 in the middle of `agentopt run`, then --resume: nothing finished is lost or
played twice, and the run ends exactly where an unbroken run ends.

One unbroken reference run is shared by the module. The kill test kills the same run
three times, at moments picked reproducibly from the reference run's progress (a seeded
choice of "after the Nth episode line" / "after the Kth decision line": progress, not
wall-clock delays, so a loaded machine moves the kills with the run), resuming after each.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

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
KILL_SEED = int(os.environ.get("AGENTOPT_KILL_SEED", "7"))  # another seed: other kill moments


class Quiz:
    """The module's scripted model, files, and its unbroken reference run."""

    def __init__(self, root: Path, llm: ScriptedLLM):
        self.root, self.llm = root, llm
        self.data = dataset(root)
        self.rules = rubric(root, NEVER_MET)
        self.agent = scripted_agent(root, llm.url, name="capitals")
        self.reference: Path | None = None
        self.reference_calls = 0

    def start(self, cwd: Path, *args: str) -> subprocess.Popen:
        env = {**os.environ, "AGENTOPT_HOME": str(cwd / ".cache"), "PYTHONPATH": str(REPO)}
        args = args or ("run", str(self.agent), "-r", str(self.rules), "--env", f"dataset:{self.data}", *RUN_ARGS)
        return subprocess.Popen(
            [sys.executable, "-m", "agentopt", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True, preexec_fn=_interruptible,
        )


def _interruptible() -> None:
    """In the child: take SIGINT's default back. A shell that runs the suite in the background
    (`make test &`) starts it with SIGINT ignored, and Python keeps an inherited SIG_IGN,
    so Ctrl-C would never reach agentopt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def quiz(tmp_path_factory):
    root = tmp_path_factory.mktemp("quiz")
    with ScriptedLLM(slow_quiz) as llm:
        quiz = Quiz(root, llm)
        unbroken = root / "unbroken"
        unbroken.mkdir()
        first = run_cli("run", str(quiz.agent), "-r", str(quiz.rules), "--env", f"dataset:{quiz.data}", *RUN_ARGS, cwd=unbroken, timeout=600)
        assert first.returncode == 0, first.stdout + first.stderr
        quiz.reference = next((unbroken / "runs").iterdir())
        quiz.reference_calls = len(llm.requests)
        yield quiz


def journal(run: Path, name: str) -> list[dict]:
    """The file's complete records (a line a kill cut short is not one)."""
    records = []
    for line in (run / name).read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def count_lines(folder: Path, name: str) -> int:
    files = list(folder.glob(f"runs/*/{name}"))
    return sum(1 for line in files[0].read_bytes().splitlines() if line.strip()) if files else 0


def kill_when(process: subprocess.Popen, folder: Path, name: str, count: int) -> int:
    """kill -9 the run (its whole process group) once `name` has `count` lines; returns the count seen."""
    deadline = time.monotonic() + 300
    while (seen := count_lines(folder, name)) < count:
        assert process.poll() is None, f"the run ended before {name} reached {count} lines: {process.stderr.read().decode()[-2000:]}"
        assert time.monotonic() < deadline, f"{name} never reached {count} lines"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return seen


def episode_key(record: dict) -> tuple:
    return (record["candidate"], record["spec"], record["split"], record["trace"]["task_id"])


def kill_moments(reference: Path, seed: int) -> list[tuple[str, int]]:
    """Three moments, in the order the run reaches them: during the baseline, right after a
    decision of the search, and during the final test evaluation."""
    rng = random.Random(seed)
    episodes = journal(reference, "episodes.jsonl")
    decisions = journal(reference, "candidates.jsonl")
    first_test = next(i for i, e in enumerate(episodes) if e["split"] == "test") + 1
    baseline = next(d for d in decisions if d["id"] == "c0")["rollouts"]
    early = rng.randint(2, baseline - 1)  # the baseline is still being evaluated
    # A decision recorded well after the first kill's episode count, before the test split.
    later = [k for k, d in enumerate(decisions, start=1) if early + 4 <= d["rollouts"] < first_test - 4]
    middle = rng.choice(later)
    late = rng.randint(first_test, len(episodes) - 1)  # the winner or the baseline on test
    return [("episodes.jsonl", early), ("candidates.jsonl", middle), ("episodes.jsonl", late)]


def test_kill_9_three_times_then_resume_equals_an_unbroken_run(quiz, tmp_path):
    moments = kill_moments(quiz.reference, KILL_SEED)
    calls_before = len(quiz.llm.requests)
    seen = []
    process = quiz.start(tmp_path)
    for number, (name, count) in enumerate(moments):
        seen.append((name, kill_when(process, tmp_path, name, count)))
        run = next((tmp_path / "runs").iterdir())
        assert not (run / "summary.json").exists(), f"killed too late: {seen}"
        if number < len(moments) - 1:
            process = quiz.start(tmp_path, "run", "--resume", str(run))
    resumed = run_cli("run", "--resume", str(run), cwd=tmp_path, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    calls = len(quiz.llm.requests) - calls_before
    context = f"kill moments {moments} (seed {KILL_SEED}), killed at {seen}"

    reference = quiz.reference
    decisions = lambda r: [(d["id"], d["parent"], d["operator"], d["status"], d["reason"]) for d in journal(r, "candidates.jsonl")]  # noqa: E731
    assert decisions(run) == decisions(reference), context
    summary, expected = (json.loads((r / "summary.json").read_text()) for r in (run, reference))
    for role in ("baseline", "winner"):
        for split in ("val", "test"):
            for field in ("mean", "n", "n_errors"):
                assert summary[role][split][field] == expected[role][split][field], (role, split, field, context)
    assert summary["winner"]["id"] == expected["winner"]["id"], context
    assert summary["usage"]["rollouts"] == expected["usage"]["rollouts"], context
    assert (run / "best" / "agent.yaml").read_text() == (reference / "best" / "agent.yaml").read_text()
    # Every finished episode was kept and none was played twice: the union of the three
    # interrupted processes' and the last one's episodes is the unbroken run's, once each.
    keys = Counter(episode_key(e) for e in journal(run, "episodes.jsonl"))
    assert [k for k, n in keys.items() if n > 1] == [], context
    assert sorted(keys) == sorted(episode_key(e) for e in journal(reference, "episodes.jsonl")), context
    scores = lambda r: {episode_key(e): e["score"]["score"] for e in journal(r, "episodes.jsonl")}  # noqa: E731
    assert scores(run) == scores(reference), context
    # The Optuna study: no trial left RUNNING or WAITING by a kill, and the same trials were
    # told the same outcomes (a trial a kill interrupted is failed and asked again).
    assert trials(run, ("RUNNING", "WAITING")) == [], context
    assert trials(run, ("COMPLETE",)) == trials(reference, ("COMPLETE",)), context
    # Model calls: the cache answers everything finished before a kill; only calls in
    # flight at a kill (at most the concurrency, 4) can be made again.
    assert calls <= quiz.reference_calls + 4 * len(moments), context
    # The killed processes' servers noticed their parent was gone.
    deadline = time.monotonic() + 10
    while processes_mentioning(str(quiz.data)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(quiz.data)) == []


def trials(run: Path, states: tuple[str, ...]) -> list[tuple]:
    import optuna

    study = optuna.load_study(study_name=f"agentopt-{run.name}", storage=f"sqlite:///{run / 'study.db'}")
    return [(t.params, t.value) for t in study.get_trials(deepcopy=False) if t.state.name in states]


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


def test_ctrl_c_stops_cleanly_leaves_no_server_behind_and_resumes(quiz, tmp_path):
    process = quiz.start(tmp_path)
    deadline = time.monotonic() + 300
    while count_lines(tmp_path, "episodes.jsonl") < 8:
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground process
    assert process.wait(timeout=60) == 130
    time.sleep(1)
    assert processes_mentioning(str(quiz.data)) == []  # the environment server was stopped too
    run = next((tmp_path / "runs").iterdir())
    resumed = run_cli("run", "--resume", str(run), cwd=tmp_path, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert json.loads((run / "summary.json").read_text())["winner"]["val"]["mean"] is not None
