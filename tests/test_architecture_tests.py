"""The suite's own scaffolding: builders live in tests/builders/; count_queries counts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import login
from tests.factories import UserFactory

TESTS = Path(__file__).parent


def is_test_module(name: str) -> bool:
    return any(part.startswith("test_") for part in name.split("."))


def imported_test_modules(source: str) -> list[str]:
    """The test modules (test_*) a piece of Python imports, at any depth, in any spelling."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if is_test_module(alias.name)}
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            if is_test_module(base):
                found.add(base)
            else:
                # `from tests import test_x` and `from . import test_x` name it in the alias.
                named = (base.rstrip(".") + "." + alias.name for alias in node.names)
                found |= {name for name in named if is_test_module(name)}
    return sorted(found)


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from tests.test_claim_service import World", "tests.test_claim_service"),
        ("from .test_api import bearer", ".test_api"),
        ("from tests import test_payments", "tests.test_payments"),
        ("from . import test_payments", ".test_payments"),
        ("import tests.test_letters", "tests.test_letters"),
        ("def helper():\n    from tests.test_letters import pdf_text\n", "tests.test_letters"),
    ],
)
def test_the_scan_sees_every_spelling_of_importing_a_test_module(source, module):
    assert imported_test_modules(source) == [module]


def test_the_scan_lets_builders_fixtures_and_libraries_pass():
    source = (
        "from tests.builders.claims import World\nfrom tests.conftest import login\n"
        "from tests.factories import ClaimFactory\nimport pytest\nfrom . import builders\n"
    )
    assert imported_test_modules(source) == []


def test_no_module_of_the_suite_imports_a_test_module():
    # Test modules, conftest, factories and builders alike: a helper another module needs
    # belongs in tests/builders/ (or a fixture in conftest.py), not beside the tests.
    offenders = {
        str(path.relative_to(TESTS)): modules
        for path in sorted(TESTS.rglob("*.py"))
        if (modules := imported_test_modules(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_count_queries_counts_the_statements_of_the_tests_requests(client, session, count_queries):
    login(client, UserFactory().email)
    with count_queries() as queries:
        assert client.get("/profile").status_code == 200
    with count_queries() as none:
        pass
    # The page loads its user on the test's connection; nothing runs outside the block.
    assert any("user_account" in statement for statement in queries) and none == []
