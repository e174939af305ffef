"""The layout shows the pipeline: no import cycles, flows only orchestrate, small modules.

The import graph is read from the source (every ``import``/``from … import`` of a
``monitor`` or ``flows`` module, at any depth of a function), so an import hidden inside
a function to dodge a cycle still counts as an edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("monitor", "flows")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "_migrations" in path.parts:
                continue
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """The project modules ``name`` imports (a ``from pkg import sub`` counts as ``pkg.sub``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from pkg import sub`` imports the submodule; ``from pkg import name`` the package
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def _graph() -> dict[str, set[str]]:
    return {name: set(_imports(name, path)) for name, path in MODULES.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules around it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle() -> None:
    """No module of ``monitor`` or ``flows`` imports itself through others."""
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_can_fail() -> None:
    """The checker finds a cycle when there is one (a -> b -> a)."""
    assert _cycle({"a": {"b"}, "b": {"a"}, "c": set()}) == ["a", "b", "a"]


def test_the_library_never_imports_the_flows() -> None:
    """``monitor`` is plain Python: only the CLI, which runs flows, may import ``flows``."""
    offenders = sorted(
        f"{name} imports {target}"
        for name, targets in _graph().items()
        if name.startswith("monitor.") and not name.startswith("monitor.cli")
        for target in targets
        if target.startswith("flows")
    )
    assert not offenders, offenders


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_are_small_or_say_why(name: str) -> None:
    """A module over ~400 lines says in its docstring why it is one module."""
    path = MODULES[name]
    lines = len(path.read_text().splitlines())
    if lines <= MAX_LINES:
        return
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert "one module" in doc.lower(), (
        f"{path.relative_to(REPO)} has {lines} lines: split it, or say in its docstring "
        "why it is one module"
    )
