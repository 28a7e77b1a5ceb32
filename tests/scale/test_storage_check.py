"""`--storage URL` is checked before anything is spent: one line, an exit code, no password shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentopt.errors import InfraError, UsageError
from agentopt.storage_url import check_storage
from tests.conftest import run_cli, scripted_agent
from tests.fakes.openai_server import ScriptedLLM
from tests.optimize.test_run_integration import dataset, quiz_model, rubric
from tests.scale.pg import PASSWORD


def test_a_reachable_postgres_url_is_accepted_as_psycopg3(pg_url):
    assert check_storage(pg_url).startswith("postgresql+psycopg://")


def test_a_wrong_password_is_one_line_exit_3_without_the_password(pg_cluster, pg_url):
    wrong = pg_url.replace(PASSWORD, "not-the-password-123")
    with pytest.raises(InfraError) as caught:
        check_storage(wrong)
    text = str(caught.value)
    assert "password authentication failed" in text and "not-the-password-123" not in text and "\n" not in text


def test_a_missing_password_and_an_unreachable_server_are_infra_errors(pg_cluster, pg_url):
    database = pg_url.rsplit("/", 1)[1]
    with pytest.raises(InfraError, match="no password supplied|password authentication failed"):
        check_storage(pg_cluster.url(database, password=None))
    with pytest.raises(InfraError, match="cannot connect"):
        check_storage(f"postgresql://u:secret-pw-1@127.0.0.1:1/{database}")


def test_not_a_url_and_unsupported_backends_are_usage_errors():
    for bad in ("notaurl", "mysql://u:p@h/d", "sqlite://"):
        with pytest.raises(UsageError):
            check_storage(bad)


def _blocked_psycopg(tmp_path: Path) -> dict[str, str]:
    """An interpreter where `import psycopg` fails, as on a machine without the postgres extra."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text("import sys\nsys.modules['psycopg'] = None\nsys.modules['psycopg2'] = None\n")
    from tests.conftest import REPO

    return {"PYTHONPATH": f"{shim}:{REPO}"}


@pytest.mark.parametrize("case", ["not a url", "missing driver", "wrong password", "missing password"])
def test_agentopt_run_refuses_a_bad_storage_before_any_episode(tmp_path, pg_cluster, pg_url, case):
    database = pg_url.rsplit("/", 1)[1]
    storage, env, code, words = {
        "not a url": ("notaurl", None, 2, "not a database URL"),
        "missing driver": (pg_url, _blocked_psycopg(tmp_path), 2, "pip install 'agentopt[postgres]'"),
        "wrong password": (pg_url.replace(PASSWORD, "wrong-password-xyz"), None, 3, "password authentication failed"),
        "missing password": (pg_cluster.url(database, password=None), None, 3, "password"),
    }[case]
    data, rules = dataset(tmp_path), rubric(tmp_path)
    with ScriptedLLM(quiz_model) as llm:
        agent = scripted_agent(tmp_path, llm.url, name="capitals")
        result = run_cli("run", str(agent), "-r", str(rules), "--env", f"dataset:{data}", "--runs-dir", "runs",
                         "--max-rollouts", "60", "--minibatch", "4", "--storage", storage, cwd=tmp_path, env=env, timeout=120)
        calls = len(llm.requests)
    assert result.returncode == code, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --storage ") and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr + result.stdout
    assert calls == 0  # nothing was spent: not one model call
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
