"""Read models of the finance pages, the claim page and the API (issue 5 §7–8).

Reads only, with one exception: `export_payouts` records in the audit trail who took the
payees' accounts out of the system. Every query is bounded by the caller's scope, and each
list is a fixed number of queries whatever its length (no lazy loads per row).

Nothing here decides: who may approve, pay or correct stays with `PayoutService` and
`BatchService`; the flags computed here only tell the page what the service will say.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import aliased, object_session

from housing.accounts.models import User, UserRole
from housing.audit.services import AuditTrail
from housing.claims.models import Claim, Decision, DecisionKind, MeasureLine
from housing.clock import AMSTERDAM, utcnow
from housing.db import DbSession
from housing.errors import InvalidInput
from housing.organisations.models import Budget, MeasureCatalogue
from housing.payments.models import (
    LIVE_STATES,
    PAYABLE_CLAIM_STATES,
    ApprovalLimit,
    PaymentBatch,
    PaymentBatchItem,
    Payout,
    PayoutKind,
)
from housing.payments.permissions import payout_kind_for as kind_for_actor
from housing.payments.statement_queries import review_query
from housing.permissions import actor_for
from housing.roles import Role
from housing.scoping import Scope
from workflows.claim import ClaimState
from workflows.payments import BatchState, PayoutState

# Finance checks these, oldest first; a payout above one approver's limit waits for a second.
TO_CHECK_STATES = (PayoutState.REQUESTED, PayoutState.FIRST_APPROVED)
# The claim page shows the payouts of claims that are, or were, in payment.
PAYOUT_CLAIM_STATES = (*PAYABLE_CLAIM_STATES, ClaimState.SETTLED)


def mask_iban(iban: str) -> str:
    """All but the last four characters hidden: enough to recognise one's own account."""
    return f"•••• {iban[-4:]}" if len(iban) > 4 else "••••"


# --- the claim page -----------------------------------------------------------------------
def offered_payout_kind(claim: Claim, user: User) -> PayoutKind | None:
    """The payout request the claim page offers this user, as `PayoutService.request` decides.

    Shown on the page only to offer the form; the service checks it again.
    """
    if claim.state not in PAYABLE_CLAIM_STATES:
        return None
    session = object_session(claim)
    assert session is not None  # a claim the page loaded
    return kind_for_actor(actor_for(session, user), claim)


def unpaid_by_line(session: DbSession, claim: Claim) -> dict[int, Decimal]:
    """`PayoutService.unpaid` for every line of the claim, in one query."""
    taken = dict(
        session.execute(
            select(Payout.measure_line_id, func.sum(Payout.amount))
            .where(Payout.claim_id == claim.id, Payout.state.in_(LIVE_STATES))
            .group_by(Payout.measure_line_id)
        ).all()
    )
    return {
        line.id: (line.granted_amount or Decimal("0.00")) - Decimal(taken.get(line.id) or 0)
        for line in claim.lines
    }


def claim_payouts(session: DbSession, scope: Scope, claim_id: int) -> Sequence[Payout]:
    return session.scalars(
        scope.select(Payout).where(Payout.claim_id == claim_id).order_by(Payout.id)
    ).all()


# --- payouts to check -----------------------------------------------------------------------
@dataclass(frozen=True)
class PayoutRow:
    """A payout with what the finance pages show beside it."""

    payout: Payout
    claim_number: str
    measure_code: str
    requested_by: str | None
    first_approved_by: str | None
    # What the workflow will say to this user, shown before they click.
    recorded_by_me: bool
    first_approved_by_me: bool
    needs_second_approval: bool


def _rows(session: DbSession, query: Select[Payout], user: User, limit: Decimal) -> list[PayoutRow]:
    requester = aliased(User)
    first = aliased(User)
    rows = session.execute(
        query.add_columns(Claim.number, MeasureCatalogue.code, requester.full_name, first.full_name)
        .join(Claim, Claim.id == Payout.claim_id)
        .join(MeasureLine, MeasureLine.id == Payout.measure_line_id)
        .join(MeasureCatalogue, MeasureCatalogue.id == MeasureLine.catalogue_id)
        .outerjoin(requester, requester.id == Payout.requested_by_id)
        .outerjoin(first, first.id == Payout.first_approved_by_id)
    ).all()
    return [
        PayoutRow(
            payout=payout,
            claim_number=number,
            measure_code=code,
            requested_by=requested_by,
            first_approved_by=first_approved_by,
            recorded_by_me=payout.requested_by_id == user.id,
            first_approved_by_me=payout.first_approved_by_id == user.id,
            # Above the limit the first approval only counts once; a second one is due.
            needs_second_approval=payout.state == PayoutState.FIRST_APPROVED
            or payout.amount > limit,
        )
        for payout, number, code, requested_by, first_approved_by in rows
    ]


