"""`--sandbox docker` (docs/sandbox.md): the `docker run` command the harness builds, the
one-line refusal where no Docker engine answers, and, where one does, a real episode in a
container with no network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agentopt.sandbox import SandboxConfig
from agentopt.sandbox.docker import data_mounts, docker_run_argv, engine_problem
from tests.conftest import REPO, run_cli, scripted_agent
from tests.fakes.openai_server import ScriptedLLM, call, last_user_text

NO_ENGINE = "unix:///nonexistent-agentopt-test/docker.sock"  # a socket path that does not exist
SERVER_ARGV = [sys.executable, "-m", "agentopt.envs.serve", "dataset"]


def flag_values(argv: list[str], flag: str) -> list[str]:
    """Every value of `--flag=value` in argv (the builder always uses the `=` form)."""
    return [a.split("=", 1)[1] for a in argv if a.startswith(flag + "=")]


def built(tmp_path: Path, **config) -> tuple[list[str], Path]:
    data = tmp_path / "data" / "qa.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("{}\n")
    argv = docker_run_argv(
        [*SERVER_ARGV, f"path={data}"], SandboxConfig(mode="docker", **config),
        name="agentopt-env-test", socket_dir="/tmp/agentopt-env-abc", uid=1234, gid=5678, parent_pid=42,
    )
    return argv, data


# --- the command the harness runs (no engine needed) ---------------------------------


def test_docker_run_has_no_network_no_capabilities_and_the_limits(tmp_path):
    argv, _ = built(tmp_path, memory_mb=512, nproc=64, cpu_s=30, fsize_mb=8, image="my/env:1")
    assert argv[:3] == ["docker", "run", "--rm"]
    assert flag_values(argv, "--name") == ["agentopt-env-test"]
    assert flag_values(argv, "--network") == ["none"]
    assert flag_values(argv, "--cap-drop") == ["ALL"]
    assert flag_values(argv, "--security-opt") == ["no-new-privileges"]
    assert flag_values(argv, "--memory") == ["512m"] and flag_values(argv, "--memory-swap") == ["512m"]
    assert flag_values(argv, "--pids-limit") == ["64"]
    assert "cpu=30:30" in flag_values(argv, "--ulimit") and f"fsize={8 << 20}:{8 << 20}" in flag_values(argv, "--ulimit")
    assert "--read-only" in argv and flag_values(argv, "--tmpfs")[0].startswith("/tmp:")
    assert flag_values(argv, "--user") == ["1234:5678"]
    assert flag_values(argv, "--pull") == ["never"]
    # No port is published, nothing shares the host's namespaces, nothing is privileged.
    flags = {a.split("=", 1)[0] for a in argv[: argv.index("--workdir=/sock")]}
    assert not flags & {"-p", "-P", "--publish", "--publish-all", "--privileged", "--pid", "--ipc", "--uts", "--userns",
                        "--cap-add", "--device", "--volumes-from", "--env-file", "-e"}, flags


def test_docker_run_passes_no_host_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-0123456789abcdef")
    monkeypatch.setenv("MY_SETTING", "plain")
    argv, _ = built(tmp_path)
    assert flag_values(argv, "--env") == ["HOME=/tmp"]  # a constant, the only one
    assert not any(a in ("-e", "--env", "--env-file") or a.startswith(("-e", "--env-file")) for a in argv)
    assert not any("sk-test-secret" in a or "MY_SETTING" in a for a in argv)


def test_docker_run_mounts_the_socket_dir_and_the_data_read_only_and_runs_the_server_in_the_image(tmp_path):
    argv, data = built(tmp_path, image="my/env:1")
    file = str(data.resolve())
    assert flag_values(argv, "--volume") == ["/tmp/agentopt-env-abc:/sock", f"{file}:{file}:ro"]
    assert flag_values(argv, "--workdir") == ["/sock"]
    image = argv.index("my/env:1")
    # The image's own python, the same server module and arguments, listening on the mounted socket.
    assert argv[image + 1:] == ["python", "-m", "agentopt.envs.serve", "dataset", f"path={data}", "--uds", "/sock/server.sock"]
    assert sys.executable not in argv


def test_only_existing_absolute_files_are_mounted_with_their_sidecars_not_their_folder(tmp_path):
    for name in ("a.jsonl", "a.schema.json", "ab.jsonl", "secret.txt"):
        (tmp_path / name).write_text("")
    assert data_mounts(["x", f"path={tmp_path / 'a.jsonl'}", "path=relative.jsonl", f"other={tmp_path / 'missing'}"]) == [
        str(tmp_path.resolve() / "a.jsonl"), str(tmp_path.resolve() / "a.schema.json")
    ]


def test_image_comes_from_the_option_then_the_variable_then_the_default(monkeypatch):
    monkeypatch.delenv("AGENTOPT_SANDBOX_IMAGE", raising=False)
    assert SandboxConfig.from_env("docker").image == "agentopt-env:latest"
    monkeypatch.setenv("AGENTOPT_SANDBOX_IMAGE", "from/env:2")
    assert SandboxConfig.from_env("docker").image == "from/env:2"
    assert SandboxConfig.from_env("docker", "from/option:3").image == "from/option:3"


# --- no engine: one line, exit 3 ------------------------------------------------------


def test_without_an_engine_eval_exits_3_with_one_line(tmp_path, qa_dataset, qa_rubric):
    agent = scripted_agent(tmp_path, "http://127.0.0.1:9/v1")  # never called: nothing starts
    result = run_cli("eval", str(agent), "--rubric", str(qa_rubric), "--env", f"dataset:{qa_dataset}",
                     "--runs-dir", "runs", "--sandbox", "docker", cwd=tmp_path, env={"DOCKER_HOST": NO_ENGINE}, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot sandbox the environment server with docker: no Docker engine answers (")
    assert lines[0].endswith("); use --sandbox local or --sandbox none")
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "runs").exists()  # refused before any run folder or server


def test_no_sandbox_and_a_contradicting_sandbox_mode_is_a_usage_error(tmp_path, qa_dataset, qa_rubric):
    agent = scripted_agent(tmp_path, "http://127.0.0.1:9/v1")
    result = run_cli("eval", str(agent), "--rubric", str(qa_rubric), "--env", f"dataset:{qa_dataset}",
                     "--sandbox", "docker", "--no-sandbox", cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and "--no-sandbox contradicts --sandbox docker" in result.stderr, result.stderr
    bad = run_cli("eval", str(agent), "--rubric", str(qa_rubric), "--env", f"dataset:{qa_dataset}",
                  "--sandbox", "vm", cwd=tmp_path, timeout=120)
    assert bad.returncode == 2 and "unknown mode 'vm'" in bad.stderr, bad.stderr


# --- the harness side, through a stand-in docker client (no engine needed) --------------

FAKE_DOCKER = """\
import json, os, sys
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1] == "version":
    print("99.0")
