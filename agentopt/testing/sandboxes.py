"""The conformance suite every sandbox passes (the `agentopt.sandboxes` extension point).

Subclass `SandboxConformance` and give it the sandbox as the `sandbox` fixture; agentopt's own
suite runs it over every registered sandbox (tests/envs/test_sandbox_conformance.py). Each
one launches a small server (`agentopt.testing.probe_server`) through `servers.ServerProcess`,
the way environment servers are launched: it must answer on its loopback port, never see a
secret-looking variable of the harness, and leave nothing behind once stopped. A sandbox whose
`preflight` says it cannot run on this machine (no Docker engine) is checked for saying so in
one line, and its launch is skipped with that reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from agentopt.errors import InfraError
from agentopt.sandbox import SandboxConfig
from agentopt.sandbox.base import Sandbox, sandbox_problem
from agentopt.servers import ServerProcess, python_module_argv

SECRET = "AGENTOPT_CONFORMANCE_API_KEY"  # secret-looking: no sandbox may pass it on


class SandboxConformance:
    @pytest.fixture
    def sandbox(self) -> Sandbox:
        raise NotImplementedError("give the sandbox under test as the `sandbox` fixture")

    @pytest.fixture
    def config(self, sandbox: Sandbox) -> SandboxConfig:
        return SandboxConfig.from_env(sandbox.name)

    @pytest.fixture
    def runnable(self, sandbox: Sandbox, config: SandboxConfig) -> Sandbox:
        problem = sandbox.preflight(config)
        if problem is not None:
            pytest.skip(f"sandbox {sandbox.name!r} cannot run here: {problem}")
        return sandbox

    def test_declares_the_sandbox_protocol(self, sandbox: Sandbox) -> None:
        assert sandbox_problem(sandbox) is None, sandbox_problem(sandbox)
        assert sandbox.summary.strip() and "\n" not in sandbox.summary

    def test_preflight_is_none_or_one_line_saying_why(self, sandbox: Sandbox, config: SandboxConfig) -> None:
        problem = sandbox.preflight(config)
        assert problem is None or (problem.strip() and "\n" not in problem), problem

    def test_a_server_answers_on_loopback_without_the_harness_secrets_and_leaves_nothing(
        self, runnable: Sandbox, config: SandboxConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(SECRET, "sk-conformance-0000")
        server = ServerProcess(f"{runnable.name} probe server", python_module_argv("agentopt.testing.probe_server"),
                               tmp_path / "probe.log", startup_timeout_s=60, sandbox=config)
        try:
            server.start()
            box = server._box
            assert server.url.startswith("http://127.0.0.1:")
            names = httpx.get(server.url + "/env", timeout=10).json()
            assert SECRET not in names
            assert box is not None and box.setup_failure(server.name, 0, "") is None  # a clean exit is not the sandbox's failure
        finally:
            server.stop()
        assert not server.running
        folder = getattr(box, "dir", None)  # a box's private folder, when it has one, is gone
        assert folder is None or not os.path.exists(folder)

    def test_a_server_that_cannot_start_is_one_infra_error(self, runnable: Sandbox, config: SandboxConfig, tmp_path: Path) -> None:
        server = ServerProcess(f"{runnable.name} broken server", python_module_argv("agentopt.testing.no_such_module"),
                               tmp_path / "broken.log", startup_timeout_s=60, sandbox=config)
        with pytest.raises(InfraError) as raised:
            server.start()
        assert "\n" not in str(raised.value) and not server.running
