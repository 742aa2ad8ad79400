"""The declarative base, naming convention and reusable column types."""

from __future__ import annotations

import datetime as dt
import enum
import sqlite3
from decimal import Decimal
from select import POLLIN
from select import poll as socket_poll
from typing import Annotated, Any, cast

from flask import abort, has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
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
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, registry, scoped_session
from sqlalchemy.sql.functions import FunctionElement

from housing.clock import AMSTERDAM, utcnow
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
    # What PostgreSQL has built in and SQLite lacks, for the figures below (`median`,
    # `local_date`): defined on each connection, run inside SQLite's own query.
    dbapi_connection.create_aggregate("vw_median", 1, cast(Any, _SqliteMedian))
    dbapi_connection.create_function("vw_local_date", 1, _sqlite_local_date, deterministic=True)


# --- figures computed in SQL on both databases ----------------------------------------------
class _SqliteMedian:
    """The median of the non-NULL values, as PostgreSQL's percentile_cont(0.5) gives it."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        if not self.values:
            return None
        ordered = sorted(self.values)
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) / 2


def _sqlite_local_date(value: str | None) -> str | None:
    # SQLite keeps UTCDateTime as naive UTC text ("2026-03-02 10:00:00.000000").
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return moment.astimezone(AMSTERDAM).date().isoformat()


class median(FunctionElement[float]):
    """Aggregate: the median (percentile_cont(0.5) on PostgreSQL, vw_median on SQLite)."""

    type = Float()
    inherit_cache = True


@compiles(median, "postgresql")
def _median_postgresql(element: median, compiler: Any, **kw: Any) -> str:
    return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {compiler.process(element.clauses, **kw)})"


@compiles(median, "sqlite")
def _median_sqlite(element: median, compiler: Any, **kw: Any) -> str:
    return f"vw_median({compiler.process(element.clauses, **kw)})"


class local_date(FunctionElement[dt.date]):
    """The calendar day in Amsterdam of a UTC timestamp (UTCDateTime)."""

    type = Date()
    inherit_cache = True


@compiles(local_date, "postgresql")
def _local_date_postgresql(element: local_date, compiler: Any, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    return f"CAST(timezone('Europe/Amsterdam', {inner}) AS DATE)"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler: Any, **kw: Any) -> str:
    return f"vw_local_date({compiler.process(element.clauses, **kw)})"


class days_between(FunctionElement[int]):
    """days_between(later, earlier): whole days from one date to the next."""

    type = Integer()
    inherit_cache = True


@compiles(days_between, "postgresql")
def _days_between_postgresql(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"({later} - {earlier})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


class year_month(FunctionElement[str]):
    """'YYYY-MM' of a date."""

    type = String()
    inherit_cache = True


@compiles(year_month, "postgresql")
def _year_month_postgresql(element: year_month, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


@compiles(year_month, "sqlite")
def _year_month_sqlite(element: year_month, compiler: Any, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


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
