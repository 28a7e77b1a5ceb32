"""A tiny HTTP server on a Unix socket, launched sandboxed by tests/envs/test_sandbox.py.

`python tests/envs/uds_probe_server.py --uds PATH` (the sandbox appends `--uds PATH`).
Starts in a few tens of milliseconds (standard library only), so tests can launch many.
GET /health; /where (cwd, environment, limits); /connect?host=H&port=P; /connect_unix?path=P; /write?mb=N;
/hog (fill memory gradually); /burn (loop on the CPU); /plant?path=P&text=T (write a file);
/read?path=P; /listing?path=P.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

MiB = 1024 * 1024


def connect(host: str, port: int) -> str:
    try:
        with socket.create_connection((host, port), timeout=3):
            return "connected"
    except OSError as exc:
        return f"failed: {type(exc).__name__}: {exc}"


def connect_unix(path: str) -> str:
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(3)
            sock.connect(path)
            return "connected"
    except OSError as exc:
        return f"failed: {type(exc).__name__}: {exc.strerror}"


def listing(path: str) -> list[str] | str:
    try:
        return sorted(os.listdir(path))
    except OSError as exc:
        return f"failed: {type(exc).__name__}: {exc.strerror}"


def write(mb: int) -> str:
    try:
        with open(os.path.join(os.environ.get("TMPDIR", "."), "big"), "wb") as handle:
            for _ in range(mb):
                handle.write(b"x" * MiB)
                handle.flush()
        return f"wrote {mb} MiB"
    except OSError as exc:
        return f"failed: {type(exc).__name__}: {exc}"


def plant(path: str, text: str) -> str:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return f"wrote {path}"
    except OSError as exc:
        return f"failed: {type(exc).__name__}: {exc.strerror}"


def read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "read: " + handle.read(2000)
    except OSError as exc:
        return f"failed: {type(exc).__name__}: {exc.strerror}"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/health":
            body: object = "ok"
        elif url.path == "/where":
            limits = {k: resource.getrlimit(getattr(resource, k)) for k in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_FSIZE")}
            body = {"cwd": os.getcwd(), "environ": dict(os.environ), "limits": limits, "pid": os.getpid(), "uid": os.getuid()}
        elif url.path == "/connect":
            body = connect(q["host"], int(q["port"]))
        elif url.path == "/connect_unix":
            body = connect_unix(q["path"])
        elif url.path == "/plant":
            body = plant(q["path"], q.get("text", "planted"))
        elif url.path == "/read":
            body = read(q["path"])
        elif url.path == "/listing":
            body = listing(q["path"])
        elif url.path == "/write":
            body = write(int(q["mb"]))
        elif url.path == "/hog":
            blocks = []
            while True:
                blocks.append(b"x" * (16 * MiB))
                time.sleep(0.01)
        elif url.path == "/burn":
            while True:
                pass
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self) -> str:
        return "unix"

    def log_message(self, *args: object) -> None:
        pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    # Sandboxed, the server is its PID namespace's init, which the kernel spares every signal it
    # has no handler for: without this one, SIGTERM is ignored and each stop waits out the
    # harness's 5 s grace before SIGKILL. (Real servers, uvicorn's included, handle SIGTERM.)
    signal.signal(signal.SIGTERM, stop)
    path = sys.argv[sys.argv.index("--uds") + 1]
    with Server(path, Handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
