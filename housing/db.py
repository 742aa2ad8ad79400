"""The declarative base, naming convention and reusable column types."""

from __future__ import annotations

import datetime as dt
import enum
import sqlite3
from decimal import Decimal
from select import POLLIN
from select import poll as socket_poll
from typing import Annotated, Any

from flask import abort, has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    DateTime,
    Enum,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    event,
    exc,
    text,
)
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, registry, scoped_session

from housing.clock import utcnow
from housing.crypto import active_cipher
from housing.ids import MAX_ID

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC in and out, on PostgreSQL and on SQLite alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        # SQLite returns naive values; they were stored as UTC.
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class EncryptedText(TypeDecorator[str]):
    """Text encrypted at rest with the field cipher; the database sees only ciphertext."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else active_cipher().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else active_cipher().decrypt(value)


def str_enum(cls: type[enum.Enum], name: str) -> Enum:
    """Store an enum's lower-case values as text, checked by a constraint on every database."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=40,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


intpk = Annotated[int, mapped_column(primary_key=True)]
str80 = Annotated[str, mapped_column(String(80))]
str200 = Annotated[str, mapped_column(String(200))]
money = Annotated[Decimal, mapped_column(Numeric(12, 2))]
encrypted = Annotated[str, mapped_column(EncryptedText)]
created_at = Annotated[
    dt.datetime,
    mapped_column(UTCDateTime, default=utcnow, server_default=text("CURRENT_TIMESTAMP")),
]


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            dt.datetime: UTCDateTime,
            Decimal: Numeric(12, 2),
            str: String(255),
        },
    )


class BoundedSQLAlchemy(SQLAlchemy):
    """Flask-SQLAlchemy whose pages are numbered as ids are: a `?page=` beyond `MAX_ID` is
    past any offset PostgreSQL takes (a server error once), so it is a 404 like page 0."""

    def paginate(self, select: Any, *, page: int | None = None, **kwargs: Any) -> Any:
        if page is None and has_request_context():
            try:
                page = int(request.args.get("page", 1))
            except ValueError:
                abort(404)
            if not 1 <= page <= MAX_ID:
                abort(404)
        return super().paginate(select, page=page, **kwargs)


db = BoundedSQLAlchemy(model_class=Base)

# What services take: a plain Session (tests, workers) or Flask-SQLAlchemy's request-scoped
# proxy `db.session`; both offer the same methods.
DbSession = Session | scoped_session[Any]

# The embedded default (`make run`): web, worker and beat share one SQLite file. In WAL mode
# a reader never waits for the writer (a page does not fail while a job writes), and a
# writer waits its turn for up to this long instead of failing at once.
SQLITE_BUSY_TIMEOUT_MS = 15_000


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


@event.listens_for(Engine, "checkout")
def _discard_dropped(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Hand out no connection the server has closed, without asking the server.

    No ping on every checkout (`pool_pre_ping` sends a statement, a round trip each time).
    A connection resting in the pool has nothing to read unless the server said something
    unprompted; what it says is that it is closing the connection (terminated by an
    operator, shut down or restarted, an idle timeout), and then the socket reads its last
    words and the end. So a readable socket, or none, is a dropped connection: the pool
    discards it and connects anew (`DisconnectionError` on checkout). A connection lost
    without a word is caught by its first statement (`housing.unit_of_work.first_use`).
    """
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:
        return  # SQLite: no socket
    if dbapi_connection.closed:
        raise exc.DisconnectionError("the driver found the connection closed")
    readable = socket_poll()
    readable.register(fileno(), POLLIN)
    if readable.poll(0):
        raise exc.DisconnectionError("the server closed the connection while it was pooled")
