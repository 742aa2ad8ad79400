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
from sqlalchemy.exc import IntegrityError

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


def _insert(connection, table: str, **values: object) -> int:  # type: ignore[no-untyped-def]
    """A row with `values`, every other required column filled with a plain value of its
    type: enough for a migration's data to act on."""
    import datetime as dt

    from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric

    for column in inspect(connection).get_columns(table):
        name = column["name"]
        if name in values or name == "id" or column["nullable"] or column["default"]:
            continue
        kind = column["type"]
        if isinstance(kind, Boolean):
            values[name] = False
        elif isinstance(kind, DateTime):
            values[name] = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
        elif isinstance(kind, Date):
            values[name] = dt.date(2026, 3, 2)
        elif isinstance(kind, Integer | Numeric):
            values[name] = 1
        else:
            values[name] = f"{table}-{name}"[: getattr(kind, "length", None) or 60]
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    # Names from the test and the live schema, never from input.
    connection.execute(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), values)  # noqa: S608
    return connection.execute(text(f"SELECT max(id) FROM {table}")).scalar()  # noqa: S608


def test_a_claim_in_the_retired_objection_state_becomes_an_objection_case(engine: Engine):
    """0016: the claim machine has no 'objection' state any more; a claim in it gets the
    lodged objection against its refusal it stood for, and is refused again."""
    import datetime as dt

    with engine.begin() as connection:
        config = alembic_config(connection)
        command.upgrade(config, "0015")
        org = _insert(connection, "organisation", kind="gemeente", iban="NL91ABNA0417164300")
        user = _insert(connection, "user_account", organisation_id=org, email="a@b.example")
        holder = _insert(
            connection,
            "office_holder",
            organisation_id=org,
            office_type="burgemeester",
            user_id=user,
        )
        home = _insert(connection, "home", office_holder_id=holder)
        claim = _insert(
            connection,
            "claim",
            organisation_id=org,
            office_holder_id=holder,
            home_id=home,
            filed_by_id=user,
            state="objection",
            regime="A",
        )
        refusal = _insert(
            connection,
            "decision",
            claim_id=claim,
            kind="refusal",
            sent_on=dt.date(2026, 3, 2),
        )
        _insert(
            connection,
            "audit_event",
            organisation_id=org,
            claim_id=claim,
            actor_id=user,
            sequence=1,
            event="lodge_objection",
            from_state="refused",
            to_state="objection",
            reason="Het slot is nodig.",
            occurred_at=dt.datetime(2026, 4, 10, 23, 30, tzinfo=dt.UTC),
        )
        command.upgrade(config, "0016")
        state = connection.execute(text("SELECT state FROM claim")).scalar()
        objection = connection.execute(
            text(
                "SELECT claim_id, decision_id, state, lodged_on, term_ends_on, late, grounds,"
                " lodged_by_id FROM objection"
            )
        ).one()
        # The retired state is no longer a known one.
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(text("UPDATE claim SET state = 'objection'"))
    assert state == "refused"
    lodged_on, term_ends_on = (
        dt.date.fromisoformat(str(day)[:10]) for day in (objection[3], objection[4])
    )
    assert (objection[0], objection[1], objection[2]) == (claim, refusal, "lodged")
    # Written 01:30 on 11 April in Amsterdam; six weeks from the refusal's sending.
    assert (lodged_on, term_ends_on) == (dt.date(2026, 4, 11), dt.date(2026, 4, 13))
    assert (bool(objection[5]), objection[6], objection[7]) == (False, "Het slot is nodig.", user)
