"""A tiny HTTP server for the sandbox conformance suite (standard library only: it starts fast,
in any sandbox). `python -m agentopt.testing.probe_server --port N` or `--uds PATH`.

GET /health -> 200; GET /env -> the names of its environment variables, as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import socketserver
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/health":
            body = b'{"status": "ok"}'
        elif self.path == "/env":
            body = json.dumps(sorted(os.environ)).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass

    def address_string(self) -> str:
        return "local"  # a Unix socket's peer has no host


class UnixHTTPServer(socketserver.UnixStreamServer):
    def get_request(self):  # type: ignore[no-untyped-def]
        request, _ = super().get_request()
        return request, ("local", 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int)
    where.add_argument("--uds")
    args = parser.parse_args()
    server: socketserver.BaseServer = UnixHTTPServer(args.uds, Handler) if args.uds else HTTPServer(("127.0.0.1", args.port), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
