"""Run an environment server: a built-in one by name, or any `module:factory` app.

`python -m agentopt.envs.serve support --port 8001` and `agentopt env serve support`
both land here. Options are `key=value` pairs passed to the app factory, e.g.
`dataset path=examples/triage/tickets.jsonl`. `module:attr` may also name an ASGI app
object (OpenEnv environments export `app = create_app(...)`), served as is.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
from typing import Any

from agentopt.envs.builtin import BUILTIN_ENVS
from agentopt.servers import exit_with_parent


def load_factory(name: str) -> Any:
    target = BUILTIN_ENVS.get(name, name)
    if ":" not in target:
        raise ValueError(f"unknown environment {name!r}: use one of {', '.join(BUILTIN_ENVS)} or module:factory")
    module_name, attr = target.split(":", 1)
    return getattr(importlib.import_module(module_name), attr)


def is_app(obj: Any) -> bool:
    """Whether `obj` is an ASGI app to serve as is (what OpenEnv environments export as
    `app`: a FastAPI/Starlette instance, or any object whose `__call__` takes ASGI's
    scope, receive, send) rather than a factory that builds one."""
    if inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj) or inspect.isbuiltin(obj):
        return False
    if hasattr(obj, "router") and hasattr(obj, "middleware_stack"):  # Starlette, FastAPI
        return True
    call = getattr(type(obj), "__call__", None)  # noqa: B004 (its signature is read, not called)
    if call is None:
        return False
    try:
        params = [p for p in inspect.signature(call).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    return len(params) == 4 and inspect.iscoroutinefunction(call)  # self, scope, receive, send


def build_app(name: str, options: dict[str, str]) -> Any:
    """The app to serve: `module:attr` names an app (served as is) or a factory (called with
    the `key=value` options)."""
    target = load_factory(name)
    if is_app(target):
        if options:
            raise ValueError(f"{name} is an app, not a factory: it takes no options ({', '.join(sorted(options))})")
        return target
    if not callable(target):
        raise ValueError(f"{name} is neither an ASGI app nor a factory that builds one")
    return target(**options)


def serve(name: str, port: int | None, host: str = "127.0.0.1", options: dict[str, str] | None = None, uds: str | None = None) -> None:
    """Serve on host:port, or on the Unix socket `uds` (how the sandbox runs it: no network)."""
    import uvicorn

    app = build_app(name, options or {})
    where = {"uds": uds} if uds else {"host": host, "port": port}
    uvicorn.run(app, **where, log_level="warning", ws_ping_interval=None)


def parse_options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"option {pair!r} is not key=value")
        options[key] = value
    return options


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve an OpenEnv environment on loopback.")
    parser.add_argument("name")
    parser.add_argument("options", nargs="*", help="key=value options for the environment")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int)
    where.add_argument("--uds", help="listen on this Unix socket instead (the sandboxed launch)")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    exit_with_parent()
    serve(args.name, args.port, args.host, parse_options(args.options), uds=args.uds)


if __name__ == "__main__":
    main()
