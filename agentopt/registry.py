"""Extension points: one registry per kind of plug-in, filled from agentopt and from installed packages.

Each extension point (operators, checks, sandboxes, environment kinds) is declared once, as a
`Registry` beside its Protocol. A registry holds the built-in implementations (loaded on first
use, so importing agentopt stays light) and whatever an installed package declares in the
registry's Python entry-point group, e.g. in the package's pyproject.toml:

    [project.entry-points."agentopt.checks"]
    starts_with = "mypkg.checks:StartsWith"

The entry point names a class (or any callable) that builds the implementation with no argument,
or the implementation itself; its name must be the implementation's `name`. A name taken twice
(a plug-in shadowing a built-in, or two plug-ins) and a plug-in that fails to load or to conform
are usage errors that name the entry point. `agentopt.testing` runs a conformance suite over
every registered implementation (docs/extending.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from agentopt.errors import UsageError, one_line

T = TypeVar("T")


class Registry(Generic[T]):
    """Implementations of one extension point by name: the built-ins, then the entry points' plug-ins.

    builtins: returns the built-in implementations, in the order they are listed.
    problem: says why an object does not implement the extension point (None when it does).
    """

    def __init__(self, group: str, what: str, builtins: Callable[[], Iterable[T]], problem: Callable[[object], str | None]):
        self.group = group  # the Python entry-point group, e.g. "agentopt.operators"
        self.what = what  # how a message names one implementation, e.g. "operator"
        self._builtins = builtins
        self._problem = problem
        self._items: dict[str, T] | None = None
        self._origins: dict[str, str] = {}  # name -> where it came from, for messages
        self._lock = threading.RLock()  # a built-in module may register while the registry loads

    def all(self) -> dict[str, T]:
        """Every implementation by name: built-ins first, in their order, then plug-ins by name."""
        with self._lock:
            if self._items is None:
                self._items = self._load()
            return dict(self._items)

    @property
    def loaded(self) -> bool:
        return self._items is not None

    def builtin_names(self) -> list[str]:
        """The names of agentopt's own implementations (no plug-in's)."""
        return [name for name in self.all() if self.origin(name) == "agentopt"]

    def get(self, name: str) -> T:
        items = self.all()
        if name not in items:
            raise KeyError(name)
        return items[name]

    def names(self) -> list[str]:
        return list(self.all())

    def origin(self, name: str) -> str:
        """'agentopt' for a built-in; 'entry point GROUP:NAME (VALUE)' for a plug-in."""
        self.all()
        return self._origins.get(name, "agentopt")

    def add(self, item: T, origin: str = "agentopt") -> T:
        """Register one more implementation (a built-in module's decorator, or a test's)."""
        self._check(item, origin)
        with self._lock:
            if self._items is None:
                self._items = self._load()
            self._put(self._items, item, origin)
        return item

    def reload(self) -> None:
        """Forget what was loaded: the next `all()` reads the built-ins and the entry points again."""
        with self._lock:
            self._items = None
            self._origins = {}

    # --- loading ---
    def _load(self) -> dict[str, T]:
        items: dict[str, T] = {}
        for item in self._builtins():
            self._check(item, "agentopt")
            self._put(items, item, "agentopt")
        for ep in sorted(entry_points(group=self.group), key=lambda e: e.name):
            origin = f"entry point {self.group}:{ep.name} ({ep.value})"
            item = self._from_entry_point(ep, origin)
            self._check(item, origin)
            if getattr(item, "name", None) != ep.name:
                raise UsageError(one_line(f"{origin}: the {self.what} is named {getattr(item, 'name', None)!r}, not {ep.name!r}; "
                                          "name the entry point after it"))
            self._put(items, item, origin)
        return items

    def _from_entry_point(self, ep: EntryPoint, origin: str) -> T:
        try:
            loaded = ep.load()
            return loaded() if isinstance(loaded, type) or (callable(loaded) and not hasattr(loaded, "name")) else loaded
        except Exception as exc:  # noqa: BLE001 - a plug-in's own failure, reported in one line
            raise UsageError(one_line(f"{origin}: cannot load the {self.what}: {type(exc).__name__}: {exc}")) from None

    def _check(self, item: object, origin: str) -> None:
        problem = self._problem(item)
        if problem:
            raise UsageError(one_line(f"{origin}: not a {self.what}: {problem}"))

    def _put(self, items: dict[str, T], item: T, origin: str) -> None:
        name = item.name  # type: ignore[attr-defined]  # checked by `problem`
        if name in items:
            first = self._origins.get(name, "agentopt")
            raise UsageError(one_line(f"{origin}: a {self.what} named {name!r} is already registered by {first}; rename it"))
        items[name] = item
        self._origins[name] = origin


def missing_attributes(item: object, attributes: dict[str, type | tuple[type, ...]], methods: tuple[str, ...] = ()) -> str | None:
    """Why `item` lacks an attribute (name -> accepted types) or a method a Protocol declares, or None."""
    for attr, kinds in attributes.items():
        if not hasattr(item, attr):
            return f"it has no `{attr}`"
        value = getattr(item, attr)
        if not isinstance(value, kinds):
            names = " or ".join("None" if k is type(None) else k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
            return f"`{attr}` is {type(value).__name__}, not {names}"
    for method in methods:
        if not callable(getattr(item, method, None)):
            return f"it has no method `{method}`"
    return None
