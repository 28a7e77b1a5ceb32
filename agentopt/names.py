"""One rule for every name a user or a model chose that becomes part of a path."""

from __future__ import annotations

import re

MAX_NAME_CHARS = 80


def safe_name(text: str, fallback: str = "unnamed") -> str:
    """`text` made into ONE plain file name, for every name a user or a model chose (agent,
    skill) that becomes part of a path: letters, digits, `_`, `.` and `-` only (so no `/`,
    `\\`, NUL or control character), never starting with `.` (no `..`, no hidden file),
    at most MAX_NAME_CHARS characters; `fallback` when nothing is left."""
    slug = re.sub(r"[^\w.-]+", "-", text).strip("-.")
    return slug[:MAX_NAME_CHARS].rstrip("-.") or fallback
