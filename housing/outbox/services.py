"""Write outbox messages with the change they announce; act on each exactly once.

Delivery is at least once: the relay hands a message to the broker right after the commit,
and a periodic sweep hands over whatever is still pending (a broker outage, a worker killed
mid-task). Acting is once: a consumer first takes a lease on the message in a short
transaction of its own, then does the work and marks the message done in a second one.
A second delivery of the same message finds it done, or leased or held by someone else,
and stands down at once, without waiting for the other's transaction. What is left is the
unavoidable window between an SMTP server's "250 OK" and our commit: a crash exactly there
sends a mail twice, never zero times.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from blinker import Namespace
from flask import current_app, has_app_context
from sqlalchemy import CursorResult, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from housing.clock import utcnow
from housing.db import DbSession
from housing.logging import get_logger
from housing.outbox.models import OutboxMessage, OutboxStatus
from housing.scoping import Scope

log = get_logger(__name__)

_signals = Namespace()
# Sent after a commit that wrote outbox messages: `ids` are theirs. The relay in workers/
# listens; housing itself never imports workers.
outbox_committed = _signals.signal("outbox-committed")

_NEW_IDS = "housing.outbox.new_ids"
LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 8
# A message the relay should have sent right after its commit: the sweep leaves it alone
# this long, so the two do not race for every message.
SWEEP_GRACE = dt.timedelta(seconds=10)
# A message handed to the broker that is still pending after this long was lost with a
# worker (or is stuck behind a long queue): hand it over again; acting stays once.
REDISPATCH_AFTER = dt.timedelta(minutes=2)

Handler = Callable[[DbSession, OutboxMessage], None]


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 1, 2, 4 … minutes after each failure, at most an hour."""
    return min(dt.timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), dt.timedelta(hours=1))


