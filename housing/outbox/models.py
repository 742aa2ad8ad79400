"""OutboxMessage: a piece of background work, written with the change it announces."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from housing.db import Base, created_at, intpk, str_enum


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # to be delivered (again, after a failure)
    DONE = "done"  # acted on, once
    DEAD = "dead"  # failed too often: parked for a person to look at and retry


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # The sweep's question: what is pending and due?
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
    )

    id: Mapped[intpk]
    # One key per piece of work ("claim-received:42"): the same work is never queued twice.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    topic: Mapped[str] = mapped_column(String(60))
    # Ids and dates only: a message names what to do, the consumer reads the rest itself.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime]
    # Set by the sweep when it hands the message to the broker; the relay right after the
    # commit does not write, so a broker outage leaves it unset and the sweep sends it.
    dispatched_at: Mapped[dt.datetime | None]
    # A consumer holds the message until then; another delivery of it stands down.
    leased_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
