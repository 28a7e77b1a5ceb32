"""A loopback TCP port that forwards every connection to a Unix socket.

The sandboxed server has no network, only a Unix socket in its private directory. The
relay gives it the 127.0.0.1:PORT address every OpenEnv client expects (HTTP and the
WebSocket session alike: it copies bytes and knows no protocol). It runs its own asyncio
loop in a daemon thread, so it works the same under the harness's event loop and from
plain threads (health checks, the Task API).
"""

from __future__ import annotations

import asyncio
import socket
import threading

CHUNK = 256 * 1024
CLOSE_GRACE_S = 1.0  # how long a closing connection may take to flush before it is aborted


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until the reading side ends (EOF, reset, any error) or the writing side fails."""
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                return
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        return


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close one side: flush what is buffered (a server's last answer), abort if it hangs."""
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_GRACE_S):
            await writer.wait_closed()
    except (TimeoutError, ConnectionError, OSError):
        writer.transport.abort()


class UnixRelay:
    """`port = UnixRelay(path).start()`; `stop()` closes the port and every connection.

    A connection lives as long as both of its sides: when either ends (EOF, a reset by a
    server that died with unread bytes, any error), both are closed at once, so a client
    never waits out its own timeout on a dead server."""

    def __init__(self, socket_path: str, host: str = "127.0.0.1"):
        self.socket_path = socket_path
        self.host = host
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._handlers: set[asyncio.Task] = set()

    def start(self) -> int:
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(asyncio.start_server(self._handle, self.host, 0))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"relay-{self.socket_path}", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        assert self.port is not None
        return self.port

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._relay(client_reader, client_writer)
        finally:
            self._handlers.discard(task)
            if not client_writer.transport.is_closing():  # cancelled before the relay began
                client_writer.transport.abort()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_unix_connection(self.socket_path, limit=CHUNK)
        except OSError:
            await _close(client_writer)  # not up yet, or gone: the client sees a closed connection
            return
        sock = client_writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pipes = [asyncio.create_task(_pipe(client_reader, server_writer)), asyncio.create_task(_pipe(server_reader, client_writer))]
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)  # either side ended: end both
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            await asyncio.gather(_close(client_writer), _close(server_writer), return_exceptions=True)

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None or loop.is_closed():
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            handlers = list(self._handlers)
            for handler in handlers:
                handler.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)  # each closes its connection
            loop.stop()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop)
        except RuntimeError:
            return
        if self._thread is not None:
            self._thread.join(timeout=5)
