"""Reading JSONL task files, with the line number of every record for error messages.

Kept free of OpenEnv imports so the harness can check a data file before it launches a
server (a bad file is the user's error, reported as file:line, not a crashed server).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SPLITS = ("train", "val", "test")


class DataError(ValueError):
    """A problem at one line of a data file."""

    def __init__(self, path: Path | str, line: int, message: str):
        self.path, self.line, self.message = str(path), line, message
        super().__init__(f"{path}:{line}: {message}")


def read_jsonl(path: Path) -> list[tuple[int, Any]]:
    """(line number, parsed record) for every non-blank line; DataError naming file:line.

    Read as bytes and decoded line by line, so a byte that is not UTF-8 is reported with its
    line and column instead of a UnicodeDecodeError from the middle of the file."""
    rows = []
    with Path(path).open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = decode_line(path, number, raw)
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise DataError(path, number, f"not valid JSON: {exc.msg}") from None
    return rows


def decode_line(path: Path | str, number: int, raw: bytes) -> str:
    """One line of a data file as text; a UTF-8 byte-order mark on the first line is dropped."""
    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start]
        raise DataError(path, number, f"not valid UTF-8 (byte 0x{byte:02x} at column {exc.start + 1})") from None
