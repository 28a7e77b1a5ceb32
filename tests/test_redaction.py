"""URL credentials never reach a file, a report or the terminal.

`--env http://user:pass@host:port` and `--storage postgresql://user:pass@...` connect with the
real URL; summary.json, report.md, report.html, run_options.json, traces, logs, stdout and
stderr hold it with `***` for the user info and for secret-looking query values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentopt.errors import EnvError, Problem, ValidationError
from agentopt.redact import redact, redact_url, redacted_errors
from agentopt.servers import free_port
from tests.conftest import run_cli, scripted_agent, write
from tests.fakes.flaky_env import FlakyDataset
from tests.fakes.openai_server import Reply, ScriptedLLM, call, last_user_text

PASSWORD = "Pw0rd-9f8e7d6c"
USER = "alice-user-5b4a"
STORAGE_SECRET = "StPw-1a2b3c4d"


@pytest.mark.parametrize(("url", "expected"), [
    ("http://alice:pw@127.0.0.1:80/x", "http://***@127.0.0.1:80/x"),
    ("https://TOKEN123@host", "https://***@host"),
    ("http://a:p@ss@host/", "http://***@host/"),  # an unencoded @ in the password
    ("postgresql://u:p%40ss@db:5432/optuna?sslmode=require&sslpassword=zz&application_name=a",
     "postgresql://***@db:5432/optuna?sslmode=require&sslpassword=***&application_name=a"),
    ("http://h/?token=abc&x=1&api_key=&sig=zz&X-Amz-Signature=f00#frag", "http://h/?token=***&x=1&api_key=&sig=***&X-Amz-Signature=***#frag"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("support", "support"),
    ("dataset:/data/q?.jsonl", "dataset:/data/q?.jsonl"),
    (None, None),
])
def test_redact_url_hides_user_info_and_secret_query_values(url, expected):
    assert redact_url(url) == expected
    assert redact_url(expected) == expected  # idempotent: a saved URL compares with a given one


def test_redact_hides_url_credentials_inside_any_text():
    text = f"ConnectError: cannot reach ws://{USER}:{PASSWORD}@10.0.0.1:9/ws?access_token=abc123 (refused)"
    assert redact(text) == "ConnectError: cannot reach ws://***@10.0.0.1:9/ws?access_token=*** (refused)"


def test_redacted_errors_rewrites_the_message_but_keeps_the_type_and_exit_code():
    with pytest.raises(EnvError) as caught, redacted_errors():
        raise EnvError(f"environment http://{USER}:{PASSWORD}@h:1: listing tasks failed")
    assert str(caught.value) == "environment http://***@h:1: listing tasks failed" and caught.value.exit_code == 3
    problem = ValidationError(Problem("f.yaml", 1, 1, "x", "y"))
    with pytest.raises(ValidationError) as kept, redacted_errors():
        raise problem
    assert kept.value is problem


def half_right(request: dict) -> Reply:
    """Wrong on odd questions: the baseline is not perfect, so `run` searches (and opens its study)."""
    number = int(last_user_text(request).split("Question ")[1].split("?")[0])
    return call("submit", {"answer": "a" if number % 2 == 0 else "b"})


def qa_files(tmp_path: Path) -> tuple[Path, Path]:
    rows = [{"id": f"q{i}", "split": s, "input": f"Question {i}?", "expected": "a"}
            for i, s in enumerate(["val", "val", "train", "train", "train", "train", "test", "test"])]
    data = tmp_path / "data" / "d.jsonl"
    data.parent.mkdir()
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    rubric = write(tmp_path / "r.yaml", """
        name: r
        criteria:
          - id: c
            description: d
            check: {type: env_reward}
        """)
    return data, rubric


def assert_no_secret(tmp_path: Path, *outputs: str) -> None:
    """Not in any file under tmp_path (run folders, logs, caches, study.db) nor in the CLI's output."""
    secrets = (PASSWORD, USER, STORAGE_SECRET)
    for text in outputs:
        for secret in secrets:
            assert secret not in text, text
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and any(s.encode() in p.read_bytes() for s in secrets)]
    assert leaked == []


