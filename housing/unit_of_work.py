"""One unit of work per request, task and CLI command: commit once at its end, or undo it.

Services flush, never commit. Whoever runs them (a request, a Celery task, a command)
commits once when the work succeeded and rolls back otherwise, here and nowhere else
(indico's `RH.process`, warehouse's request transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask, Response, g, message_flashed
from flask import session as cookie
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm.exc import StaleDataError

from housing.db import DbSession, db
from housing.logging import get_logger

T = TypeVar("T")
log = get_logger(__name__)

# The flashes this request made, so an undone request can take them back.
_FLASHED = "housing_flashed"
# What runs with the response just before the request commits (idempotency keys).
_BEFORE_COMMIT = "housing_before_commit"
# What a refused request must still record (the audit of a failed sign-in), each in a unit
# of work of its own after the request's work is rolled back.
_AFTER_ROLLBACK = "housing_after_rollback"
# Set from the moment the COMMIT is sent: an error from then on may follow saved work.
_MAY_BE_SAVED = "housing_work_may_be_saved"


@contextmanager
def unit_of_work(session: DbSession | None = None) -> Iterator[DbSession]:
    """Commit what the block wrote when it ends normally; roll it all back when it raises."""
    session = session if session is not None else db.session
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()


class UnitOfWorkFlask(Flask):
    """Flask whose every request is one unit of work.

    The view's answer decides: below 400 the transaction commits, otherwise it is rolled
    back. The commit runs inside `dispatch_request`, before the response leaves, so a
    failing COMMIT (a unique constraint, the optimistic version check) is an exception of
    the request and reaches the registered handlers (409), as any error of the view does;
    raised from `after_request` it would become a 500. Any exception rolls back first, and
    takes back what the view flashed: it did not happen. A streamed body runs after the
    commit: it may read, and what it wrote would not be saved.

    The writes are flushed before the COMMIT is sent, so a refusal of a write is known to
    have saved nothing. A COMMIT that fails otherwise (the connection lost while it ran)
    may have been carried out by the database or not, and an error after it follows saved
    work: `work_may_be_saved` tells the error pages, which must not say nothing was saved.
    """

    def dispatch_request(self) -> Response:
        response = self.make_response(super().dispatch_request())
        if response.status_code < 400:
            for callback in g.pop(_BEFORE_COMMIT, ()):
                callback(response)
            db.session.flush()
            _commit()
        else:
            db.session.rollback()
            for callback in g.pop(_AFTER_ROLLBACK, ()):
                with unit_of_work(db.session):
                    callback()
        return response

    def handle_user_exception(self, e: Exception) -> Any:
        _undo_request()
        return super().handle_user_exception(e)

    def handle_exception(self, e: Exception) -> Response:
        _undo_request()
        return super().handle_exception(e)


def _commit() -> None:
    setattr(g, _MAY_BE_SAVED, True)
    try:
        db.session.commit()
    except (IntegrityError, StaleDataError, DataError):
        # The database refused the COMMIT (a deferred constraint): it rolled back.
        setattr(g, _MAY_BE_SAVED, False)
        raise


def before_commit(callback: Callable[[Response], None]) -> None:
    """Run `callback` with this request's response just before it commits (if it does),
    in its transaction."""
    g.setdefault(_BEFORE_COMMIT, []).append(callback)


def after_rollback(callback: Callable[[], None]) -> None:
    """Run `callback` in a unit of work of its own when this request answers 4xx or 5xx and
    its own work is rolled back: what must be kept of a refused request (the audit of a
    failed sign-in) and nothing else of it. Not run when the view raised instead."""
    g.setdefault(_AFTER_ROLLBACK, []).append(callback)


def work_may_be_saved() -> bool:
    """Whether an error of this request came at or after its COMMIT, so that its work may
    have been saved (the connection lost during the COMMIT, a failure after it)."""
    return bool(g.get(_MAY_BE_SAVED, False))


def install(app: Flask) -> None:
    """Remember the flashes of each request, so an undone one can take them back."""
    message_flashed.connect(_remember_flash, app)


def _remember_flash(sender: Flask, message: str, category: str, **_: Any) -> None:
    g.setdefault(_FLASHED, []).append((category, message))


def _undo_request() -> None:
    try:
        db.session.rollback()
    except SQLAlchemyError:
        # Failed after its COMMIT (an after-commit hook): the transaction is over and
        # cannot be rolled back; the session starts afresh.
        db.session.close()
    made = g.pop(_FLASHED, None)
    if not made:
        return
    kept = list(cookie.get("_flashes", []))
    for flashed in reversed(made):
        if flashed in kept:
            del kept[len(kept) - 1 - kept[::-1].index(flashed)]
    cookie["_flashes"] = kept


def read_or_none(read: Callable[[], T]) -> T | None:
    """A read whose failure must not break the page (an error page rendered while the
    database is away): None then, and the session usable again."""
    try:
        return read()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("read_failed", error=type(exc).__name__)
        return None


def first_use(session: DbSession, read: Callable[[], T]) -> T:
    """Run a unit of work's first read, once more when the connection the pool handed out
    turns out to have been dropped by the server.

    The pool discards a connection that it can tell the server closed (`housing.db`), with
    no round trip; one that went without a word (a host restarted, a firewall) fails on
    its first statement. SQLAlchemy then invalidates it, and every pooled connection
    older than it; the read, having written nothing, runs again on a fresh one. Only the
    first read of a transaction is repeated: after any other, work would be lost.
    """
    plain = session() if isinstance(session, scoped_session) else session
    fresh = not plain.in_transaction()
    try:
        return read()
    except DBAPIError as exc:
        if not (fresh and exc.connection_invalidated):
            raise
        log.warning("connection_dropped", error=type(exc.orig).__name__)
        session.rollback()
        return read()
