"""IdempotencyKey: a key a caller sent with a request, and the response that request had."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from housing.db import Base, EncryptedText, created_at, intpk


class IdempotencyKey(Base):
    """One use of a key, per caller: written in the transaction of the work it stands for.

    The row is inserted before the work and completed with its response before the commit,
    so a committed key always has a response, and a key whose work was undone is gone too.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        CheckConstraint(
            "response_status IS NULL OR response_status BETWEEN 100 AND 399",
            name="response_status_kept_for_success",
        ),
    )

    id: Mapped[intpk]
    # Keys belong to a caller: two users may send the same key without meeting.
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 (hex) of the method, path and body: the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[created_at] = mapped_column(index=True)
    response_status: Mapped[int | None] = mapped_column(Integer)
    # Content-Type, Location, ETag: what a client reads besides the body.
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The body may name people and addresses: encrypted as case data is.
    response_body: Mapped[str | None] = mapped_column(EncryptedText)

    def expired(self, now: dt.datetime, lifetime: dt.timedelta) -> bool:
        return self.created_at <= now - lifetime
