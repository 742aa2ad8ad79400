"""Payout use cases (issue 5 §1–3): request, check under dual control, correct, give up.

Each is one unit of work: lock, fire the workflow through `housing.workflow` (which audits
it), record, flush; the caller commits. Closing what is left of a grant is
`housing.payments.remainder`; batches are `housing.payments.batches`; the periods of a
recurring measure are `housing.payments.recurring`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from housing.accounts.models import User
from housing.audit.services import AuditTrail
from housing.claims.models import Claim, Document, DocumentKind, MeasureLine, Recurrence
from housing.clock import today, utcnow
from housing.dates import EVIDENCE_FROM, parse_day
from housing.db import DbSession
from housing.errors import Conflict, NotFound
from housing.inputs import column_length
from housing.money import invalid, parse_money
from housing.organisations.services import parse_bic, parse_iban
from housing.payments.claims_follow import follow_claims
from housing.payments.models import (
    LIVE_STATES,
    PAYABLE_CLAIM_STATES,
    UNDECIDED_STATES,
    ApprovalLimit,
    Payout,
    RemainderClosure,
)
from housing.payments.permissions import (
    may_request_payout,
    may_set_approval_limits,
    payout_kind_for,
)
from housing.payments.recurring import period_start_of
from housing.payments.remainder import RemainderClosing
from housing.permissions import actor_for, require
from housing.roles import Role
from housing.scoping import Scope
from housing.workflow import fire
from workflows.payments import PAYOUT, PaymentContext, PayoutState

__all__ = [
    "LIVE_STATES",
    "PAYABLE_CLAIM_STATES",
    "UNDECIDED_STATES",
    "PayoutInput",
    "PayoutService",
]


@dataclass(frozen=True)
class PayoutInput:
    measure_line_id: int
    payee_name: str
    payee_iban: str
    amount: Any
    vat_amount: Any
    invoice_number: str
    invoice_date: Any
    payee_bic: str | None = None
    document_id: int | None = None
    # For a recurring measure (alarm monitoring): the first day of the period it pays.
    period_start: Any = None


class PayoutService(RemainderClosing):
    def __init__(self, session: DbSession, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock
        self.audit = AuditTrail(session, clock)

    def today(self) -> dt.date:
        return today(self.clock)

    # --- requests -----------------------------------------------------------------------
    def request(self, scope: Scope, user: User, claim_id: int, data: PayoutInput) -> Payout:
        """Regime A: the applicant's receipt, repaid to them; B: a supplier invoice."""
        claim = scope.get(self.session, Claim, claim_id)
        if claim is None:
            raise NotFound(_l("No such claim."))
        actor = actor_for(self.session, user)
        require(may_request_payout(actor, claim))
        kind = payout_kind_for(actor, claim)
        assert kind is not None  # may_request_payout said so
        if claim.state not in PAYABLE_CLAIM_STATES:
            raise Conflict(_l("Payouts are requested for granted claims only."))
        if self.session.get(RemainderClosure, claim.id) is not None:
            raise Conflict(_l("Finance closed the payments of this claim: nothing more is paid."))
        # The line is locked: two requests at once cannot both spend its last euro.
        line = self.session.scalars(
            select(MeasureLine)
            .where(MeasureLine.id == data.measure_line_id, MeasureLine.claim_id == claim.id)
            .with_for_update(of=MeasureLine)
        ).one_or_none()
        if line is None:
            raise invalid("measure_line_id", _l("Choose a measure of this claim."))
        amount = parse_money(data.amount, "amount")
        vat = parse_money(data.vat_amount, "vat_amount")
        if amount <= 0:
            raise invalid("amount", _l("The amount must be more than zero."))
        if vat > amount:
            raise invalid("vat_amount", _l("The VAT cannot exceed the amount including VAT."))
        period = self._period(line, data.period_start)
        remaining = self.unpaid(line, period)
        if amount > remaining:
            raise invalid(
                "amount",
                _l(
                    "This is more than what is granted and not yet paid for this measure"
                    " (%(left)s).",
                    left=f"{remaining:.2f}",
                ),
            )
        iban = parse_iban(data.payee_iban, "payee_iban")
        bic = parse_bic(data.payee_bic, iban, "payee_bic")
        name = _payee_name(data.payee_name)
        number = data.invoice_number.strip()
        if not number or len(number) > column_length(Payout.invoice_number):
            raise invalid(
                "invoice_number",
                _l(
                    "Give the invoice number (at most %(n)d characters).",
                    n=column_length(Payout.invoice_number),
                ),
            )
        invoice_date = parse_day(data.invoice_date, "invoice_date", earliest=EVIDENCE_FROM)
        if invoice_date > self.today():
            raise invalid("invoice_date", _l("The invoice date cannot be in the future."))
        if self._invoice_known(claim.organisation_id, iban, number):
            raise invalid("invoice_number", _l("This invoice of this payee is already recorded."))
        if data.document_id is not None:
            document = self.session.get(Document, data.document_id)
            if (
                document is None
                or document.claim_id != claim.id
                or document.kind is not DocumentKind.INVOICE
            ):
                raise invalid("document_id", _l("Choose an invoice of this claim."))
        payout = Payout(
            organisation_id=claim.organisation_id,
            claim_id=claim.id,
            measure_line_id=line.id,
            kind=kind,
            state=PayoutState.REQUESTED,
            payee_name=name,
            payee_iban=iban,
            payee_bic=bic,
            amount=amount,
            vat_amount=vat,
            invoice_number=number,
            invoice_date=invoice_date,
            document_id=data.document_id,
            requested_by_id=user.id,
            period_start=period,
        )
        self.session.add(payout)
        self.session.flush()
        self._audit(payout, "payout_requested", user, {"amount": amount, "kind": kind})
        return payout

    def unpaid(self, line: MeasureLine, period_start: dt.date | None = None) -> Decimal:
        """Granted for the line (for a recurring one: per period) and not yet taken."""
        taken = self.session.scalar(
            select(func.coalesce(func.sum(Payout.amount), 0)).where(
                Payout.measure_line_id == line.id,
                Payout.state.in_(LIVE_STATES),
                Payout.period_start == period_start
                if period_start is not None
                else Payout.period_start.is_(None),
            )
        )
        return (line.granted_amount or Decimal("0")) - Decimal(taken or 0)

    def _period(self, line: MeasureLine, value: Any) -> dt.date | None:
        """The period a payout of a recurring line pays for; none for a one-off line."""
        if line.recurrence is Recurrence.ONE_OFF:
            if value not in (None, ""):
                raise invalid("period_start", _l("This measure does not recur."))
            return None
        if value in (None, ""):
            raise invalid("period_start", _l("Give the period this payment is for."))
        return period_start_of(parse_day(value, "period_start"), line.recurrence)

    def _invoice_known(self, organisation_id: int, iban: str, number: str) -> bool:
        return bool(
            self.session.scalar(
                select(func.count())
                .select_from(Payout)
                .where(
                    Payout.organisation_id == organisation_id,
                    Payout.payee_iban == iban,
                    Payout.invoice_number == number,
                    Payout.state.in_(LIVE_STATES),
                )
            )
        )

    # --- the finance check ---------------------------------------------------------------
    def limit_of(self, user: User) -> Decimal:
        """The user's approval limit; none recorded means every approval needs a second."""
        limit = self.session.get(ApprovalLimit, user.id)
        return limit.amount if limit is not None else Decimal("0.00")

    def decide(
        self,
        scope: Scope,
        user: User,
        payout_id: int,
        event: str,
        *,
        reason: str | None = None,
        correction: dict[str, Any] | None = None,
    ) -> Payout:
        """Approve, reject, cancel or correct (after a return) one payout."""
        if event not in {"approve", "reject", "cancel", "correct"}:
            raise invalid("event", _l("Unknown event %(event)s.", event=event))
        payout = scope.get_for_update(
            self.session, Payout, payout_id, missing=_l("No such payout.")
        )
        if event == "correct":
            self._apply_correction(payout, correction or {})

        def record_decision() -> None:
            payout.decision_reason = (reason or "").strip() or payout.decision_reason
            if event == "correct":
                payout.return_reason_code = None
                payout.return_reason = None

        fire(
            self.audit,
            PAYOUT,
            payout,
            event,
            user=user,
            context=PaymentContext(approval_limit=self.limit_of(user), reason=reason),
            reason=reason,
            effects=record_decision,
        )
        if event in ("reject", "cancel"):
            closure = self.session.get(RemainderClosure, payout.claim_id)
            if closure is not None and closure.budget_year is not None:
                # Given up after the rest was closed (the bank returned it): what it stood
                # for goes back to the budget too.
                self._release(closure, payout.amount)
            # The last payout under way given up may be what the claim waited for (its
            # remainder closed): it is settled now.
            self.session.flush()
            follow_claims(self.session, [payout.claim_id], clock=self.clock)
        return payout

    def _apply_correction(self, payout: Payout, correction: dict[str, Any]) -> None:
        iban = parse_iban(str(correction.get("payee_iban", "")), "payee_iban")
        if iban == payout.payee_iban:
            raise invalid("payee_iban", _l("Give the new IBAN: the bank returned this one."))
        payout.payee_iban = iban
        payout.payee_bic = parse_bic(correction.get("payee_bic"), iban, "payee_bic")
        name = _payee_name(correction.get("payee_name") or payout.payee_name)
        payout.payee_name = name

    def set_limit(self, scope: Scope, admin: User, user_id: int, amount: Any) -> ApprovalLimit:
        """The administrator delegates payment approval up to an amount."""
        require(may_set_approval_limits(actor_for(self.session, admin)))
        finance_user = scope.get(self.session, User, user_id)
        if finance_user is None or Role.FINANCE not in finance_user.roles:
            raise NotFound(_l("No such finance user."))
        value = parse_money(amount, "amount")
        limit = self.session.get(ApprovalLimit, user_id) or ApprovalLimit(
            user_id=user_id, organisation_id=finance_user.organisation_id
        )
        limit.amount = value
        self.session.add(limit)
        self.session.flush()
        self.audit.append(
            finance_user.organisation_id,
            event="approval_limit_set",
            actor_id=admin.id,
            payload={"user_id": user_id, "amount": value},
        )
        return limit

    def _audit(
        self,
        payout: Payout,
        event: str,
        user: User | None,
        payload: dict[str, Any],
        reason: str | None = None,
    ) -> None:
        self.audit.append(
            payout.organisation_id,
            event=event,
            actor_id=user.id if user else None,
            claim_id=payout.claim_id,
            reason=reason,
            payload={"payout_id": payout.id, **payload},
        )


def _payee_name(value: Any) -> str:
    name = str(value).strip()
    if not name or len(name) > column_length(Payout.payee_name):
        raise invalid(
            "payee_name",
            _l(
                "Give the payee's name (at most %(n)d characters).",
                n=column_length(Payout.payee_name),
            ),
        )
    return name