def with_credentials(url: str) -> str:
    return url.replace("http://", f"http://{USER}:{PASSWORD}@")


def test_eval_and_run_against_a_url_with_credentials_write_it_nowhere(tmp_path):
    data, rubric = qa_files(tmp_path)
    with FlakyDataset(data) as env, ScriptedLLM(half_right) as llm:
        agent = scripted_agent(tmp_path, llm.url)
        url = with_credentials(env.url)
        storage = f"sqlite:///{tmp_path / 'shared.db'}?password={STORAGE_SECRET}"
        evaluated = run_cli("eval", str(agent), "-r", str(rubric), "--env", url, "--runs-dir", "runs", cwd=tmp_path)
        optimized = run_cli("run", str(agent), "-r", str(rubric), "--env", url, "--storage", storage, "--runs-dir", "runs",
                            "--max-rollouts", "28", "--minibatch", "2", cwd=tmp_path)
        assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
        assert optimized.returncode == 0, optimized.stdout + optimized.stderr
        eval_run = next((tmp_path / "runs").glob("*-eval-*"))
        run = next((tmp_path / "runs").glob("*-run-*"))
        shown = f"http://***@127.0.0.1:{env.port}"
        assert json.loads((eval_run / "summary.json").read_text())["env"] == shown
        assert json.loads((run / "summary.json").read_text())["env"] == shown
        assert f"`{shown}`" in (eval_run / "report.md").read_text() and f"`{shown}`" in (run / "report.md").read_text()
        options = json.loads((run / "run_options.json").read_text())
        assert options["env"] == shown
        assert options["config"]["storage"] == f"sqlite:///{tmp_path / 'shared.db'}?password=***"
        assert (tmp_path / "shared.db").exists()  # the real storage URL was the one used
        assert_no_secret(tmp_path, evaluated.stdout, evaluated.stderr, optimized.stdout, optimized.stderr)

        # --resume: the credentials were not saved, so it asks for them, in one line...
        asked = run_cli("run", "--resume", str(run), cwd=tmp_path)
        assert asked.returncode == 2, asked.stdout + asked.stderr
        assert asked.stderr.strip() == (f"error: --resume: the run's --env had credentials, which are not saved: "
                                        f"give --env {shown} again, with them")
        # ...refuses another server...
        other = run_cli("run", "--resume", str(run), "--env", f"http://{USER}:{PASSWORD}@127.0.0.1:1", "--storage", storage, cwd=tmp_path)
        assert other.returncode == 2 and "is not the run's" in other.stderr, other.stdout + other.stderr
        # ...and carries on with them given again.
        resumed = run_cli("run", "--resume", str(run), "--env", url, "--storage", storage, "--max-rollouts", "30", cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert_no_secret(tmp_path, asked.stderr, other.stdout, other.stderr, resumed.stdout, resumed.stderr)


@pytest.mark.parametrize("command", ["eval", "run"])
def test_an_unreachable_url_with_credentials_fails_in_one_line_without_them(tmp_path, command):
    data, rubric = qa_files(tmp_path)
    agent = scripted_agent(tmp_path, "http://127.0.0.1:9/v1")
    url = with_credentials(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    result = run_cli(command, str(agent), "-r", str(rubric), "--env", url, "--runs-dir", "runs", cwd=tmp_path, timeout=180)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "http://***@127.0.0.1:" in lines[0], result.stderr
    assert_no_secret(tmp_path, result.stdout, result.stderr)


def test_personal_data_in_harvested_text_is_replaced_and_counted():
    from agentopt.redact import redact_personal

    text = ("Mail jo.doe@example.co.uk or call +44 20 7946 0958 / (415) 555-0132; token ghp_abcdefghijklmnopqrstuvwxyz12, "
            "key sk-abcdefghijklmnop1234. Order A47959 of 2026-12-01, 3 items, ticket 1234567.")
    clean, counts = redact_personal(text)
    assert clean == ("Mail [EMAIL] or call [PHONE] / [PHONE]; token [REDACTED], key [REDACTED]. "
                     "Order A47959 of 2026-12-01, 3 items, ticket 1234567.")  # short numbers and dates stay
    assert counts == {"emails": 1, "phones": 2, "keys": 2}
