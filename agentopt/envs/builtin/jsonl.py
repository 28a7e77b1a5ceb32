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
    """(line number, parsed record) for every non-blank line; ValueError naming file:line."""
    rows = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise DataError(path, number, f"not valid JSON: {exc.msg}") from None
    return rows
