"""Day one (issue 12): --version, clean help, init, the project file, --json, runs, eval's HTML report."""

from __future__ import annotations

import re

from agentopt import __version__
from tests.conftest import run_cli


def test_version(tmp_path):
    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"agentopt {__version__}"


def test_help_has_no_bool_and_no_braced_arguments(tmp_path):
    for command in ([], ["eval"], ["run"], ["validate"], ["runs"], ["report"], ["init"]):
        result = run_cli(*command, "--help", cwd=tmp_path, env={"COLUMNS": "200"})
        assert result.returncode == 0, result.stderr
        assert "<bool>" not in result.stdout, command
        assert not re.search(r"\{[a-z_]+\}", result.stdout), command
    usage = run_cli("eval", "--help", cwd=tmp_path, env={"COLUMNS": "200"}).stdout
    assert re.search(r"Usage: .*agentopt eval \[OPTIONS\] \[?AGENT\]?\s", usage), usage[:300]
