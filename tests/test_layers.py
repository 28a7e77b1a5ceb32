"""The package's import structure: every module sits in a layer of the import-linter contract
(pyproject.toml, checked by `make lint`), and no module imports itself back through others.

Imports inside functions count (they run too); imports under `if TYPE_CHECKING:` do not.
"""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import grimp

import agentopt

REPO = Path(__file__).resolve().parent.parent


def import_cycles(graph: grimp.ImportGraph) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def describe(graph: grimp.ImportGraph, cycle: frozenset[str]) -> str:
    edges = []
    for importer in sorted(cycle):
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & cycle):
            lines = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
            edges.append(f"{importer} -> {imported} (line {', '.join(map(str, lines))})")
    return "; ".join(edges)


def test_no_import_cycle():
    graph = grimp.build_graph("agentopt", exclude_type_checking_imports=True, cache_dir=None)
    cycles = import_cycles(graph)
    assert not cycles, "import cycles: " + " | ".join(describe(graph, cycle) for cycle in cycles)


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path, monkeypatch):
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic import b\n")
    (package / "b.py").write_text("def f():\n    from cyclic import c\n")
    (package / "c.py").write_text("import cyclic.a\n")
    (package / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cyclic.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("cyclic", exclude_type_checking_imports=True, cache_dir=None)
    assert import_cycles(graph) == [frozenset({"cyclic.a", "cyclic.b", "cyclic.c"})]


def test_every_module_is_in_a_layer():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    layered = {name.strip() for layer in contract["layers"] for name in layer.replace("|", ":").split(":")}
    modules = {info.name for info in pkgutil.iter_modules(agentopt.__path__)}
    assert modules - layered == set(), "modules in no layer of pyproject.toml's import-linter contract"
    assert layered - modules == set(), "layers naming no module"
