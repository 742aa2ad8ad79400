"""Outbox messages as a worker leaves them: pending, done or parked as dead."""

from __future__ import annotations

import uuid

from housing.clock import utcnow
from housing.outbox.models import OutboxMessage, OutboxStatus


def outbox_row(session, organisation_id, *, status=OutboxStatus.DEAD, created_at=None, **extra):
    message = OutboxMessage(
        key=f"notify:claim_received:claim-{uuid.uuid4().hex[:8]}:7",
        topic="notification",
        payload={"kind": "claim_received", "user_id": 7, "claim_id": 1},
        organisation_id=organisation_id,
        status=status,
        attempts=8 if status is OutboxStatus.DEAD else 0,
        next_attempt_at=utcnow(),
        last_error="SMTPServerDisconnected: Connection unexpectedly closed"
        if status is OutboxStatus.DEAD
        else None,
        created_at=created_at or utcnow(),
        **extra,
    )
    session.add(message)
    session.commit()
    return message