def count_to_check(session: DbSession, scope: Scope) -> int:
    return count_of(session, scope.select(Payout).where(Payout.state.in_(TO_CHECK_STATES)))


def payouts_to_check(
    session: DbSession, scope: Scope, user: User, limit: Decimal, *, offset: int, size: int
) -> list[PayoutRow]:
    """Requested and first-approved payouts, the oldest first."""
    query = (
        scope.select(Payout)
        .where(Payout.state.in_(TO_CHECK_STATES))
        .order_by(Payout.created_at, Payout.id)
        .offset(offset)
        .limit(size)
    )
    return _rows(session, query, user, limit)


def returned_payouts(
    session: DbSession, scope: Scope, user: User, *, size: int = 100
) -> list[PayoutRow]:
    """Payouts the bank sent back: they wait for a new account."""
    query = (
        scope.select(Payout)
        .where(Payout.state == PayoutState.RETURNED)
        .order_by(Payout.created_at, Payout.id)
        .limit(size)
    )
    return _rows(session, query, user, Decimal("0.00"))


def payout_row(session: DbSession, scope: Scope, user: User, payout_id: int) -> PayoutRow | None:
    """One payout of the scope with what its confirmation page shows; None: not in scope."""
    rows = _rows(session, scope.select(Payout).where(Payout.id == payout_id), user, Decimal(0))
    return rows[0] if rows else None


def count_of(session: DbSession, query: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


# --- batches -----------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchRow:
    batch: PaymentBatch
    created_by: str | None
    approved_by: str | None
    released_by: str | None


def _batch_rows(session: DbSession, query: Select[PaymentBatch]) -> list[BatchRow]:
    creator, approver, releaser = aliased(User), aliased(User), aliased(User)
    rows = session.execute(
        query.add_columns(creator.full_name, approver.full_name, releaser.full_name)
        .outerjoin(creator, creator.id == PaymentBatch.created_by_id)
        .outerjoin(approver, approver.id == PaymentBatch.approved_by_id)
        .outerjoin(releaser, releaser.id == PaymentBatch.released_by_id)
    ).all()
    return [BatchRow(batch, *names) for batch, *names in rows]


def count_batches(session: DbSession, scope: Scope) -> int:
    return count_of(session, scope.select(PaymentBatch))


def batches(session: DbSession, scope: Scope, *, offset: int, size: int) -> list[BatchRow]:
    """The organisation's batches, the newest first."""
    query = (
        scope.select(PaymentBatch)
        .order_by(PaymentBatch.created_at.desc(), PaymentBatch.id.desc())
        .offset(offset)
        .limit(size)
    )
    return _batch_rows(session, query)


def batch(session: DbSession, scope: Scope, batch_id: int) -> BatchRow | None:
    found = _batch_rows(session, scope.select(PaymentBatch).where(PaymentBatch.id == batch_id))
    return found[0] if found else None


@dataclass(frozen=True)
class BatchItemRow:
    item: PaymentBatchItem
    claim_number: str
    payout_state: str
    claim_id: int


def batch_items(session: DbSession, batch_id: int) -> list[BatchItemRow]:
    """The items of a batch the caller has already found in their scope."""
    rows = session.execute(
        select(PaymentBatchItem, Claim.number, Payout.state, Claim.id)
        .join(Payout, Payout.id == PaymentBatchItem.payout_id)
        .join(Claim, Claim.id == Payout.claim_id)
        .where(PaymentBatchItem.batch_id == batch_id)
        .order_by(PaymentBatchItem.id)
    ).all()
    return [BatchItemRow(*row) for row in rows]


def count_approved(session: DbSession, scope: Scope) -> int:
    """Approved payouts waiting for a batch (what a build would take)."""
    return count_of(session, scope.select(Payout).where(Payout.state == PayoutState.APPROVED))


def check_execution_date(value: dt.date | None, today: dt.date) -> dt.date:
    """The day the bank is to pay: today when not given, never in the past."""
    if value is None:
        return today
    if value < today:
        message = _l("The execution date cannot be in the past.")
        raise InvalidInput(message, field_errors={"execution_date": [message]})
    return value


@dataclass(frozen=True)
class FinanceSummary:
    to_check: int
    returned: int
    approved: int
    batches_to_approve: int
    batches_to_release: int
    entries_to_review: int


def finance_summary(session: DbSession, scope: Scope) -> FinanceSummary:
    """What waits for finance, for the start page: three grouped counts, one query each."""
    payouts = dict(
        session.execute(
            select(Payout.state, func.count())
            .where(*scope.criteria(Payout))
            .where(Payout.state.in_([*TO_CHECK_STATES, PayoutState.RETURNED, PayoutState.APPROVED]))
            .group_by(Payout.state)
        ).all()
    )
    batches = dict(
        session.execute(
            select(PaymentBatch.state, func.count())
            .where(*scope.criteria(PaymentBatch))
            .where(PaymentBatch.state.in_([BatchState.OPEN, BatchState.APPROVED]))
            .group_by(PaymentBatch.state)
        ).all()
    )
    return FinanceSummary(
        to_check=sum(payouts.get(state, 0) for state in TO_CHECK_STATES),
        returned=payouts.get(PayoutState.RETURNED, 0),
        approved=payouts.get(PayoutState.APPROVED, 0),
        batches_to_approve=batches.get(BatchState.OPEN, 0),
        batches_to_release=batches.get(BatchState.APPROVED, 0),
        entries_to_review=count_of(session, review_query(scope)),
    )


# --- the CSV export ------------------------------------------------------------------------
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection):
# a payee called "=HYPERLINK(...)" must stay text. Tab and carriage return too (OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

