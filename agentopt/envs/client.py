"""What every session's client shares: the WebSocket client with its timeouts, the TLS context, and a bounded, quiet close.

Its own module so that the session (session.py) and its MCP and typed action modules, which the
session picks at run time, use them without importing one another.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import httpx

CLOSE_TIMEOUT_S = 2.0  # a session's close handshake; a wedged server would hold it for 10 s
CONNECT_TIMEOUT_S = 10.0  # OpenEnv's own default for a session's WebSocket handshake


def session_client(url: str, step_timeout_s: float) -> Any:
    """OpenEnv's plain WebSocket client for one session. Its handshake is an answer like any
    step's: a wedged server (one that accepts the connection and never answers) holds an
    episode no longer than a step would, and never longer than OpenEnv's default."""
    from openenv.core.generic_client import GenericEnvClient

    return GenericEnvClient(base_url=url, message_timeout_s=step_timeout_s, connect_timeout_s=min(CONNECT_TIMEOUT_S, step_timeout_s))


@functools.cache
def _tls_context() -> Any:
    """httpx's default TLS context (the same verification), built once per process."""
    return httpx.create_ssl_context()


async def _close_quietly(client: Any) -> None:
    """Close a session's client, best effort and bounded: a broken or wedged server's
    session must not hold up the episode's end."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await client.close()
    except Exception:  # noqa: BLE001 - TimeoutError included
        pass
