"""Every registered environment kind (mcp, typed, or one from an installed package) passes the
conformance suite; the built-ins also run a session against a real OpenEnv server of their kind
(tests/fakes/openenv_native.py, OpenEnv's own packages only)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentopt.envs.kind import ENV_KINDS
from agentopt.testing.env_kinds import EnvironmentKindConformance, Served
from tests.fakes.openenv_native import grid_app, quiz_app
from tests.fakes.threaded_server import ThreadedServer

# A server of each built-in kind, and one action in it.
SERVERS = {
    "mcp": (quiz_app, "answer", {"value": "Paris"}),
    "typed": (grid_app, "grid_action", {"direction": "down"}),
}


class TestRegisteredEnvironmentKinds(EnvironmentKindConformance):
    @pytest.fixture(params=ENV_KINDS.names())
    def kind(self, request):
        return ENV_KINDS.get(request.param)

    @pytest.fixture
    def served(self, kind) -> Iterator[Served]:
        if kind.name not in SERVERS:
            pytest.skip(f"environment kind {kind.name!r} (from a package): no server of its kind here")
        app, tool, arguments = SERVERS[kind.name]
        server = ThreadedServer(f"{kind.name} server")
        server.start(app)
        try:
            yield Served(f"http://127.0.0.1:{server.port}", tool, arguments)
        finally:
            server.stop()