EXPORT_HEADER = (
    _l("Claim"),
    _l("Measure"),
    _l("Payee"),
    _l("IBAN"),
    _l("Amount incl. VAT"),
    _l("VAT"),
    _l("Invoice number"),
    _l("Invoice date"),
    _l("Status"),
    _l("Batch (MsgId)"),
    _l("Booked"),
)


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def export_payouts(
    session: DbSession,
    scope: Scope,
    user: User,
    start: dt.date,
    end: dt.date,
    *,
    state_label: Callable[[str], str] = str,
    yes_no: tuple[str, str] = ("yes", "no"),
    clock: Callable[[], dt.datetime] = utcnow,
) -> list[list[str]]:
    """The rows of the payouts export, by invoice date from `start` to `end` inclusive.

    By invoice date, not by when we recorded the payout: the period an expense belongs to
    in the books and for VAT is the invoice's. No address, nor anything else about the
    home: only what a payment needs (DOMAIN.md §6). The export is audited: it carries
    payees' names and accounts out of the system.
    """
    if end < start:
        message = _l("The end of the period lies before its start.")
        raise InvalidInput(message, field_errors={"to": [message]})
    # The batch a payout last travelled in; a cancelled batch never left, so it does not count.
    live_item = (
        select(PaymentBatchItem.payout_id, func.max(PaymentBatchItem.id).label("item_id"))
        .join(PaymentBatch, PaymentBatch.id == PaymentBatchItem.batch_id)
        .where(PaymentBatch.state != BatchState.CANCELLED)
        .group_by(PaymentBatchItem.payout_id)
        .subquery()
    )
    query = (
        scope.select(Payout)
        .add_columns(Claim.number, MeasureCatalogue.code, PaymentBatch.msg_id)
        .join(Claim, Claim.id == Payout.claim_id)
        .join(MeasureLine, MeasureLine.id == Payout.measure_line_id)
        .join(MeasureCatalogue, MeasureCatalogue.id == MeasureLine.catalogue_id)
        .outerjoin(live_item, live_item.c.payout_id == Payout.id)
        .outerjoin(PaymentBatchItem, PaymentBatchItem.id == live_item.c.item_id)
        .outerjoin(PaymentBatch, PaymentBatch.id == PaymentBatchItem.batch_id)
        .where(Payout.invoice_date >= start, Payout.invoice_date <= end)
        .order_by(Payout.invoice_date, Payout.id)
    )
    rows = session.execute(query).all()
    assert scope.organisation_id is not None
    AuditTrail(session, clock).append(
        scope.organisation_id,
        event="payouts_exported",
        actor_id=user.id,
        payload={"from": start.isoformat(), "to": end.isoformat(), "rows": len(rows)},
    )
    header = [safe_cell(str(title)) for title in EXPORT_HEADER]
    return [
        header,
        *(
            [
                safe_cell(cell)
                for cell in (
                    number,
                    code,
                    payout.payee_name,
                    payout.payee_iban,
                    f"{payout.amount:.2f}",
                    f"{payout.vat_amount:.2f}",
                    payout.invoice_number,
                    payout.invoice_date.isoformat(),
                    state_label(payout.state),
                    msg_id or "",
                    yes_no[0] if payout.state == PayoutState.BOOKED else yes_no[1],
                )
            ]
            for payout, number, code, msg_id in rows
        ),
    ]


