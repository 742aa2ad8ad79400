"""The review queue (issue 5 §5): what the import left to a person, matched or dismissed.

Finance books a sent payout against an unmatched debit by hand, or dismisses an entry that
is not ours to book (bank costs, another payment), with a reason; each is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from housing.accounts.models import User
from housing.audit.services import AuditTrail
from housing.clock import utcnow
from housing.db import DbSession
from housing.errors import Conflict, Forbidden, InvalidInput, NotFound
from housing.payments.claims_follow import follow_claims
from housing.payments.models import (
    PaymentBatch,
    PaymentBatchItem,
    Payout,
    StatementEntry,
    StatementEntryStatus,
)
from housing.payments.statements.lookups import SENT_BATCHES, fully_booked
from housing.payments.statements.matching import NOTE_LENGTH, cut
from housing.roles import Role
from housing.scoping import Scope
from housing.workflow import fire
from workflows.payments import BATCH, PAYOUT, BatchEvent, PayoutEvent, PayoutState
from workflows.rules import Actor

_REVIEW = (StatementEntryStatus.UNMATCHED, StatementEntryStatus.DUPLICATE)
_SYSTEM = Actor.system()


class ReviewQueue:
    """What the import left to a person: match by hand or dismiss, each audited."""

    def __init__(self, session: DbSession, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock
        self.audit = AuditTrail(session, clock)

    def unmatched(self, scope: Scope, *, limit: int | None = None) -> Sequence[StatementEntry]:
        """Unmatched entries and flagged duplicates, oldest first."""
        _require_finance(scope)
        query = (
            scope.select(StatementEntry)
            .where(StatementEntry.status.in_(_REVIEW))
            .order_by(StatementEntry.booking_date, StatementEntry.id)
        )
        if limit is not None:
            query = query.limit(limit)
        return self.session.scalars(query).all()

    def open_amount(self, entry: StatementEntry) -> Decimal:
        """What of the entry is not yet booked against a payout."""
        booked = self.session.scalar(
            select(func.coalesce(func.sum(PaymentBatchItem.amount), 0)).where(
                PaymentBatchItem.booked_entry_id == entry.id
            )
        )
        return entry.amount - Decimal(booked or 0)

    def match_by_hand(
        self, scope: Scope, user: User, entry_id: int, payout_id: int, reason: str
    ) -> StatementEntry:
        """Book a sent payout against an unmatched debit of the same amount."""
        _require_finance(scope, user)
        reason = _reason(reason)
        entry = scope.get_for_update(
            self.session, StatementEntry, entry_id, missing=_l("No such statement entry.")
        )
        if entry.status is not StatementEntryStatus.UNMATCHED:
            raise Conflict(_l("This entry is not waiting to be matched."))
        if entry.credit:
            raise InvalidInput(
                _l("Only a debit is matched to a payout; dismiss a credit with a note."),
                field_errors={"entry_id": [_l("This entry is a credit.")]},
            )
        payout = scope.get_for_update(
            self.session, Payout, payout_id, missing=_l("No such payout.")
        )
        if payout.organisation_id != entry.organisation_id:
            raise NotFound(_l("No such payout."))
        if payout.state != PayoutState.SENT:
            raise Conflict(
                _l(
                    "Only a payout that was sent can be booked; this one is %(state)s.",
                    state=payout.state,
                )
            )
        open_amount = self.open_amount(entry)
        if payout.amount != open_amount:
            message = _l(
                "The amounts disagree: %(entry)s on the statement, %(payout)s for the payout.",
                entry=open_amount,
                payout=payout.amount,
            )
            raise InvalidInput(message, field_errors={"payout_id": [message]})
        item = self.session.scalars(
            select(PaymentBatchItem)
            .join(PaymentBatch, PaymentBatch.id == PaymentBatchItem.batch_id)
            .where(
                PaymentBatchItem.payout_id == payout.id,
                PaymentBatchItem.booked_entry_id.is_(None),
                PaymentBatch.state.in_(SENT_BATCHES),
            )
            .order_by(PaymentBatchItem.id.desc())
            .limit(1)
            .with_for_update(of=PaymentBatchItem)
        ).first()
        if item is None:  # sent means released in a batch: a broken invariant, not input
            raise Conflict(_l("This payout is not in a released batch."))
        previous_note = entry.note
        # `book` is the system's event: the statement shows the debit. The user only says
        # which payout it was, and is recorded as the actor in the audit link.
        fire(
            self.audit,
            PAYOUT,
            payout,
            PayoutEvent.BOOK,
            user=user,
            actor=_SYSTEM,
            reason=reason,
            payload={
                "end_to_end_id": item.end_to_end_id,
                "statement_entry_id": entry.id,
                "by_hand": True,
                "queue_note": previous_note,
            },
        )
        item.booked_entry_id = entry.id
        entry.status = StatementEntryStatus.MATCHED
        entry.note = cut(reason, NOTE_LENGTH)
        entry.resolved_by_id = user.id
        entry.resolved_at = self.clock()
        self.session.flush()
        for batch in fully_booked(self.session, [item.batch_id]):
            fire(
                self.audit,
                BATCH,
                batch,
                BatchEvent.BOOK,
                user=user,
                actor=_SYSTEM,
                payload={"sha256": batch.file_sha256},
            )
        self.session.flush()
        follow_claims(self.session, [payout.claim_id], self.clock)
        return entry

    def dismiss(self, scope: Scope, user: User, entry_id: int, reason: str) -> StatementEntry:
        """Close an entry that is not ours to book (bank costs, another payment), with why."""
        _require_finance(scope, user)
        reason = _reason(reason)
        entry = scope.get_for_update(
            self.session, StatementEntry, entry_id, missing=_l("No such statement entry.")
        )
        if entry.status not in _REVIEW:
            raise Conflict(_l("This entry is not in the review queue."))
        previous = entry.status
        previous_note = entry.note
        entry.status = StatementEntryStatus.DISMISSED
        entry.note = cut(reason, NOTE_LENGTH)
        entry.resolved_by_id = user.id
        entry.resolved_at = self.clock()
        self.session.flush()
        self.audit.append(
            entry.organisation_id,
            event="statement_entry_dismiss",
            actor_id=user.id,
            reason=reason,
            payload={
                "statement_entry_id": entry.id,
                "from": previous.value,
                "to": entry.status.value,
                "queue_note": previous_note,
            },
        )
        return entry


def _require_finance(scope: Scope, user: User | None = None) -> None:
    if user is not None and scope.user_id != user.id:
        raise Forbidden(_l("Your role does not allow this step."))
    if Role.FINANCE not in scope.roles or scope.organisation_id is None:
        raise Forbidden(_l("Your role does not allow this step."))


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        message = _l("Give a reason.")
        raise InvalidInput(message, field_errors={"reason": [message]})
    return text
