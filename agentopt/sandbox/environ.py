"""The environment a sandboxed server gets: an allow-list, not the host's environment.

Only what a Python server needs to run passes (PATH, locale, PYTHON* settings, the
virtualenv), never a secret-looking name even among those; HOME and TMPDIR point into
the server's private directory. A user who needs more names passed sets
AGENTOPT_SANDBOX_PASS_ENV=NAME,NAME (an explicit choice, so those pass as given).
"""

from __future__ import annotations

import os
import re

from agentopt.redact import SECRET_NAME

ALLOWED_NAMES = {"PATH", "LANG", "LANGUAGE", "TZ", "VIRTUAL_ENV", "AGENTOPT_PARENT_PID"}
ALLOWED_PATTERN = re.compile(r"^(LC_[A-Z]+|PYTHON[A-Z0-9_]*)$")
PASS_ENV = "AGENTOPT_SANDBOX_PASS_ENV"


def allowed(name: str) -> bool:
    return (name in ALLOWED_NAMES or bool(ALLOWED_PATTERN.match(name))) and not SECRET_NAME.search(name)


def sandbox_environ(home: str, tmp: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if allowed(k)}
    for name in filter(None, (n.strip() for n in os.environ.get(PASS_ENV, "").split(","))):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(HOME=home, TMPDIR=tmp, TMP=tmp, TEMP=tmp)
    env.setdefault("PATH", os.defpath)
    env.update(extra or {})
    return env


def scrubbed_environ(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The host's environment minus anything that looks like a secret, plus `extra`: what an
    unconfined child (`--sandbox none`, the embedded model server, the docker client) gets."""
    env = {k: v for k, v in os.environ.items() if not SECRET_NAME.search(k)}
    env.update(extra or {})
    return env
