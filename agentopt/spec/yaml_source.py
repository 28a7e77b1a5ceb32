"""YAML with positions: plain Python values plus where each field was written.

PyYAML's composer gives nodes that carry their line and column; we build the values
ourselves so we can remember, for every dotted field path (`criteria[2].check.pattern`),
the 1-based position of its key (or list item), and report duplicate keys, which
PyYAML would silently accept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from agentopt.errors import Problem


def join(path: str, key: str | int) -> str:
    """The dotted path of a mapping key or list index under `path`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def parent(path: str) -> str:
    """The path one level up: `a.b[2]` -> `a.b`, `a.b` -> `a`, `a` -> ``."""
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


@dataclass
class Source:
    """A parsed YAML document and the positions of its fields."""

    file: str
    data: Any = None
    problems: list[Problem] = field(default_factory=list)  # syntax errors, duplicate keys
    nodes: dict[str, yaml.Node] = field(default_factory=dict)  # path -> value node
    keys: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> key position
    line_offset: int = 0  # added to every line, for documents embedded in a larger file

    def at(self, path: str) -> tuple[int, int]:
        """Where `path` was written (its key, list item or, if absent, its nearest parent)."""
        while path not in self.keys and path not in self.nodes and path:
            path = parent(path)
        if path in self.keys:
            return self.keys[path]
        node = self.nodes.get(path)
        return _position(node.start_mark, self.line_offset) if node else (1 + self.line_offset, 1)

    def problem(self, path: str, message: str) -> Problem:
        line, column = self.at(path)
        return Problem(self.file, line, column, path, message)