# --- budget committed versus paid ---------------------------------------------------------
@dataclass(frozen=True)
class BudgetYear:
    year: int
    amount: Decimal | None  # None: payouts for the year's grants, but no budget on record
    committed: Decimal
    # Paid: booked, i.e. the bank statement shows the money left. Sent: in a released
    # batch, not yet on a statement. Counted by the year of the claim's grant, which is the
    # year whose budget the grant committed.
    paid: Decimal
    sent: Decimal

    @property
    def remaining(self) -> Decimal | None:
        return None if self.amount is None else self.amount - self.committed

    @property
    def committed_unpaid(self) -> Decimal:
        return self.committed - self.paid - self.sent


def _year_of(moment: dt.datetime) -> int:
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; they are UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(AMSTERDAM).year


def budget_overview(session: DbSession, scope: Scope) -> list[BudgetYear]:
    """Per year: the budget, what grants committed, and what was paid against them."""
    return budget_years(
        session,
        budgets=scope.select(Budget),
        claims=scope.criteria(Claim),
        payouts=scope.criteria(Payout),
    )


def budget_years(
    session: DbSession,
    *,
    budgets: Select[Budget],
    claims: Sequence[ColumnElement[bool]],
    payouts: Sequence[ColumnElement[bool]],
) -> list[BudgetYear]:
    """The budget table of the budgets, claims and payouts selected, in three queries."""
    by_year = {b.year: b for b in session.scalars(budgets)}
    visible_claims = select(Claim.id).where(*claims)
    # The grant commits the budget of the year it is taken in (ClaimService), in Amsterdam.
    granted_on = dict(
        session.execute(
            select(Decision.claim_id, func.min(Decision.decided_at))
            .where(
                Decision.kind.in_([DecisionKind.GRANT, DecisionKind.PARTIAL_GRANT]),
                Decision.decided_at.is_not(None),
                Decision.claim_id.in_(visible_claims),
            )
            .group_by(Decision.claim_id)
        ).all()
    )
    sums = session.execute(
        select(Payout.claim_id, Payout.state, func.sum(Payout.amount))
        .where(*payouts)
        .where(Payout.state.in_([PayoutState.SENT, PayoutState.BOOKED]))
        .group_by(Payout.claim_id, Payout.state)
    ).all()
    paid: dict[int, Decimal] = {}
    sent: dict[int, Decimal] = {}
    for claim_id, state, total in sums:
        moment = granted_on.get(claim_id)
        if moment is None:
            continue
        target = paid if state == PayoutState.BOOKED else sent
        year = _year_of(moment)
        target[year] = target.get(year, Decimal("0.00")) + Decimal(total)
    years = sorted(set(by_year) | set(paid) | set(sent), reverse=True)
    return [
        BudgetYear(
            year=year,
            amount=by_year[year].amount if year in by_year else None,
            committed=by_year[year].committed if year in by_year else Decimal("0.00"),
            paid=paid.get(year, Decimal("0.00")),
            sent=sent.get(year, Decimal("0.00")),
        )
        for year in years
    ]


def finance_users(session: DbSession, scope: Scope) -> list[tuple[User, Decimal | None]]:
    """The organisation's active finance users and their approval limits (None: not set)."""
    return [
        (user, amount)
        for user, amount in session.execute(
            scope.select(User)
            .add_columns(ApprovalLimit.amount)
            .outerjoin(ApprovalLimit, ApprovalLimit.user_id == User.id)
            .where(
                User.active.is_(True),
                User.id.in_(select(UserRole.user_id).where(UserRole.role == Role.FINANCE)),
            )
            .order_by(User.full_name, User.id)
        ).all()
    ]
