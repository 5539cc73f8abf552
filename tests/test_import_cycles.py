"""No import cycles among the project's modules (issue 15): every ``import`` and ``from ... import``,
at module level or inside a function, is an edge; a strongly connected component of more than one
module (or a module importing itself) is a cycle."""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGES = ("autost", "energy", "datasets", "benchmarks")


def project_modules(root: Path) -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that ``name`` (at ``path``) imports anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one member, or with a self-edge."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert sorted(cycles(graph)) == [["a", "b", "c"], ["e"]]


def test_relative_and_function_level_imports_are_edges(tmp_path):
    pkg = tmp_path / "autost"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from . import b\n")
    (pkg / "b.py").write_text("from autost.a import f\n")
    for other in PACKAGES[1:]:
        (tmp_path / other).mkdir()
    modules = project_modules(tmp_path)
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert graph["autost.a"] == {"autost.b"} and graph["autost.b"] == {"autost.a"}
    assert cycles(graph) == [["autost.a", "autost.b"]]


def test_no_import_cycles():
    modules = project_modules(ROOT)
    assert "autost.cli" in modules and "energy.models" in modules and "datasets.registry" in modules
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert cycles(graph) == []


def test_energy_is_a_leaf():
    """energy/ counts and prices; like SpikingJelly's op_counter it imports nothing from the search, the
    training, the pipeline, the studies, the commands or the report (function-level imports included)."""
    modules = project_modules(ROOT)
    above = ("autost.search", "autost.train", "autost.pipeline", "autost.correlate", "autost.commands",
             "autost.report")
    reached = {(name, target) for name, path in modules.items() if name.startswith("energy.")
               for target in imports_of(name, path, modules) if target.startswith(above)}
    assert any(name.startswith("autost.report.") for name in modules)
    assert reached == set()
