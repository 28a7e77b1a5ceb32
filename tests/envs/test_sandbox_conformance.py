"""Every registered sandbox (local, docker, none, or one from an installed package) passes the conformance suite."""

from __future__ import annotations

import pytest

from agentopt.sandbox.kinds import SANDBOXES
from agentopt.testing.sandboxes import SandboxConformance


class TestRegisteredSandboxes(SandboxConformance):
    @pytest.fixture(params=SANDBOXES.names())
    def sandbox(self, request):
        return SANDBOXES.get(request.param)
