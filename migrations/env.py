"""Alembic environment: works under Flask-Migrate, under pytest-alembic, and bare.

The connection comes, in this order, from the caller (`config.attributes["connection"]`,
as pytest-alembic passes it), from the Flask app in context, or from DATABASE_URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import housing.models  # noqa: F401  (fills the metadata)
from housing.db import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.config["SQLALCHEMY_DATABASE_URI"]
    from housing.config import Settings

    return Settings.from_env().database_url


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: rebuild tables in batches there.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    from flask import current_app, has_app_context

    if has_app_context():
        engine = current_app.extensions["sqlalchemy"].engine
    else:
        engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _configure(connection)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
