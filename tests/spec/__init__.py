"""Spec tests run in a fresh folder, so problems show the short relative paths users type."""

import textwrap
from pathlib import Path


def write(path: str, text: str) -> str:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(textwrap.dedent(text))
    return path
