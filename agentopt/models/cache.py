"""On-disk SQLite cache of model responses, keyed by the full request.

A repeated evaluation makes no new model calls. The key is a SHA-256 of the request's
canonical JSON (model, messages, sampling parameters, tools, schema); API keys are
never part of a request, so nothing secret is stored. Open it with `sqlite3`:
`select model, created_at from responses`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path

from agentopt.models.types import ChatRequest, ChatResponse, ModelToolCall

SCHEMA = """
create table if not exists responses (
    key text primary key,
    model text not null,
    request text not null,
    response text not null,
    created_at real not null
)
"""


def request_key(request: ChatRequest) -> str:
    canonical = json.dumps(request.cache_key_fields(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class ResponseCache:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma busy_timeout=30000")
        self._db.execute(SCHEMA)

    def get(self, request: ChatRequest) -> ChatResponse | None:
        with self._lock:
            row = self._db.execute("select response from responses where key = ?", (request_key(request),)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        data["tool_calls"] = [ModelToolCall(**c) for c in data.get("tool_calls", [])]
        data.update(cached=True, latency_s=0.0, cost_usd=0.0)
        return ChatResponse(**data)

    def put(self, request: ChatRequest, response: ChatResponse) -> ChatResponse:
        """Store `response` unless an answer to the same request is stored already (another
        process got there first): the first answer wins, so every trace that used an answer
        and every later replay agree. Returns the stored answer."""
        payload = json.dumps(asdict(response))
        record = json.dumps(request.cache_key_fields(), sort_keys=True)
        with self._lock:
            inserted = self._db.execute(
                "insert or ignore into responses values (?, ?, ?, ?, ?)",
                (request_key(request), request.model, record, payload, time.time()),
            ).rowcount
        if inserted:
            return response
        stored = self.get(request)
        return stored if stored is not None else response

    def close(self) -> None:
        with self._lock:
            self._db.close()