class Outbox:
    """Write side: used by domain services inside their unit of work. Never commits."""

    def __init__(self, session: DbSession, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock

    def add(
        self,
        *,
        key: str,
        topic: str,
        payload: Mapping[str, Any],
        organisation_id: int | None = None,
    ) -> int | None:
        """Queue work under a unique key; the same key again is ignored (returns None)."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(OutboxMessage)
            .values(
                key=key,
                topic=topic,
                payload=dict(payload),
                organisation_id=organisation_id,
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=self.clock(),
                created_at=self.clock(),
            )
            # Two transactions announcing the same thing: one message, and no error.
            .on_conflict_do_nothing(index_elements=[OutboxMessage.key])
            .returning(OutboxMessage.id)
        )
        message_id = self.session.execute(statement).scalar_one_or_none()
        if message_id is not None:
            self.session.info.setdefault(_NEW_IDS, []).append(message_id)
        return message_id


@event.listens_for(Session, "after_commit")
def _announce_committed(session: Session) -> None:
    ids = session.info.pop(_NEW_IDS, None)
    if ids and has_app_context():
        app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy
        outbox_committed.send(app, ids=tuple(ids))


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_NEW_IDS, None)


class Outcome(enum.StrEnum):
    DONE = "done"
    ALREADY_DONE = "already_done"
    BUSY = "busy"  # another consumer holds it now
    NOT_DUE = "not_due"  # failed before; its next attempt is later
    FAILED = "failed"  # will be retried
    DEAD = "dead"  # parked after too many failures
    MISSING = "missing"


@dataclass(frozen=True)
class StatusReport:
    counts: Mapping[str, int]
    oldest_pending_at: dt.datetime | None
    dead: Sequence[OutboxMessage]


class OutboxConsumer:
    """Read side, in a worker: each call is its own short transactions on `session`."""

    def __init__(
        self,
        session: DbSession,
        handlers: Mapping[str, Handler],
        clock: Callable[[], dt.datetime] = utcnow,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        lease: dt.timedelta = LEASE,
    ) -> None:
        self.session = session
        self.handlers = handlers
        self.clock = clock
        self.max_attempts = max_attempts
        self.lease = lease

    def _locked(self, message_id: int) -> OutboxMessage | None:
        # Skip the row rather than wait for it: whoever holds it is acting on the message
        # (a consumer taking its lease, or working under it: the rows its handler writes
        # refer to the message, which locks it against us until that commits, SMTP
        # conversation and all), marking it failed (due again later), or the sweep, which
        # publishes it right after. Each way the message is looked after; a delivery that
        # waited would only block a worker for as long as the other's work takes.
        return Scope.system_scope().find_for_update(
            self.session, OutboxMessage, message_id, skip_locked=True
        )

    def _take_lease(self, message_id: int) -> tuple[Outcome, dt.datetime | None]:
        message = self._locked(message_id)
        now = self.clock()
        if message is None:
            # Skipped because someone holds it, or really gone (a plain read waits for no one).
            exists = self.session.scalar(
                select(OutboxMessage.id).where(OutboxMessage.id == message_id)
            )
            self.session.rollback()
            return (Outcome.MISSING if exists is None else Outcome.BUSY), None
        outcome = None
        if message.status is OutboxStatus.DONE:
            outcome = Outcome.ALREADY_DONE
        elif message.status is OutboxStatus.DEAD:
            outcome = Outcome.DEAD
        elif message.leased_until is not None and message.leased_until > now:
            outcome = Outcome.BUSY
        elif message.next_attempt_at > now:
            outcome = Outcome.NOT_DUE
        if outcome is not None:
            self.session.rollback()
            return outcome, None
        lease_until = now + self.lease
        message.leased_until = lease_until
        message.attempts += 1
        self.session.commit()
        return Outcome.DONE, lease_until

    def deliver(self, message_id: int) -> Outcome:
        """Act on one message once; safe to call any number of times, also concurrently."""
        taken, lease_until = self._take_lease(message_id)
        if lease_until is None:
            return taken
        message = self.session.get(OutboxMessage, message_id)
        assert message is not None
        topic, key = message.topic, message.key
        try:
            handler = self.handlers[topic]
            handler(self.session, message)
            # The handler's own writes (an in-app notice, a job's result) commit with "done".
            self.session.flush()
            locked = self.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one()
            if locked.leased_until != lease_until:
                # Our lease ran out and someone else took over: leave the work to them.
                self.session.rollback()
                return Outcome.BUSY
            locked.status = OutboxStatus.DONE
            locked.leased_until = None
            locked.done_at = self.clock()
            locked.last_error = None
            self.session.commit()
        except Exception as exc:  # a handler may fail in any way; the message must survive it
            self.session.rollback()
            outcome = self._failed(message_id, exc)
            log.warning(
                "outbox.delivery_failed", message_id=message_id, topic=topic, key=key,
                outcome=outcome.value, error=type(exc).__name__,
            )  # fmt: skip
            return outcome
        log.info("outbox.delivered", message_id=message_id, topic=topic, key=key)
        return Outcome.DONE

    def _failed(self, message_id: int, exc: Exception) -> Outcome:
        message = self.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        message.leased_until = None
        message.dispatched_at = None
        if message.attempts >= self.max_attempts:
            message.status = OutboxStatus.DEAD
            outcome = Outcome.DEAD
        else:
            message.next_attempt_at = self.clock() + backoff(message.attempts)
            outcome = Outcome.FAILED
        self.session.commit()
        return outcome


class OutboxSweep:
    """What the periodic sweep hands to the broker: pending, due, not leased, not in flight."""

    def __init__(self, session: DbSession, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock

    def dispatch_due(
        self,
        publish: Callable[[int], None],
        *,
        limit: int = 500,
        grace: dt.timedelta = SWEEP_GRACE,
        redispatch_after: dt.timedelta = REDISPATCH_AFTER,
    ) -> int:
        """Publish each due message and record when; returns how many were handed over."""
        now = self.clock()
        due = self.session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.next_attempt_at <= now,
                (OutboxMessage.leased_until.is_(None)) | (OutboxMessage.leased_until <= now),
                (OutboxMessage.dispatched_at.is_(None) & (OutboxMessage.created_at <= now - grace))
                | (OutboxMessage.dispatched_at <= now - redispatch_after),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
            # Two sweeps at once (two beats) split the work instead of doubling it.
            .with_for_update(skip_locked=True)
        ).all()
        if not due:
            self.session.rollback()
            return 0
        # Recorded and committed before publishing: a worker that takes the message at
        # once must not find its row still locked by this sweep.
        self.session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(due)).values(dispatched_at=now)
        )
        self.session.commit()
        handed = 0
        try:
            for message_id in due:
                publish(message_id)
                handed += 1
        except Exception:
            # The broker failed half way: what it did not take is due again at once.
            self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(due[handed:]))
                .values(dispatched_at=None)
            )
            self.session.commit()
            raise
        return handed


def retry_dead(session: DbSession, message_id: int, organisation_id: int | None) -> bool:
    """Give a dead message a new series of attempts; False if there is no such dead one."""
    # An UPDATE returns a CursorResult; Session.execute is typed for any statement.
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == OutboxStatus.DEAD,
                OutboxMessage.organisation_id == organisation_id,
            )
            .values(
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=utcnow(),
                dispatched_at=None,
                leased_until=None,
            )
        ),
    )
    return bool(result.rowcount)


def status_report(session: DbSession, *, organisation_id: int | None = None) -> StatusReport:
    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    oldest = select(func.min(OutboxMessage.created_at)).where(
        OutboxMessage.status == OutboxStatus.PENDING
    )
    dead = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.DEAD)
    if organisation_id is not None:
        query = query.where(OutboxMessage.organisation_id == organisation_id)
        oldest = oldest.where(OutboxMessage.organisation_id == organisation_id)
        dead = dead.where(OutboxMessage.organisation_id == organisation_id)
    counts = {status.value: 0 for status in OutboxStatus}
    counts.update({status.value: n for status, n in session.execute(query)})
    return StatusReport(
        counts=counts,
        oldest_pending_at=session.scalar(oldest),
        dead=session.scalars(dead.order_by(OutboxMessage.id).limit(100)).all(),
    )
