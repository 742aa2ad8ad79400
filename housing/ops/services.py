"""Health checks and worker liveness."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite

from housing.db import db, utcnow
from housing.ops.models import WorkerHeartbeat


def database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return False
    return True


def system_health() -> dict[str, bool]:
    return {"database": database_ok()}


def record_heartbeat(worker: str, now: dt.datetime | None = None) -> None:
    """Upsert the worker's last-seen time in its own transaction."""
    seen = now or utcnow()
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(WorkerHeartbeat).values(worker=worker, seen_at=seen)
    statement = statement.on_conflict_do_update(
        index_elements=[WorkerHeartbeat.worker], set_={"seen_at": seen}
    )
    db.session.execute(statement)
    db.session.commit()
