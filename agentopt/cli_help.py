"""Help text as users expect it: `AGENT` and `[DIR]` in usage lines (not `{agent}`), and no
`<bool>` beside a flag. Typer 0.2x writes those; this adjusts its parameter classes once, at
import, and leaves everything else (parsing, errors) as Typer does it."""

from __future__ import annotations

from typing import Any

try:
    from typer import core as _core
except ImportError:  # pragma: no cover - Typer always ships typer.core
    _core = None  # type: ignore[assignment]


def _argument_name(param: Any) -> str:
    return param.metavar if param.metavar is not None else (param.name or "").upper()


def _usage_name(param: Any) -> str:
    name = _argument_name(param)
    name = name if param.required else f"[{name}]"
    return name + ("..." if param.nargs != 1 else "")


def _rich_name(param: Any) -> str:
    return _argument_name(param) + ("..." if param.metavar is None and param.nargs != 1 else "")


def _install() -> None:
    if _core is None:
        return
    argument = getattr(_core, "TyperArgument", None)
    option = getattr(_core, "TyperOption", None)
    if argument is not None and hasattr(argument, "_usage_display_name"):
        argument._usage_display_name = _usage_name
        argument.display_name_raw = property(_argument_name)
        if hasattr(argument, "_rich_display_name"):
            argument._rich_display_name = _rich_name
    if option is not None and hasattr(option, "display_type_rich"):
        shown = option.display_type_rich

        def display_type_rich(self: Any, ctx: Any) -> str | None:
            if getattr(self, "is_flag", False) or getattr(self, "count", False):
                return None  # a flag takes no value: nothing to show beside it
            return shown(self, ctx)

        option.display_type_rich = display_type_rich


_install()
