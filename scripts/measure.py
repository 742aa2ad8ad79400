"""Print the figures of issue 10's closing note: largest modules, commits in views, mypy, cycles.

Run from anywhere with the project's Python: `python scripts/measure.py` (add `--no-mypy`
to skip the slowest figure). Standard library and the installed dev tools only.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Imported after the repository is on the path, so `python scripts/measure.py` works too.
from scripts.import_graph import (
    APPLICATION_PACKAGES,
    ROOT,
    cycles,
    describe_cycle,
    line_counts,
    package_graph,
)

VIEW_PACKAGES = ("housing/web", "housing/api")


def largest_modules(count: int = 10) -> list[tuple[str, int]]:
    return sorted(line_counts().items(), key=lambda item: (-item[1], item[0]))[:count]


def method_calls(directories: tuple[str, ...], name: str) -> int:
    """How many calls of a method `name` (`session.commit()`, `db.session.commit()`)."""
    found = 0
    for directory in directories:
        for path in sorted((ROOT / directory).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            found += sum(
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == name
                for node in ast.walk(tree)
            )
    return found


def mypy_errors() -> str:
    """The error count of `mypy housing workflows workers`, as mypy's summary says it."""
    done = subprocess.run(  # noqa: S603  (our own interpreter, fixed arguments)
        [sys.executable, "-m", "mypy", *APPLICATION_PACKAGES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    found = re.search(r"Found (\d+) errors?", summary)
    if found:
        return found.group(1)
    return "0" if summary.startswith("Success") else f"? ({summary.strip()})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-mypy", action="store_true", help="skip running mypy")
    arguments = parser.parse_args()

    print("Largest modules (lines):")
    for path, lines in largest_modules():
        print(f"  {lines:5}  {path}")
    for method in ("commit", "rollback"):
        calls = method_calls(VIEW_PACKAGES, method)
        print(f"{method}() calls in {' and '.join(VIEW_PACKAGES)}: {calls}")
    if not arguments.no_mypy:
        print(f"mypy errors (housing, workflows, workers): {mypy_errors()}")
    graph = package_graph("housing")
    found = cycles(graph)
    print(f"import cycles between housing's packages: {len(found)}")
    for component in found:
        print("  " + describe_cycle(graph, component).replace("\n", "\n  "))


if __name__ == "__main__":
    main()
