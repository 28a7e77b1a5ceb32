"""A server that accepts a connection and never answers the WebSocket handshake (wedged, or
not an environment at all) holds a session's connect no longer than the step timeout, not
OpenEnv's default of 10 s."""

from __future__ import annotations

import asyncio
import time

import pytest

from agentopt.envs.client import CONNECT_TIMEOUT_S, session_client


async def test_a_handshake_that_never_comes_fails_after_the_step_timeout():
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # kept open, never answered

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = session_client(f"http://127.0.0.1:{port}", step_timeout_s=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(Exception):  # noqa: B017 - OpenEnv's client says it in its own words
            await client.connect()
        waited = time.monotonic() - started
    finally:
        server.close()
        for writer in accepted:
            writer.close()
    assert accepted, "the client never reached the server"
    assert waited < CONNECT_TIMEOUT_S / 2, f"the connect waited {waited:.1f} s for a 0.5 s step timeout"


def test_a_long_step_timeout_keeps_openenvs_own_connect_limit():
    assert session_client("http://127.0.0.1:1", step_timeout_s=600)._connect_timeout == CONNECT_TIMEOUT_S
