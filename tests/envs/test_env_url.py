"""`--env URL`: a malformed URL is one line naming what is wrong and exit 2, for `eval` and
`run`, before anything starts; a good one becomes the base URL the harness uses."""

from __future__ import annotations

import pytest

from agentopt.envs.session import parse_env, parse_env_url
from agentopt.errors import UsageError
from tests.conftest import REPO, run_cli

BAD = {
    "http://[::1": "Invalid IPv6 URL",
    "http://": "no host",
    "ftp://x": "unsupported scheme 'ftp'",
    "http://host:notaport": "notaport",
    "http://host:99999": "out of range",
    "https://host/?q=1": "no query or fragment",
    "http://host name": "space",
    "gopher://user:hunter22@host": "unsupported scheme",
}


@pytest.mark.parametrize("url", sorted(BAD))
def test_a_malformed_url_is_a_usage_error(url):
    with pytest.raises(UsageError) as raised:
        parse_env(url, sandbox="none")
    assert str(raised.value).startswith("--env: invalid URL ")
    assert BAD[url] in str(raised.value)
    assert "\n" not in str(raised.value)
    assert "hunter22" not in str(raised.value)


def test_good_urls_are_normalised():
    assert parse_env_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert parse_env_url("HTTPS://Example.org/prefix/") == "https://Example.org/prefix"
    assert parse_env_url("ws://[::1]:9000") == "http://[::1]:9000"
    assert parse_env_url("wss://host") == "https://host"
    assert parse_env("http://localhost:1234").url == "http://localhost:1234"


@pytest.mark.parametrize("url", ["http://[::1", "http://", "ftp://x", "http://host:notaport"])
@pytest.mark.parametrize("command", ["eval", "run"])
def test_the_cli_says_one_line_and_exits_2(tmp_path, url, command):
    extra = ["--max-rollouts", "1"] if command == "run" else []
    result = run_cli(command, str(REPO / "agents/support.yaml"), "--rubric", str(REPO / "rubrics/support.yaml"),
                     "--env", url, *extra, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: --env: invalid URL "), result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
