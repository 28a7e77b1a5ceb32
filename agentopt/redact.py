"""Keep secrets out of traces, reports and logs.

Every error text that reaches a trace or the terminal goes through `redact`: it removes
the values of the host's secret-looking environment variables, anything shaped like a
provider key, and the credentials of any URL in the text.

A URL a user gave (`--env http://user:pass@host`, `--storage postgresql://user:pass@...`)
is written to run folders only through `redact_url`: its user info becomes `***` and so do
the values of query parameters whose names look secret (token, key, password, secret,
sig, ...). The real URL is still the one used to connect.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote

from agentopt.errors import AgentoptError, ValidationError

SECRET_NAME = re.compile(r"(API_KEY|_TOKEN|SECRET|PASSWORD|^AZURE_|^OPENAI_|^ANTHROPIC_)", re.I)
KEY_SHAPES = re.compile(
    r"\b(sk-[A-Za-z0-9_\-]{8,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{20,}|hf_[A-Za-z0-9]{20,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9\-]{10,})"
)
# Personal data in text users wrote (tasks harvested from production logs): e-mail addresses, and
# phone numbers (an optional +, then 9 to 15 digits with spaces, dots, dashes or brackets between;
# shorter digit runs such as order numbers and dates are left alone).
EMAIL = re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b")
PHONE = re.compile(r"(?<![\w+])\+?\(?\d(?:[\s.\-()]{0,2}\d){8,14}(?!\w)")

HIDDEN = "***"
# A query parameter whose value is a secret, by its name: token, access_token, api_key, apikey,
# key, password, passwd, pwd, secret, client_secret, sig, signature, auth, credential(s), session.
SECRET_PARAM = re.compile(r"token|key|passw|pwd|secret|sig|auth|credential|session|cookie", re.I)
# `scheme://user:password@` inside any text: everything up to the last `@` before the host.
_URL_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/\s?#]*@")
# `?name=value` / `&name=value` inside any text.
_QUERY_PARAM = re.compile(r"([?&;])([^=&;#\s?]+)=([^&;#\s]*)")


def secret_values() -> list[str]:
    return [v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= 8]


def redact(text: str) -> str:
    for value in secret_values():
        text = text.replace(value, "[REDACTED]")
    return redact_urls(KEY_SHAPES.sub("[REDACTED]", text))


def redact_personal(text: str) -> tuple[str, dict[str, int]]:
    """`text` with e-mail addresses, phone numbers and API keys (`redact`) replaced by
    `[EMAIL]`, `[PHONE]` and `[REDACTED]`, and how many of each it replaced."""
    counts = {"emails": 0, "phones": 0, "keys": 0}
    keyed = redact(text)
    counts["keys"] = keyed.count("[REDACTED]") - text.count("[REDACTED]")
    text, counts["emails"] = EMAIL.subn("[EMAIL]", keyed)
    text, counts["phones"] = PHONE.subn("[PHONE]", text)
    return text, counts


def redact_url(url: str | None) -> str | None:
    """`url` as it may be written down: `scheme://***@host:port/path?token=***`.

    The whole user info goes (a user name can be a key too, e.g. `https://TOKEN@host`), and so
    do the values of secret-looking query parameters; everything else is kept as it was, so the
    URL still says which server it was. Not a URL (a path, `support`, None): returned as is."""
    if not url:
        return url
    return redact_urls(url)


def redact_urls(text: str) -> str:
    """Every URL credential in `text` (user info, secret query values) replaced by `***`."""
    text = _URL_USERINFO.sub(rf"\1{HIDDEN}@", text)
    if "?" not in text:
        return text
    return _QUERY_PARAM.sub(_hide_param, text)


def _hide_param(match: re.Match[str]) -> str:
    separator, name, value = match.groups()
    if value and value != HIDDEN and SECRET_PARAM.search(unquote(name)):
        value = HIDDEN
    return f"{separator}{name}={value}"


@contextmanager
def redacted_errors() -> Iterator[None]:
    """Re-raise an AgentoptError whose message holds a secret (e.g. a server URL with its
    password, named by the layer that failed to reach it) with that secret redacted: the
    message is printed to a terminal or a CI log. Also usable as a decorator."""
    try:
        yield
    except ValidationError:
        raise  # file:line problems: the user's own files, already one line each
    except AgentoptError as error:
        text = redact(str(error))
        if text == str(error):
            raise
        raise type(error)(text) from None
