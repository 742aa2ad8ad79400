"""The migrations are the schema: single head, up and down, and they match the models.

Run on PostgreSQL and once on SQLite, so the embedded default stays honest.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, pool, text

import housing.models  # noqa: F401
from housing.config import PROJECT_ROOT
from housing.db import Base
from tests.conftest import PG_ADMIN_URL, RUN_ID

MIGRATIONS = PROJECT_ROOT / "migrations"


def alembic_config(connection) -> Config:  # type: ignore[no-untyped-def]
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = create_engine(f"sqlite:///{tmp_path / 'migrations.sqlite3'}", poolclass=pool.NullPool)
        yield eng
        eng.dispose()
        return
    name = f"housing_migrations_{os.getpid()}_{RUN_ID}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    eng = create_engine(f"{base}/{name}", poolclass=pool.NullPool)
    yield eng
    eng.dispose()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_there_is_a_single_head():
    script = ScriptDirectory.from_config(Config(str(MIGRATIONS / "alembic.ini")))
    assert len(script.get_heads()) == 1


def test_upgrade_matches_the_models(engine: Engine):
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    with engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
    assert differences == [], "the models and the migrations differ: write a migration"


def test_every_revision_goes_down_and_up_again(engine: Engine):
    script = ScriptDirectory.from_config(Config(str(MIGRATIONS / "alembic.ini")))
    revisions = list(reversed(list(script.walk_revisions())))
    with engine.begin() as connection:
        config = alembic_config(connection)
        for revision in revisions:
            command.upgrade(config, revision.revision)
            command.downgrade(config, revision.down_revision or "base")
            command.upgrade(config, revision.revision)
        command.downgrade(config, "base")
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}


def test_organisations_that_existed_get_the_catalogue_and_eligible_offices(engine: Engine):
    with engine.begin() as connection:
        config = alembic_config(connection)
        command.upgrade(config, "0001")
        connection.execute(
            text(
                "INSERT INTO organisation (kind, name, iban, created_at)"
                " VALUES ('gemeente', 'Oud', 'NL91ABNA0417164300', CURRENT_TIMESTAMP)"
            )
        )
        command.upgrade(config, "0002")
        basic = connection.execute(
            text("SELECT count(*) FROM measure_catalogue WHERE regime = 'A' AND is_basic_measure")
        ).scalar()
        offices = set(connection.execute(text("SELECT office_type FROM eligible_office")).scalars())
        cap = connection.execute(text("SELECT regime_a_cap FROM organisation")).scalar()
    assert basic == 5
    assert "burgemeester" in offices and "raadslid" not in offices
    assert str(cap) in {"2400.00", "2400"}