class _Loader(yaml.SafeLoader):
    """SafeLoader, except that dates stay strings: the files hold JSON-like data only."""

    yaml_implicit_resolvers = {
        first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def parse(text: str, file: str, line_offset: int = 0) -> Source:
    """Parse one YAML document. Never raises: errors become `source.problems`."""
    source = Source(file, line_offset=line_offset)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.reader.ReaderError as err:  # a character YAML forbids, e.g. NUL or another control
        line, column = _text_position(text, err.position, line_offset)
        code = err.character if isinstance(err.character, int) else ord(err.character[:1] or "\0")
        message = f"invalid YAML: character U+{code:04X} is not allowed in YAML"
        source.problems.append(Problem(file, line, column, "", message))
        return source
    except RecursionError:  # PyYAML composes recursively: thousands of `[` or `{`
        source.problems.append(Problem(file, 0, 0, "", f"invalid YAML: {_TOO_DEEP}"))
        return source
    except yaml.MarkedYAMLError as err:
        line, column = _position(err.problem_mark, line_offset) if err.problem_mark else (0, 0)
        message = err.problem or err.context or "not valid YAML"
        if message.startswith("but ") and err.context:  # "but found another document"
            message = f"{err.context}, {message}"
        source.problems.append(Problem(file, line, column, "", f"invalid YAML: {message}"))
        return source
    except yaml.YAMLError as err:
        source.problems.append(Problem(file, 0, 0, "", f"invalid YAML: {err}"))
        return source
    if root is not None:
        try:
            source.data = _Builder(source).build(root, "")
        except _Unbuildable as err:  # infinite, too deep or too big: report only this
            source.problems = [source.problem(err.path, err.message)]
            source.data = None
    return source


MAX_DEPTH = 64  # nesting levels; deeper is garbage, and checking it would exhaust Python's stack
MAX_VALUES = 100_000  # values once aliases are expanded: stops "billion laughs" files
_TOO_DEEP = f"nested too deeply (more than {MAX_DEPTH} levels)"


class _Unbuildable(Exception):
    """The document cannot become plain data; `path` is where the builder gave up."""

    def __init__(self, path: str, message: str):
        self.path, self.message = path, message


def _text_position(text: str, index: int, line_offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character index in `text`."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1 + line_offset, index - line_start + 1


def read(path: str) -> Source:
    """Read and parse a file; an unreadable file becomes a problem."""
    try:
        with open(path, encoding="utf-8") as f:
            return parse(f.read(), path)
    except FileNotFoundError:
        message = "file not found"
    except UnicodeDecodeError:
        message = "not a UTF-8 text file"
    except OSError as err:
        message = f"cannot read file: {err.strerror}"
    return Source(path, problems=[Problem(path, 0, 0, "", message)])


def _position(mark: yaml.Mark, line_offset: int) -> tuple[int, int]:
    return mark.line + 1 + line_offset, mark.column + 1


class _Builder:
    """Turns a node tree into dicts, lists and scalars, recording positions on the way."""

    def __init__(self, source: Source):
        self.source = source
        self.scalars = _Loader("")  # only its constructor is used
        self.open: list[int] = []  # ids of the collections being built, to stop `&a [*a]`
        self.values = 0

    def build(self, node: yaml.Node, path: str) -> Any:
        self.source.nodes[path] = node
        self.values += 1
        if self.values > MAX_VALUES:
            raise _Unbuildable(_top(path), f"too large: more than {MAX_VALUES} values once aliases are expanded")
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self.open:
            raise _Unbuildable(path, "an alias may not refer to itself")
        if len(self.open) >= MAX_DEPTH:
            raise _Unbuildable(_top(path), _TOO_DEEP)
        self.open.append(id(node))
        value: dict[str, Any] | list[Any]
        if isinstance(node, yaml.MappingNode):
            value = self._mapping(node, path)
        else:
            value = [self.build(item, join(path, i)) for i, item in enumerate(node.value)]
        self.open.pop()
        return value

    def _scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        try:
            value = self.scalars.construct_object(node, deep=True)
        except (yaml.MarkedYAMLError, ValueError) as err:  # e.g. `!foo x` or `!!int abc`
            message = err.problem if isinstance(err, yaml.MarkedYAMLError) else str(err)
            self.source.problems.append(self.source.problem(path, f"invalid value: {message}"))
            return node.value  # keep the text as written
        if isinstance(value, str) and (surrogate := _surrogate(value)):
            self.source.problems.append(self.source.problem(path, f"invalid value: {surrogate}"))
        return value

    def _mapping(self, node: yaml.MappingNode, path: str) -> dict[str, Any]:
        try:
            self.scalars.flatten_mapping(node)  # resolve `<<: *anchor` merge keys
        except yaml.MarkedYAMLError as err:
            self.source.problems.append(self.source.problem(path, f"invalid merge: {err.problem}"))
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            where = _position(key_node.start_mark, self.source.line_offset)
            if not isinstance(key_node, yaml.ScalarNode):
                self._report(where, path, "a key must be a plain name, not a list or mapping")
                continue
            key = key_node.value  # the text as written: `on:` stays "on", not True
            if surrogate := _surrogate(key):
                self._report(where, path, f"invalid key: {surrogate}")
                continue
            if key in result:
                first = self.source.keys[join(path, key)][0]
                self._report(where, join(path, key), f"duplicate key '{key}' (first at line {first})")
                continue
            self.source.keys[join(path, key)] = where
            result[key] = self.build(value_node, join(path, key))
        return result

    def _report(self, where: tuple[int, int], path: str, message: str) -> None:
        self.source.problems.append(Problem(self.source.file, *where, path, message))


def _top(path: str) -> str:
    """The top-level field of a path: `tools.a[0][1]` -> `tools`."""
    return path.split(".")[0].split("[")[0]


def _surrogate(text: str) -> str | None:
    """Why `text` cannot be written out as UTF-8: `"\\ud800"` escapes make lone surrogates."""
    bad = next((char for char in text if "\ud800" <= char <= "\udfff"), None)
    return None if bad is None else f"\\u{ord(bad):04x} is half of a UTF-16 pair, not a character"
