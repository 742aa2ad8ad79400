"""Reading one's notices and working the print queue: reads, "read" and "printed".

Every read goes through the scope: a notice is its addressee's alone, a queued letter is
for those who may read addresses (it carries one). The writes are small units of work in
the caller's transaction; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, CursorResult, Row, Select, func, select, update
from sqlalchemy.orm import aliased

from housing.accounts.models import User
from housing.audit.services import AuditTrail
from housing.claims.documents import DocumentStore
from housing.claims.drafting import DraftingService
from housing.claims.models import Claim, Document
from housing.clock import utcnow
from housing.db import DbSession
from housing.errors import Conflict, NotFound
from housing.notifications.models import Notification, PrintItem, PrintStatus
from housing.notifications.services import _sentences
from housing.scoping import Scope


@dataclass(frozen=True)
class NoticeLine:
    """A notice as the list shows it: the news in words, and where it leads."""

    notification: Notification
    text: str
    claim_id: int | None
    claim_number: str | None
    # Whether the reader may open the claim now (a role may have changed since).
    claim_link: bool

    @property
    def unread(self) -> bool:
        return self.notification.read_at is None


class NoticeInbox:
    def __init__(self, session: DbSession, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock

    @staticmethod
    def query(scope: Scope) -> Select[Notification]:
        """The reader's notices, newest first."""
        return scope.select(Notification).order_by(
            Notification.created_at.desc(), Notification.id.desc()
        )

    def lines(self, scope: Scope, notices: Sequence[Notification]) -> list[NoticeLine]:
        """Each notice in the words of the e-mail it stands for, in the locale in force."""
        claim_ids = {n.claim_id for n in notices if n.claim_id is not None}
        # The number is part of the news sent to this reader, so it is read for the notice
        # itself; whether the claim page may be opened is the scope's answer.
        claims = (
            {c.id: c for c in self.session.scalars(select(Claim).where(Claim.id.in_(claim_ids)))}
            if claim_ids
            else {}
        )
        openable = (
            set(
                self.session.scalars(
                    scope.select(Claim).with_only_columns(Claim.id).where(Claim.id.in_(claim_ids))
                )
            )
            if claim_ids
            else set()
        )
        found = []
        for notice in notices:
            claim = claims.get(notice.claim_id) if notice.claim_id is not None else None
            found.append(
                NoticeLine(
                    notification=notice,
                    text=" ".join(_sentences(notice.kind, claim, notice.on_date)),
                    claim_id=claim.id if claim else None,
                    claim_number=claim.number if claim else None,
                    claim_link=claim is not None and claim.id in openable,
                )
            )
        return found

    def unread_count(self, scope: Scope) -> int:
        """One count on the addressee's index; shown in every page's header."""
        return (
            self.session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(*scope.criteria(Notification), Notification.read_at.is_(None))
            )
            or 0
        )

    def mark_read(self, scope: Scope, notification_id: int) -> Notification:
        """Mark one notice read; marking it again changes nothing (the first time stays)."""
        notice = scope.get(self.session, Notification, notification_id)
        if notice is None:
            raise NotFound(_l("No such notification."))
        if notice.read_at is None:
            notice.read_at = self.clock()
        return notice

    def mark_all_read(self, scope: Scope) -> int:
        """Mark every unread notice of the reader read; returns how many."""
        return self._mark_read(scope)

    def mark_claim_read(self, scope: Scope, claim_id: int) -> int:
        """The reader opened the claim: its news reached them, so each of their unread
        notices about it is read (the notice only says there is news and links to it).
        Returns how many; the notices of other readers stay as they are."""
        return self._mark_read(scope, Notification.claim_id == claim_id)

    def _mark_read(self, scope: Scope, *where: ColumnElement[bool]) -> int:
        # An UPDATE returns a CursorResult; Session.execute is typed for any statement.
        result = cast(
            "CursorResult[Any]",
            self.session.execute(
                update(Notification)
                .where(*scope.criteria(Notification), Notification.read_at.is_(None), *where)
                .values(read_at=self.clock())
            ),
        )
        return result.rowcount or 0


class PrintQueue:
    """Letters for those who chose paper: download, print, post, and say so."""

    PRINTED_SHOWN = 50

    def __init__(
        self,
        session: DbSession,
        clock: Callable[[], dt.datetime] = utcnow,
        documents: DocumentStore | None = None,
    ) -> None:
        self.session = session
        self.clock = clock
        self.documents = documents
        self.audit = AuditTrail(session, clock)

    @staticmethod
    def queued(scope: Scope) -> Select[PrintItem]:
        """Letters still to print, the oldest first (they have waited longest)."""
        return (
            scope.select(PrintItem)
            .where(PrintItem.status == PrintStatus.QUEUED)
            .order_by(PrintItem.created_at, PrintItem.id)
        )

    def claim_numbers(self, scope: Scope, items: Sequence[PrintItem]) -> dict[int, str]:
        """The claim numbers of a page of letters, in one query."""
        ids = {item.claim_id for item in items}
        if not ids:
            return {}
        rows = self.session.execute(
            scope.select(Claim).with_only_columns(Claim.id, Claim.number).where(Claim.id.in_(ids))
        )
        return {claim_id: number for claim_id, number in rows}

    def printed(self, scope: Scope) -> Sequence[Row[tuple[PrintItem, str, str | None]]]:
        """The letters printed most recently, with who printed them."""
        printer = aliased(User)
        return self.session.execute(
            scope.select(PrintItem)
            .where(PrintItem.status == PrintStatus.PRINTED)
            .join(Claim, Claim.id == PrintItem.claim_id)
            .outerjoin(printer, printer.id == PrintItem.printed_by_id)
            .add_columns(Claim.number, printer.full_name)
            .order_by(PrintItem.printed_at.desc(), PrintItem.id.desc())
            .limit(self.PRINTED_SHOWN)
        ).all()

    def _item(self, scope: Scope, item_id: int) -> PrintItem:
        item = scope.get(self.session, PrintItem, item_id)
        if item is None:
            raise NotFound(_l("No such letter in the print queue."))
        return item

    def read_letter(
        self, scope: Scope, user: User, item_id: int, *, request_id: str | None = None
    ) -> tuple[Document, bytes]:
        """The letter's PDF; the claim service checks the document and logs the download."""
        item = self._item(scope, item_id)
        return DraftingService(self.session, self.clock, self.documents).read_document(
            scope, user, item.claim_id, item.document_id, request_id=request_id
        )

    def mark_printed(self, scope: Scope, item_id: int) -> PrintItem:
        """Record who printed the letter and when, in the organisation's audit chain."""
        item = scope.get_for_update(
            self.session, PrintItem, item_id, missing=_l("No such letter in the print queue.")
        )
        if item.status is PrintStatus.PRINTED:
            # Two colleagues at the printer: the first one's mark stands.
            raise Conflict(_l("This letter has already been marked printed."))
        item.status = PrintStatus.PRINTED
        item.printed_by_id = scope.user_id
        item.printed_at = self.clock()
        self.audit.append(
            item.organisation_id,
            event="mark_printed",
            actor_id=scope.user_id,
            claim_id=item.claim_id,
            payload={
                "print_item_id": item.id,
                "document_id": item.document_id,
                "kind": item.kind,
            },
        )
        return item
