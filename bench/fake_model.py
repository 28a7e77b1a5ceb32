"""A minimal OpenAI-compatible chat server for benchmarks, run as its own process.

It plays the counter environment (bench/counter_env.py) through native tool calls:
`add(amount=1)` until it has seen `--adds` tool results, then `done(answer=<total>)`,
where the total is read from the last tool result ("total is now N"). It answers after
`--delay` seconds (0: at once).

Written on bare asyncio (HTTP/1.1, keep-alive) rather than FastAPI/uvicorn so that its
own cost per request stays small and measurable: it adds up the time it spends handling
each request (from the request's last byte to the response's last byte, minus the
deliberate delay) and serves the totals at GET /stats (POST /stats/reset zeroes them).

    .venv/bin/python bench/fake_model.py --port 8900 --delay 0.2 --adds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time

TOTAL = re.compile(r"total is now (-?\d+)")


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.handle_s = 0.0
        self.cpu_at_reset = time.process_time()

    def as_dict(self) -> dict:
        return {"requests": self.requests, "handle_s": self.handle_s, "cpu_s": time.process_time() - self.cpu_at_reset}


def reply(body: dict, adds: int) -> dict:
    results = [m for m in body.get("messages", []) if m.get("role") == "tool"]
    if len(results) < adds:
        name, arguments = "add", {"amount": 1}
    else:
        match = TOTAL.search(str(results[-1].get("content", ""))) if results else None
        name, arguments = "done", {"answer": int(match.group(1)) if match else 0}
    call = {"id": f"call_{len(results)}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "bench"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [call]}, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }


def response_bytes(status: str, payload: dict) -> bytes:
    data = json.dumps(payload).encode()
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: keep-alive\r\n\r\n"
    return head.encode() + data


async def serve(port: int, delay: float, adds: int) -> None:
    stats = Stats()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (text.partition(":") for text in lines[1:] if text)}
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                started = time.perf_counter()
                if method == "POST" and path.endswith("/chat/completions"):
                    out = response_bytes("200 OK", reply(json.loads(body), adds))
                    handled = time.perf_counter() - started
                    if delay:
                        await asyncio.sleep(delay)
                    resumed = time.perf_counter()
                    writer.write(out)
                    await writer.drain()
                    stats.requests += 1
                    stats.handle_s += handled + (time.perf_counter() - resumed)
                    continue
                if path == "/stats" and method == "GET":
                    writer.write(response_bytes("200 OK", stats.as_dict()))
                elif path == "/stats/reset":
                    stats.reset()
                    writer.write(response_bytes("200 OK", {}))
                elif path == "/health":
                    writer.write(response_bytes("200 OK", {"status": "ok"}))
                else:
                    writer.write(response_bytes("404 Not Found", {"error": path}))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--adds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.delay, args.adds))


if __name__ == "__main__":
    main()
