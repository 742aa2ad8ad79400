"""The import graph between housing's packages, read from the source with `ast`.

Shared by tests/test_architecture.py (which fails on a cycle) and scripts/measure.py (which
prints the figures of the refactoring's closing note). Standard library only: it must run
before anything is installed.

A node is a subpackage of housing/ (`housing.claims`) or one of its top-level modules
(`housing.scoping`); `housing` itself is the app factory in housing/__init__.py. Every
`import` statement counts, also one inside a function: a lazy import still means the
importer needs the imported package to work, so it is a dependency like any other.
Imports under `if TYPE_CHECKING:` do not count: they never run, and they are how two ORM
models name each other's class in an annotation while the relationship itself is resolved
by the mapper registry from a string.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPLICATION_PACKAGES = ("housing", "workflows", "workers")


@dataclass(frozen=True)
class Import:
    """One import statement: who imports what, and where."""

    importer: str  # dotted module name
    imported: str  # dotted module name (or module.attribute for `from x import y`)
    path: Path
    line: int


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def application_modules(package: str, root: Path = ROOT) -> list[Path]:
    return sorted((root / package).rglob("*.py"))


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Walk the tree, leaving out the bodies of `if TYPE_CHECKING:` (but not their else)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield child
        yield from _runtime_nodes(child)


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    """Every import that runs in the module at `path`, function-level ones included."""
    importer = module_name(path, root)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(importer, alias.name, path, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # A relative import: resolve it against the importer's own package.
                base = importer.split(".")
                drop = node.level - 1 if is_package else node.level
                base = base[: len(base) - drop] if drop else base
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # `from housing import db` imports the module housing.db: name it so.
            for alias in node.names:
                found.append(Import(importer, f"{module}.{alias.name}", path, node.lineno))
    return found


def nodes(package: str = "housing", root: Path = ROOT) -> frozenset[str]:
    """The subpackages and top-level modules of `package`, and the package itself."""
    found = {package}
    for child in (root / package).iterdir():
        if child.suffix == ".py" and child.stem != "__init__":
            found.add(f"{package}.{child.stem}")
        elif (child / "__init__.py").exists():
            found.add(f"{package}.{child.name}")
    return frozenset(found)


def node_of(module: str, known: frozenset[str]) -> str | None:
    """The graph node a dotted name belongs to, or None outside the package."""
    parts = module.split(".")
    if len(parts) > 1 and ".".join(parts[:2]) in known:
        return ".".join(parts[:2])
    # `from housing import create_app`: a name defined in the package's __init__.
    return parts[0] if parts[0] in known else None


def package_graph(package: str = "housing", root: Path = ROOT) -> dict[str, dict[str, Import]]:
    """Node -> {imported node: the first import that makes the edge}."""
    known = nodes(package, root)
    graph: dict[str, dict[str, Import]] = {node: {} for node in known}
    for path in application_modules(package, root):
        importer = node_of(module_name(path, root), known)
        assert importer is not None
        for found in imports_of(path, root):
            target = node_of(found.imported, known)
            if target is not None and target != importer:
                graph[importer].setdefault(target, found)
    return graph


def cycles(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """The strongly connected components with more than one node, each sorted."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = lowlink[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                lowlink[node] = min(lowlink[node], lowlink[target])
            elif target in on_stack:
                lowlink[node] = min(lowlink[node], index[target])
        if lowlink[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def cycle_path(graph: dict[str, dict[str, Import]], component: list[str]) -> list[Import]:
    """One concrete loop through `component`, as the imports that make it."""
    members = set(component)
    start = component[0]
    # Breadth-first from start back to start, staying inside the component.
    previous: dict[str, tuple[str, Import]] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target, found in sorted(graph[node].items()):
                if target == start:
                    loop = [found]
                    while node != start:
                        node, step = previous[node]
                        loop.insert(0, step)
                    return loop
                if target in members and target not in previous:
                    previous[target] = (node, found)
                    following.append(target)
        frontier = following
    return []


def describe_cycle(
    graph: dict[str, dict[str, Import]], component: list[str], root: Path = ROOT
) -> str:
    """The component and one loop through it, each step with the import that makes it."""
    steps = [
        f"  {found.importer} -> {found.imported}  ({found.path.relative_to(root)}:{found.line})"
        for found in cycle_path(graph, component)
    ]
    return f"cycle between {', '.join(component)}:\n" + "\n".join(steps)


def line_counts(root: Path = ROOT) -> dict[str, int]:
    """Lines per application module, by path relative to the repository."""
    counts: dict[str, int] = {}
    for package in APPLICATION_PACKAGES:
        for path in application_modules(package, root):
            with path.open(encoding="utf-8") as source:
                counts[str(path.relative_to(root))] = sum(1 for _ in source)
    return counts
