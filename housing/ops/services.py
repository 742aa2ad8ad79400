"""Health checks, worker liveness, and what an administrator does about dead messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from housing.audit.services import AuditTrail
from housing.clock import utcnow
from housing.db import DbSession, db
from housing.errors import Conflict, Forbidden
from housing.extensions import limiter
from housing.logging import get_logger
from housing.ops.models import WorkerHeartbeat
from housing.outbox.models import OutboxMessage, OutboxStatus
from housing.outbox.services import StatusReport, retry_dead, status_report
from housing.roles import Role
from housing.scoping import Scope

log = get_logger(__name__)

# The beat asks for a heartbeat every minute; three missed ones and a worker counts as gone.
LIVE_WITHIN = dt.timedelta(minutes=3)
# A health probe must answer well within a load balancer's own timeout.
BROKER_TIMEOUT_SECONDS = 2.0


def database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return False
    return True


def system_health() -> dict[str, bool]:
    """What a worker can reach (the `health` task); the web's own probe is `health_report`."""
    return {"database": database_ok()}


def broker_ok(celery_app: Any | None) -> bool:
    """A real connection to the Celery broker: connect, and with Redis a PING."""
    if celery_app is None:
        return False  # no Celery app installed (the workers plugin is missing)
    try:
        connection = celery_app.connection_for_write(
            connect_timeout=BROKER_TIMEOUT_SECONDS,
            # Redis takes its socket timeouts from the transport options, not connect_timeout.
            transport_options={
                "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
                "socket_timeout": BROKER_TIMEOUT_SECONDS,
            },
        )
        with connection:
            # One retry at once: a single dropped connection is no outage; no back-off sleep.
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0)
    except Exception as exc:  # any transport error means: not reachable now
        # The type only: a broker error may quote the URL, with its password.
        log.warning("health.broker_unreachable", error=type(exc).__name__)
        return False
    return True


def rate_limit_storage_ok() -> bool:
    """Whether the rate limiter's configured storage answers (a PING on Redis).

    When it does not, each web process counts sign-in attempts in its own memory
    (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED): sign-in works, but the limits are per process
    and start afresh on every restart. That is a degradation, not an outage.
    """
    if not (limiter.enabled and limiter.initialized):
        return True
    try:
        return bool(limiter.storage.check())
    except Exception as exc:
        log.warning("health.rate_limit_storage_unreachable", error=type(exc).__name__)
        return False


def live_workers(session: DbSession, now: dt.datetime | None = None) -> list[str]:
    """Workers whose heartbeat is recent, by name."""
    since = (now or utcnow()) - LIVE_WITHIN
    return list(
        session.scalars(
            select(WorkerHeartbeat.worker)
            .where(WorkerHeartbeat.seen_at >= since)
            .order_by(WorkerHeartbeat.worker)
        )
    )


def outbox_summary(session: DbSession, now: dt.datetime | None = None) -> dict[str, int | None]:
    """Counts only, over all organisations: the probe names no message and no case."""
    counts = {
        status: n
        for status, n in session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.DEAD]))
            .group_by(OutboxMessage.status)
        )
    }
    oldest = session.scalar(
        select(func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status == OutboxStatus.PENDING
        )
    )
    age = None if oldest is None else max(int(((now or utcnow()) - oldest).total_seconds()), 0)
    return {
        "pending": counts.get(OutboxStatus.PENDING, 0),
        "oldest_pending_age_seconds": age,
        "dead": counts.get(OutboxStatus.DEAD, 0),
    }


def health_report(celery_app: Any | None, now: dt.datetime | None = None) -> dict[str, Any]:
    """The public health probe's answer; `ok` is whether this web node can do its work.

    Workers and the outbox are reported but do not decide `ok`: without a worker requests
    still succeed and their background work waits safely in the outbox.
    """
    now = now or utcnow()
    database = database_ok()
    broker = broker_ok(celery_app)
    workers: list[str] = []
    outbox: dict[str, int | None] | None = None
    if database:
        try:
            workers = live_workers(db.session, now)
            outbox = outbox_summary(db.session, now)
        except Exception as exc:  # the database went away between the two checks
            db.session.rollback()
            log.warning("health.query_failed", error=type(exc).__name__)
            database = False
    limits_stored = rate_limit_storage_ok()
    return {
        "ok": database and broker,
        # What works, but less well than it should: the node still serves (200).
        "degraded": [] if limits_stored else ["rate_limits"],
        "database": {"ok": database},
        "broker": {"ok": broker},
        "rate_limits": {
            "ok": limits_stored,
            # Where the limits are counted: the configured storage (Redis in production),
            # or each process's memory while that does not answer.
            "storage": "configured" if limits_stored else "in_memory_fallback",
        },
        "workers": {"ok": bool(workers), "live": workers},
        "outbox": outbox,
    }


def record_heartbeat(worker: str, now: dt.datetime | None = None) -> None:
    """Upsert the worker's last-seen time; the heartbeat task's unit of work commits it."""
    seen = now or utcnow()
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(WorkerHeartbeat).values(worker=worker, seen_at=seen)
    statement = statement.on_conflict_do_update(
        index_elements=[WorkerHeartbeat.worker], set_={"seen_at": seen}
    )
    db.session.execute(statement)


class OutboxAdmin:
    """An administrator's view of their organisation's outbox, and the retry of dead work."""

    def __init__(self, session: DbSession, audit: AuditTrail | None = None) -> None:
        self.session = session
        self.audit = audit or AuditTrail(session)

    @staticmethod
    def _require_admin(scope: Scope) -> int:
        if Role.ADMIN not in scope.roles or scope.organisation_id is None:
            raise Forbidden(_l("Only an administrator manages the outbox."))
        return scope.organisation_id

    def report(self, scope: Scope) -> StatusReport:
        return status_report(self.session, organisation_id=self._require_admin(scope))

    def retry(self, scope: Scope, message_id: int) -> OutboxMessage:
        """Give a dead message of the organisation a new series of attempts; audited."""
        organisation_id = self._require_admin(scope)
        message = scope.get_for_update(
            self.session, OutboxMessage, message_id, missing=_l("No such message.")
        )
        if message.status is not OutboxStatus.DEAD:
            # Another administrator retried it first, or it was never dead.
            raise Conflict(_l("This message is not parked as dead; there is nothing to retry."))
        retry_dead(self.session, message.id, organisation_id)
        self.audit.append(
            organisation_id,
            event="retry_outbox_message",
            actor_id=scope.user_id,
            payload={"message_id": message.id, "topic": message.topic, "key": message.key},
        )
        # The sweep hands it to the broker within its next round (it is past the grace).
        self.session.refresh(message)
        return message
