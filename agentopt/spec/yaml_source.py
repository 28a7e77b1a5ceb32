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
        except _Recursive as err:  # the data would be infinite: report only this
            source.problems = [source.problem(err.path, "an alias may not refer to itself")]
            source.data = None
    return source


class _Recursive(Exception):
    def __init__(self, path: str):
        self.path = path


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
        self.open: set[int] = set()  # ids of the collections being built, to stop `&a [*a]`

    def build(self, node: yaml.Node, path: str) -> Any:
        self.source.nodes[path] = node
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self.open:
            raise _Recursive(path)
        self.open.add(id(node))
        if isinstance(node, yaml.MappingNode):
            value = self._mapping(node, path)
        else:
            value = [self.build(item, join(path, i)) for i, item in enumerate(node.value)]
        self.open.discard(id(node))
        return value

    def _scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        try:
            return self.scalars.construct_object(node, deep=True)
        except (yaml.MarkedYAMLError, ValueError) as err:  # e.g. `!foo x` or `!!int abc`
            message = err.problem if isinstance(err, yaml.MarkedYAMLError) else str(err)
            self.source.problems.append(self.source.problem(path, f"invalid value: {message}"))
            return node.value  # keep the text as written

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
            if key in result:
                first = self.source.keys[join(path, key)][0]
                self._report(where, join(path, key), f"duplicate key '{key}' (first at line {first})")
                continue
            self.source.keys[join(path, key)] = where
            result[key] = self.build(value_node, join(path, key))
        return result

    def _report(self, where: tuple[int, int], path: str, message: str) -> None:
        self.source.problems.append(Problem(self.source.file, *where, path, message))
