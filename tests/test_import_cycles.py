"""No module of the package or the TUI imports, directly or through others, a module
importing it.

Imports under ``if TYPE_CHECKING:`` and inside functions count too: a cycle hidden there
is still a cycle in the design. ``from package import module`` counts as importing the
package's ``__init__`` as well; ``import package.module as module`` does not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _modules(package: str) -> dict[str, Path]:
    folder = ROOT.joinpath(*package.split("."))
    found = {}
    for path in folder.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts).removesuffix(".__init__")] = path
    return found


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names & known.keys()


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path (first module repeated at the end), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            found = visit(imported, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return None


def test_the_cycle_finder_finds_a_cycle(tmp_path):
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


@pytest.mark.parametrize("package", ["orchestrator", "tui"])
def test_no_import_cycles(package):
    modules = _modules(package)
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def _layer(module: str) -> str:
    """The part of ``orchestrator`` a module belongs to: its subpackage, or itself."""
    return ".".join(module.split(".")[:2])


def test_no_cycles_between_the_packages_parts():
    """Nor between the parts of the package: ``service`` may use ``storage`` and ``sdk``
    may too, but then ``storage`` and ``sdk`` must not use ``service``."""
    modules = _modules("orchestrator")
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if name == "orchestrator":
            continue  # the package's own __init__ re-exports every part by design
        layers = {_layer(imported) for imported in _imports(path, modules)}
        graph.setdefault(_layer(name), set()).update(layers - {_layer(name), "orchestrator"})
    for layers in graph.values():
        layers &= graph.keys()
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])
