"""AuditEvent, the per-organisation chain head, and AccessLog."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from housing.db import Base, intpk


class AuditChainHead(Base):
    """The last link of an organisation's chain; locked while a link is appended, so the
    chain stays a line even when two state changes commit at once."""

    __tablename__ = "audit_chain_head"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("organisation_id", "sequence"),)

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    sequence: Mapped[int]
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claim.id"), index=True)
    # None for the system (deadline watch, payouts); otherwise the acting user.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    occurred_at: Mapped[dt.datetime]
    event: Mapped[str] = mapped_column(String(60))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of the canonical JSON payload; the payload itself may hold personal data.
    payload_hash: Mapped[str] = mapped_column(String(64))
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AccessLog(Base):
    """Every view of a claim and every download (DPIA: who read what, when)."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_organisation_id_id", "organisation_id", "id"),)

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    action: Mapped[str] = mapped_column(String(40))
    # The roles the reader held at that moment, comma-separated; None for older reads.
    roles: Mapped[str | None] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[dt.datetime]
