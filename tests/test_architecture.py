"""The shape of the code: arrows between packages point one way, modules stay small.

The graph is read from the source with `ast` (scripts/import_graph.py, shared with
scripts/measure.py): every import counts, also one inside a function, since a lazy import
is still a dependency. Imports under `if TYPE_CHECKING:` do not: they never run, and two
ORM models that name each other's class in an annotation (a user and their organisation)
are related through the mapper registry by name, not by an import.
"""

from __future__ import annotations

import ast

from scripts.import_graph import (
    APPLICATION_PACKAGES,
    ROOT,
    application_modules,
    cycles,
    describe_cycle,
    imports_of,
    line_counts,
    module_name,
    package_graph,
)

# The packages of housing/, lowest first. A package may import its own layer and those
# below it, never one above: a lower area that needs work from a higher one asks for it
# through a registry (job kinds, outbox handlers, scope rules) or an outbox message.
LAYERS: tuple[tuple[str, ...], ...] = (
    # Foundations: no knowledge of any area.
    (
        "housing.errors",
        "housing.roles",
        "housing.clock",
        "housing.config",
        "housing.crypto",
        "housing.logging",
        "housing.security_events",
        "housing.money",
        "housing.db",
        "housing.extensions",
        "housing.i18n",
        "housing.crypto_rotation",
        "housing.scoping",
        "housing.unit_of_work",
        "housing.downloads",
        "housing.ids",
        "housing.inputs",
        "housing.dates",
        "housing.idempotency",
    ),
    # Work after the commit: knows messages and topics, not who acts on them.
    ("housing.outbox",),
    ("housing.accounts",),
    ("housing.jobs",),
    ("housing.audit",),
    # The organisation and the rules its administrator sets; operations' health.
    ("housing.organisations", "housing.ops"),
    ("housing.permissions", "housing.deadlines", "housing.workflow"),
    ("housing.claims",),
    # Above the claims: delivering the news they ask for, paying what they granted.
    ("housing.notifications", "housing.payments", "housing.oversight"),
    # What assembles the areas: every model and rule, the services built from the app's
    # settings (they build on claims, notifications and payments), the demonstration data.
    ("housing.scope_rules", "housing.models", "housing.services", "housing.demo"),
    # The ways in: pages, the API, the command line and the app factory.
    ("housing.web", "housing.api", "housing.cli", "housing"),
)

# The decorators with which an area registers something; housing.models imports each module
# that uses one, so the registries are complete wherever the models are loaded.
REGISTERING_DECORATORS = frozenset({"job_kind", "outbox_handler", "scope_rule"})

MAX_LINES = 600


def test_no_import_cycle_between_the_packages_of_housing():
    graph = package_graph("housing")
    found = cycles(graph)
    assert not found, "\n".join(describe_cycle(graph, component) for component in found)


def test_a_lazy_import_closes_a_cycle_and_one_for_type_checking_does_not(tmp_path):
    def module(name: str, source: str) -> None:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")

    module("app/__init__.py", "")
    module("app/low/__init__.py", "")
    module("app/low/rules.py", "def f():\n    from app.high.views import page\n")
    module("app/high/__init__.py", "")
    module("app/high/views.py", "from app.low import rules\n")
    module(
        "app/base.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app.high import views\n",
    )
    graph = package_graph("app", tmp_path)
    assert cycles(graph) == [["app.high", "app.low"]]
    assert graph["app.base"] == {}
    described = describe_cycle(graph, ["app.high", "app.low"], tmp_path)
    assert "app/low/rules.py:2" in described
    assert "app/high/views.py:1" in described


def test_every_package_of_housing_has_its_layer():
    placed = [package for layer in LAYERS for package in layer]
    assert len(placed) == len(set(placed)), "a package is in two layers"
    unplaced = sorted(set(package_graph("housing")) - set(placed))
    assert not unplaced, f"place these in LAYERS of tests/test_architecture.py: {unplaced}"