if sys.argv[1] != "run":
    sys.exit(0)
# Run the server here instead of in a container, on the host side of the socket mount.
args = sys.argv[2:]
(mount,) = [a[len("--volume="):-len(":/sock")] for a in args if a.startswith("--volume=") and a.endswith(":/sock")]
image = next(i for i, a in enumerate(args) if not a.startswith("-"))
command = [sys.executable if a == "python" else a.replace("/sock/", mount + "/") for a in args[image + 1:]]
os.execv(command[0], command)
"""


def test_the_harness_reaches_the_server_through_the_mounted_socket_and_removes_the_container(tmp_path, qa_dataset, qa_rubric):
    """Plumbing only (the stand-in applies none of docker's isolation): the server listens
    on the socket in the mounted directory, the relay reaches it, and at the end the
    container is removed by the name it was started with."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text(f"#!{sys.executable}\n" + FAKE_DOCKER)
    fake.chmod(0o755)
    log = tmp_path / "docker-calls.jsonl"
    with ScriptedLLM(quiz_master) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = run_cli("eval", str(agent), "--rubric", str(qa_rubric), "--env", f"dataset:{qa_dataset}",
                         "--episodes", "2", "--runs-dir", "runs", "--sandbox", "docker", "--sandbox-image", "my/env:1", cwd=tmp_path,
                         env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_DOCKER_LOG": str(log)}, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (run,) = sorted((tmp_path / "runs").iterdir())
    summary = json.loads((run / "summary.json").read_text())["summary"]
    assert summary["n"] == 2 and summary["n_errors"] == 0 and summary["mean"] == 1.0
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls[0][0] == "version"
    (started,) = [c for c in calls if c[0] == "run"]
    assert "my/env:1" in started and "--network=none" in started
    name = next(a.split("=", 1)[1] for a in started if a.startswith("--name="))
    assert ["rm", "--force", name] in calls, calls


# --- a real engine --------------------------------------------------------------------

ENGINE_PROBLEM = engine_problem() if shutil.which("docker") else "the docker client is not installed"
needs_engine = pytest.mark.skipif(ENGINE_PROBLEM is not None, reason=f"no Docker engine answers ({ENGINE_PROBLEM})")
TEST_IMAGE = "agentopt-env:test"


@pytest.fixture(scope="module")
def image() -> str:
    """This checkout's image, built from docker/Dockerfile (a failed build fails the test)."""
    build = subprocess.run(["docker", "build", "-q", "-t", TEST_IMAGE, "-f", str(REPO / "docker" / "Dockerfile"), str(REPO)],
                           capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, build.stdout + build.stderr
    return TEST_IMAGE


ANSWERS = {"capital of France": "Paris", "2 + 2": "4", "color is the sky": "blue", "Opposite of hot": "cold"}


def quiz_master(request: dict):
    question = last_user_text(request)
    return call("submit", {"answer": next(a for q, a in ANSWERS.items() if q in question)})


@needs_engine
def test_an_episode_runs_in_a_container_with_no_network(tmp_path, qa_dataset, qa_rubric, image):
    with ScriptedLLM(quiz_master) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        result = run_cli("eval", str(agent), "--rubric", str(qa_rubric), "--env", f"dataset:{qa_dataset}",
                         "--episodes", "1", "--runs-dir", "runs", "--sandbox", "docker", "--sandbox-image", image,
                         cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (run,) = sorted((tmp_path / "runs").iterdir())
    summary = json.loads((run / "summary.json").read_text())["summary"]
    assert summary["n"] == 1 and summary["n_errors"] == 0 and summary["mean"] == 1.0
    # The container is gone once the eval ends (stopped by name, removed by --rm).
    left = subprocess.run(["docker", "ps", "-aq", "--filter", f"ancestor={image}"], capture_output=True, text=True)
    assert left.stdout.strip() == "", left.stdout
