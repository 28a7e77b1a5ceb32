"""The loopback relay in front of a sandboxed server's Unix socket (agentopt/sandbox/relay.py):
when either side ends (EOF, reset, error) the other is closed at once, so a client never
waits out its timeout on a dead server, and stopping the relay leaves no pending task."""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time

import pytest

from agentopt.sandbox.relay import UnixRelay


class UnixServer:
    """A real Unix-socket server on a thread: each connection is handed to `handler`."""

    def __init__(self, path: str, handler):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.handler = handler
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.handler, args=(conn,), daemon=True).start()

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            try:
                conn.close()
            except OSError:
                pass


@pytest.fixture
def sock_path(tmp_path):
    path = tmp_path / "s.sock"
    yield str(path)
    if path.exists():
        os.unlink(path)


@pytest.fixture
def relay_for():
    relays: list[UnixRelay] = []

    def make(path: str) -> int:
        relay = UnixRelay(path)
        relays.append(relay)
        return relay.start()

    yield make
    for relay in relays:
        relay.stop()


def _recv_until_closed(client: socket.socket, limit_s: float) -> tuple[bytes, float, str]:
    """Read until the relay closes the connection; (bytes read, seconds waited, how it ended)."""
    client.settimeout(limit_s)
    started = time.monotonic()
    got = b""
    try:
        while True:
            chunk = client.recv(65536)
            if not chunk:
                return got, time.monotonic() - started, "eof"
            got += chunk
    except ConnectionResetError:
        return got, time.monotonic() - started, "reset"
    except TimeoutError:
        return got, time.monotonic() - started, "timeout"


def test_a_server_that_dies_with_unread_bytes_closes_the_client_at_once(sock_path, relay_for):
    """The client sends its whole request and waits for the answer; the server reads 16
    bytes of it, starts answering and dies: its socket resets (unread data) and the client
    must see its connection close within a second, not wait out its own timeout."""
    answered = threading.Event()

    def die_mid_conversation(conn: socket.socket) -> None:
        conn.recv(16)
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        answered.set()
        time.sleep(0.3)  # the rest of the request is now unread in this socket
        conn.close()  # so the relay's end gets ECONNRESET

    server = UnixServer(sock_path, die_mid_conversation)
    try:
        client = socket.create_connection(("127.0.0.1", relay_for(sock_path)))
        client.sendall(b"POST / HTTP/1.1\r\n" + b"x" * 65536)
        assert answered.wait(5)
        got, waited, how = _recv_until_closed(client, limit_s=10)
        assert how in ("eof", "reset"), f"the client was left waiting ({waited:.1f} s)"
        assert waited < 1.5
        assert got == b"HTTP/1.1 200 OK\r\n" or how == "reset"
        client.close()
    finally:
        server.close()


def test_a_server_that_closes_cleanly_closes_the_client_after_its_answer(sock_path, relay_for):
    def answer_and_close(conn: socket.socket) -> None:
        conn.recv(1024)
        conn.sendall(b"pong" * 1000)
        conn.close()

    server = UnixServer(sock_path, answer_and_close)
    try:
        client = socket.create_connection(("127.0.0.1", relay_for(sock_path)))
        client.sendall(b"ping")
        got, waited, how = _recv_until_closed(client, limit_s=10)
        assert (got, how) == (b"pong" * 1000, "eof") and waited < 1.5
        client.close()
    finally:
        server.close()


def test_a_client_that_goes_away_closes_the_server_side(sock_path, relay_for):
    ended = threading.Event()

    def wait_for_close(conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            while conn.recv(1024):
                pass
        except OSError:
            pass
        ended.set()

    server = UnixServer(sock_path, wait_for_close)
    try:
        client = socket.create_connection(("127.0.0.1", relay_for(sock_path)))
        client.sendall(b"hello")
        time.sleep(0.2)
        client.close()
        assert ended.wait(1.5)
    finally:
        server.close()


def test_stopping_the_relay_with_open_connections_leaves_no_pending_task(sock_path, caplog):
    """`Task was destroyed but it is pending!` came from stopping the relay's loop while
    connections were still being copied."""

    def idle(conn: socket.socket) -> None:
        conn.recv(1024)
        time.sleep(5)

    server = UnixServer(sock_path, idle)
    relay = UnixRelay(sock_path)
    port = relay.start()
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        for client in clients:
            client.sendall(b"hi")
        time.sleep(0.3)
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            started = time.monotonic()
            relay.stop()
            stopped_in = time.monotonic() - started
            gc.collect()
        assert not [r for r in caplog.records if "destroyed" in r.getMessage()]
        assert stopped_in < 2
        for client in clients:  # every client was closed by the stop
            assert _recv_until_closed(client, limit_s=2)[2] in ("eof", "reset")
    finally:
        for client in clients:
            client.close()
        server.close()