def test_imports_point_down_the_layers():
    layer_of = {package: number for number, layer in enumerate(LAYERS) for package in layer}
    upward = [
        f"{importer} (layer {layer_of[importer]}) imports {imported} (layer"
        f" {layer_of[imported]}): {found.path.relative_to(ROOT)}:{found.line}"
        for importer, edges in sorted(package_graph("housing").items())
        for imported, found in sorted(edges.items())
        if importer in layer_of and imported in layer_of and layer_of[imported] > layer_of[importer]
    ]
    assert not upward, "\n".join(upward)


def test_housing_models_imports_every_module_that_registers_something():
    registering = set()
    for path in application_modules("housing"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                called = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(called, ast.Name) and called.id in REGISTERING_DECORATORS:
                    registering.add(module_name(path))
    assert registering, "the decorators are no longer found: update this test"
    loaded = {found.imported for found in imports_of(ROOT / "housing/models.py")}
    assert sorted(registering - loaded) == [], "import these in housing/models.py"


def test_workers_import_housing_housing_imports_workflows_never_back():
    # workers (Celery) -> housing (the application) -> workflows (pure rules): the
    # workflows know nothing of ours, and housing finds workers by entry point only.
    forbidden = {"workflows": ("housing", "workers"), "housing": ("workers",)}
    wrong = [
        f"{found.path.relative_to(ROOT)}:{found.line} imports {found.imported}"
        for package, banned in forbidden.items()
        for path in application_modules(package)
        for found in imports_of(path)
        if found.imported.split(".")[0] in banned
    ]
    assert not wrong, "\n".join(wrong)


def test_no_application_module_is_over_600_lines():
    counts = line_counts()
    assert {path.split("/")[0] for path in counts} == set(APPLICATION_PACKAGES)
    too_long = {path: lines for path, lines in sorted(counts.items()) if lines > MAX_LINES}
    assert not too_long, f"split these by concern: {too_long}"


def _reads_the_environment(node: ast.AST) -> bool:
    # os.environ / os.getenv / os.putenv, and the bare names after `from os import ...`.
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id == "os" and node.attr in {"environ", "environb", "getenv", "putenv"}
    if isinstance(node, ast.ImportFrom) and node.module == "os":
        return any(alias.name in {"environ", "environb", "getenv"} for alias in node.names)
    return False


def test_only_the_settings_read_the_environment():
    # Every path and limit is a Settings field: the rest of housing reads the app's config,
    # so a test steers a service through app.config and never through the environment.
    readers = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in application_modules("housing")
        if path != ROOT / "housing" / "config.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _reads_the_environment(node)
    ]
    assert not readers, "read these from Settings (housing/config.py): " + ", ".join(readers)


def _asks_the_machine_for_the_day(node: ast.AST) -> bool:
    # date.today(), datetime.today(), datetime.now() without a zone: the machine's day or
    # hour, which is not Amsterdam's between 23:00 and 24:00 UTC (22:00 in summer).
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    receiver = node.func.value
    named = getattr(receiver, "attr", None) or getattr(receiver, "id", None)
    if node.func.attr == "today":
        return named in {"date", "datetime"}
    return node.func.attr == "now" and named == "datetime" and not node.args and not node.keywords


def test_the_day_is_amsterdams_everywhere():
    """Every "which day is it" goes through housing.clock (Amsterdam), in the product and
    in its tests: two tests that took the machine's date failed every night between 23:00
    and 24:00 UTC, when Amsterdam is a day further."""
    paths = [
        path
        for package in (*APPLICATION_PACKAGES, "tests")
        for path in (ROOT / package).rglob("*.py")
        if path != ROOT / "housing" / "clock.py"
    ]
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in paths
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _asks_the_machine_for_the_day(node)
    ]
    assert not found, "use housing.clock.today() or utcnow(): " + ", ".join(found)
