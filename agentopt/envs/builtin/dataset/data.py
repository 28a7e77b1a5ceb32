"""The `dataset` environment's data: records, splits, the answer schema, the reward.

No OpenEnv imports here: the harness loads the file with this module before it launches
the server, so a broken file is reported as `file:line` (exit 2), not as a crashed server.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from agentopt.envs.builtin.jsonl import SPLITS, DataError, read_jsonl

DEFAULT_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "description": "Your final answer."}},
    "required": ["answer"],
    "additionalProperties": False,
}


def assign_split(record_id: str) -> str:
    bucket = int(hashlib.sha256(record_id.encode()).hexdigest(), 16) % 10
    return "train" if bucket < 6 else ("val" if bucket < 8 else "test")


def load_dataset(path: Path) -> dict[str, list[dict[str, Any]]]:
    tasks: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    seen: dict[str, int] = {}  # task id -> the line that first used it: ids key scores and the run journal
    for number, (line, record) in enumerate(read_jsonl(path), start=1):
        if not isinstance(record, dict):
            raise DataError(path, line, "record is not a JSON object")
        if "input" not in record:
            raise DataError(path, line, "record has no 'input' field")
        record = dict(record)
        record.setdefault("id", f"{Path(path).stem}-{number}")  # the record's ordinal: unchanged by blank lines
        record["id"] = str(record["id"])
        if record["id"] in seen:
            raise DataError(path, line, f"task id {record['id']!r} already used on line {seen[record['id']]}")
        seen[record["id"]] = line
        split = record.get("split") or assign_split(record["id"])
        if split not in tasks:
            raise DataError(path, line, f"split {split!r} is not one of {', '.join(SPLITS)}")
        record["split"] = split
        tasks[split].append(record)
    return tasks


def load_schema(path: Path) -> dict[str, Any]:
    sidecar = Path(path).with_suffix(".schema.json")
    if not sidecar.exists():
        return DEFAULT_SCHEMA
    raw = sidecar.read_bytes()
    try:
        schema = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError(sidecar, line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {column})") from None
    except json.JSONDecodeError as exc:
        raise DataError(sidecar, exc.lineno, f"not valid JSON: {exc.msg}") from None
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise DataError(sidecar, 1, 'the answer schema must be a JSON Schema with "type": "object"')
    return schema


def _norm(value: Any) -> Any:
    """Compare as trimmed, case-insensitive text, so an expected 4 matches an answer "4"."""
    return None if value is None else str(value).strip().lower()


def answer_reward(answer: dict[str, Any], expected: Any) -> float:
    """Share of the expected fields the answer matches."""
    if not isinstance(expected, dict):
        expected = {"answer": expected}
    if not expected:
        return 1.0
    hits = sum(1 for key, want in expected.items() if _norm(answer.get(key)) == _norm(want))
    return hits / len(expected)
