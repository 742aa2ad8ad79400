"""In-app notices and the print queue; each made once per outbox message."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from housing.claims.notices import NotificationKind
from housing.db import Base, created_at, intpk, str_enum


class Notification(Base):
    """A notice in the app. It says there is news and links to it, as the e-mail does."""

    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("outbox_message_id"),)

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claim.id"), index=True)
    kind: Mapped[NotificationKind] = mapped_column(str_enum(NotificationKind, "notification_kind"))
    # The one date the notice names (received on, reply by, decide by); never an amount.
    on_date: Mapped[dt.date | None]
    outbox_message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id"))
    read_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]


class PrintStatus(enum.StrEnum):
    QUEUED = "queued"
    PRINTED = "printed"


class PrintItem(Base):
    """A letter for someone who did not choose electronic messages: staff print and post it."""

    __tablename__ = "print_item"
    __table_args__ = (UniqueConstraint("outbox_message_id"),)

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[NotificationKind] = mapped_column(str_enum(NotificationKind, "notification_kind"))
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id"))
    status: Mapped[PrintStatus] = mapped_column(
        str_enum(PrintStatus, "print_status"), default=PrintStatus.QUEUED
    )
    printed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    printed_at: Mapped[dt.datetime | None]
    outbox_message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id"))
    created_at: Mapped[created_at]


class SentMail(Base):
    """That an e-mail left for an outbox message, with the Message-ID it carried."""

    __tablename__ = "sent_mail"

    outbox_message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_message.id"), primary_key=True
    )
    message_id_header: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[dt.datetime]
