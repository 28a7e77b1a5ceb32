"""Every registered check (built-in or from an installed package) passes the conformance suite."""

from __future__ import annotations

import pytest

from agentopt.scoring.base import CHECKS
from agentopt.testing.checks import CheckConformance


class TestRegisteredChecks(CheckConformance):
    @pytest.fixture(params=CHECKS.names())
    def check(self, request):
        return CHECKS.get(request.param)
