"""Every registered operator (built-in or from an installed package) passes the conformance suite."""

from __future__ import annotations

import pytest

from agentopt.optimizer.operators import OPERATORS
from agentopt.testing.operators import OperatorConformance


class TestRegisteredOperators(OperatorConformance):
    @pytest.fixture(params=OPERATORS.names())
    def operator(self, request):
        return OPERATORS.get(request.param)

