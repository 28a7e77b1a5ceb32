"""Keep secrets out of traces, reports and logs.

Every error text that reaches a trace or the terminal goes through `redact`: it removes
the values of the host's secret-looking environment variables and anything shaped like
a provider key.
"""

from __future__ import annotations

import os
import re

SECRET_NAME = re.compile(r"(API_KEY|_TOKEN|SECRET|PASSWORD|^AZURE_|^OPENAI_|^ANTHROPIC_)", re.I)
KEY_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{20,}|hf_[A-Za-z0-9]{20,})")


def secret_values() -> list[str]:
    return [v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= 8]


def redact(text: str) -> str:
    for value in secret_values():
        text = text.replace(value, "[REDACTED]")
    return KEY_SHAPES.sub("[REDACTED]", text)
