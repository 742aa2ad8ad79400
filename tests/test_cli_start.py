"""What a `housing` call loads before it does anything (issue 15, item 7).

Each call runs in a fresh interpreter, as an operator's does, and reports the modules it
loaded. Asserted on modules, not on time: speed is measured in benchmarks, not tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo

from housing.cli import COMMANDS, EXTENSION_COMMANDS, HousingGroup
from housing.extensions import build_on_first_use, extension, on_first_use

ROOT = Path(__file__).resolve().parent.parent
# Slow to load, and needed only by what lays out a letter, writes or reads a payment file,
# or hands a message to the broker.
HEAVY = (
    "weasyprint",
    "celery",
    "kombu",
    "lxml",
    "sepaxml",
    "xmlschema",
    "housing.payments.pain",
    "housing.payments.camt",
)
# Loaded when an app is built: its models; and its pages and API when it serves them.
MODELS = ("housing.models",)
SURFACES = ("housing.web", "housing.api")
REPORT = """
import atexit, json, sys
watched = {watched!r}
atexit.register(lambda: print("LOADED " + json.dumps([m for m in watched if m in sys.modules])))
from housing.cli import main
main()
"""


def housing(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, list[str]]:
    """Run `housing ARGS` in a new interpreter: its exit status, output and watched modules."""
    code = REPORT.format(watched=HEAVY + MODELS + SURFACES)
    result = subprocess.run(  # noqa: S603 (this interpreter, our own code, fixed arguments)
        [sys.executable, "-c", code, *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output, _, loaded = result.stdout.rpartition("LOADED ")
    return result.returncode, output + result.stderr, json.loads(loaded)


def test_help_lists_every_command_and_builds_no_app():
    status, output, loaded = housing("--help")
    assert status == 0, output
    listed = {line.split()[0] for line in output.split("Commands:")[1].splitlines() if line}
    ours = {command.name for command in COMMANDS}
    assert ours | set(EXTENSION_COMMANDS) | {"run", "shell", "routes"} <= listed
    assert loaded == []


def test_a_commands_help_builds_no_app():
    status, output, loaded = housing("tokens", "issue", "--help")
    assert status == 0, output
    assert "Print a new bearer token for the user with EMAIL" in output
    assert loaded == []


@pytest.fixture
def suite_database_env(app, database_url, tmp_path):
    """The environment of a call on the suite's database (migrated by the app fixture)."""
    return {"DATABASE_URL": database_url, "HOUSING_INSTANCE_PATH": str(tmp_path)}


def test_tokens_issue_builds_the_app_without_pages_api_letters_payment_files_or_celery(
    suite_database_env,
):
    # The user is unknown, so the call builds the app, asks the database, refuses and
    # writes nothing.
    status, output, loaded = housing(
        "tokens", "issue", "nobody@test.example", env=suite_database_env
    )
    assert status == 1, output
    assert "No active user with e-mail address nobody@test.example." in output
    # The app was built with its models, and nothing it serves or that is heavy with it.
    assert sorted(loaded) == sorted(MODELS)


def test_the_migrations_build_the_app_without_its_pages_or_api(suite_database_env):
    status, output, loaded = housing("db", "current", env=suite_database_env)
    assert status == 0, output
    assert "(head)" in output
    assert sorted(loaded) == sorted(MODELS)


def test_routes_builds_the_whole_app_it_lists(suite_database_env):
    status, output, loaded = housing("routes", env=suite_database_env)
    assert status == 0, output
    assert "/api/v1/claims/<int:claim_id>/events" in output and "/login" in output
    assert sorted(loaded) == sorted(MODELS + SURFACES)


def test_the_stand_ins_name_the_commands_the_app_adds(app):
    ctx = click.Context(app.cli)
    added = set(app.cli.list_commands(ctx)) - {command.name for command in COMMANDS}
    assert added == set(EXTENSION_COMMANDS)
    for name, short_help in EXTENSION_COMMANDS.items():
        command = app.cli.get_command(ctx, name)
        assert command is not None
        assert command.get_short_help_str(limit=80) == short_help


def test_an_extensions_command_runs_as_the_app_has_it(app):
    result = CliRunner().invoke(
        HousingGroup(), ["db", "--help"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert result.exit_code == 0, result.output
    assert "upgrade" in result.output and "Perform database migrations." in result.output


def test_an_unknown_command_is_refused(app):
    result = CliRunner().invoke(
        HousingGroup(), ["nonsense"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert result.exit_code == 2
    assert "No such command 'nonsense'" in result.output


def test_an_extension_left_for_its_first_use_is_built_once_when_asked():
    bare = Flask(__name__)
    built: list[str] = []

    def build() -> str:
        built.append("broker")
        return "the broker's app"

    on_first_use(bare, "broker", build)
    assert "broker" not in bare.extensions and built == []
    assert extension(bare, "broker") == "the broker's app"
    assert extension(bare, "broker") == "the broker's app"
    assert built == ["broker"]
    assert extension(bare, "nothing") is None


def test_a_served_app_builds_what_was_left_for_its_first_use_at_start(app):
    # The suite's app is built as a served one (create_app without on_demand).
    from celery import Celery

    assert isinstance(app.extensions["celery"], Celery)
    bare = Flask(__name__)
    on_first_use(bare, "broker", lambda: "the broker's app")
    build_on_first_use(bare)
    assert bare.extensions["broker"] == "the broker's app"


def test_the_dummy_hash_costs_what_a_real_one_does():
    # Written out rather than hashed at import: it must keep the hasher's parameters, so
    # that logging in to an account that does not exist takes as long as a wrong password.
    from housing.accounts.passwords import _DUMMY_HASH, _hasher, verify_password

    assert not _hasher.check_needs_rehash(_DUMMY_HASH)
    assert _hasher.verify(_DUMMY_HASH, "not-a-real-password-only-for-timing")
    assert verify_password(None, "not-a-real-password-only-for-timing") == (False, False)
