"""Write the README's process diagrams from the live machines: docs/claim-machine.svg,
docs/payout-machine.svg and docs/batch-machine.svg.

Each is drawn by Graphviz's `dot` from the machine's own transition table
(`Workflow.to_dot`), never by hand; `tests/test_diagrams.py` fails when a copy in docs/ no
longer shows its machine. Run with the project's Python after changing a machine:
`python scripts/diagrams.py` (`--check` only says which are out of date).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Imported after the repository is on the path, so `python scripts/diagrams.py` works.
from housing.web.diagrams import README_DIAGRAMS, readme_diagram  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args()
    stale = []
    for relative, workflow in README_DIAGRAMS.items():
        path = ROOT / relative
        svg = readme_diagram(workflow)
        if path.exists() and path.read_text(encoding="utf-8") == svg:
            continue
        stale.append(relative)
        if not args.check:
            path.write_text(svg, encoding="utf-8")
            print(f"wrote {relative}")
    if args.check and stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
