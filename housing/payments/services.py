"""Payout use cases (issue 5 §1–3): request, check under dual control, batch, release.

Each is one unit of work: lock, fire the workflow, record, audit, flush; the caller
commits. Nothing is paid twice: a payout sits in at most one live batch, its EndToEndId is
unique, a released batch's file is frozen (bytes and SHA-256), and a repeated or
concurrent release returns that same batch without a second file or a second set of ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from housing.accounts.models import User
from housing.audit.services import AuditTrail
from housing.claims.base import locked_claim
from housing.claims.models import (
    Claim,
    Decision,
    DecisionKind,
    Document,
    DocumentKind,
    MeasureLine,
    Recurrence,
)
from housing.clock import AMSTERDAM, today, utcnow
from housing.crypto import active_cipher
from housing.errors import Conflict, Forbidden, InvalidInput, NotFound
from housing.money import invalid, parse_money
from housing.organisations.models import Budget, Organisation
from housing.organisations.services import parse_bic, parse_iban
from housing.payments.claims_follow import follow_claims, queue_follow_claims
from housing.payments.models import (
    ApprovalLimit,
    PaymentBatch,
    PaymentBatchItem,
    Payout,
    PayoutKind,
    RemainderClosure,
)
from housing.payments.pain import BatchFile, Debtor, PainError, Transfer, build_pain001
from housing.roles import Role
from housing.scoping import Scope
from workflows.claim import ClaimState
from workflows.payments import (
    BatchState,
    InvalidPaymentTransition,
    PaymentContext,
    PaymentRuleViolation,
    PayoutState,
    fire_batch,
    fire_payout,
)
from workflows.rules import Actor, Regime, granted_total

# What still counts against a line's grant: everything but the refused and the withdrawn.
# A returned payout counts too: it is paid again once its IBAN is corrected.
LIVE_STATES = tuple(
    s.value for s in PayoutState if s not in (PayoutState.REJECTED, PayoutState.CANCELLED)
)
PAYABLE_CLAIM_STATES = (ClaimState.GRANTED.value, ClaimState.IN_PAYMENT.value)
# Payouts that must be decided before what is left of a grant can be closed: closing means
# nothing more is paid, so none may still be on its way to a batch. A sent payout may
# stand: the money has left, and the claim is settled once the statement books it.
UNDECIDED_STATES = (
    PayoutState.REQUESTED.value,
    PayoutState.FIRST_APPROVED.value,
    PayoutState.APPROVED.value,
    PayoutState.BATCHED.value,
    PayoutState.RETURNED.value,
)


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


def _actor(user: User | None) -> Actor:
    if user is None:
        return Actor.system()
    return Actor(user_id=user.id, roles=frozenset(role.value for role in user.roles))


def _refusal(exc: Exception) -> Exception:
    if isinstance(exc, PaymentRuleViolation):
        error = (
            Forbidden
            if exc.rule.value
            in {"role", "second_approver", "requester_approves", "releaser_approved"}
            else InvalidInput
        )
        return error(PAYMENT_RULE_MESSAGES[exc.rule.value], field_errors={"rule": [exc.rule.value]})
    assert isinstance(exc, InvalidPaymentTransition)
    return Conflict(_l("This is not possible now: it is %(state)s.", state=exc.state))


PAYMENT_RULE_MESSAGES = {
    "role": _l("Your role does not allow this step."),
    "approval_limit": _l("This amount is above your approval limit."),
    "second_approver": _l("Dual control: a second, different finance user approves."),
    "requester_approves": _l("Who recorded the invoice does not approve it."),
    "releaser_approved": _l("Dual control: a second, different finance user releases."),
    "reason_missing": _l("Give a reason."),
    "empty_batch": _l("An empty batch cannot be approved."),
}


class PayoutService:
    def __init__(self, session: Session, clock: Callable[[], dt.datetime] = utcnow) -> None:
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
        own = claim.office_holder_user_id == user.id
        if claim.regime is Regime.A and own and Role.APPLICANT in user.roles:
            kind = PayoutKind.REIMBURSEMENT
        elif claim.regime is Regime.B and not own and Role.ASSESSOR in user.roles:
            kind = PayoutKind.SUPPLIER
        else:
            raise Forbidden(
                _l(
                    "Under regime A the applicant sends in receipts; under regime B the"
                    " assessor records the supplier's invoices."
                )
            )
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
        name = data.payee_name.strip()
        if not name or len(name) > 140:
            raise invalid("payee_name", _l("Give the payee's name (at most 140 characters)."))
        number = data.invoice_number.strip()
        if not number or len(number) > 60:
            raise invalid("invoice_number", _l("Give the invoice number (at most 60 characters)."))
        invoice_date = _date(data.invoice_date, "invoice_date")
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
            state=PayoutState.REQUESTED.value,
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
        return (line.granted_amount or Decimal("0")) - Decimal(taken)

    def _period(self, line: MeasureLine, value: Any) -> dt.date | None:
        """The period a payout of a recurring line pays for; none for a one-off line."""
        if line.recurrence is Recurrence.ONE_OFF:
            if value not in (None, ""):
                raise invalid("period_start", _l("This measure does not recur."))
            return None
        if value in (None, ""):
            raise invalid("period_start", _l("Give the period this payment is for."))
        return period_start_of(_date(value, "period_start"), line.recurrence)

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
        payout = self._locked(scope, payout_id)
        if event == "correct":
            self._apply_correction(payout, correction or {})
        source = payout.state
        try:
            fire_payout(
                payout,
                event,
                actor=_actor(user),
                context=PaymentContext(approval_limit=self.limit_of(user), reason=reason),
            )
        except (PaymentRuleViolation, InvalidPaymentTransition) as exc:
            raise _refusal(exc) from None
        payout.decision_reason = (reason or "").strip() or payout.decision_reason
        if event == "correct":
            payout.return_reason_code = None
            payout.return_reason = None
        self._audit(
            payout, f"payout_{event}", user, {"from": source, "to": payout.state}, reason=reason
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

    def _locked_budget(self, organisation_id: int, year: int | None) -> Budget | None:
        if year is None:
            return None
        return self.session.scalars(
            select(Budget)
            .where(Budget.organisation_id == organisation_id, Budget.year == year)
            .with_for_update()
        ).one_or_none()

    def _release(self, closure: RemainderClosure, amount: Decimal) -> Decimal:
        """Give back to the closure's budget year up to `amount` of what it committed."""
        budget = self._locked_budget(closure.organisation_id, closure.budget_year)
        if budget is None:
            return Decimal("0.00")
        released = min(max(amount, Decimal("0.00")), budget.committed)
        budget.committed -= released
        closure.released += released
        return released

    def _apply_correction(self, payout: Payout, correction: dict[str, Any]) -> None:
        iban = parse_iban(str(correction.get("payee_iban", "")), "payee_iban")
        if iban == payout.payee_iban:
            raise invalid("payee_iban", _l("Give the new IBAN: the bank returned this one."))
        payout.payee_iban = iban
        payout.payee_bic = parse_bic(correction.get("payee_bic"), iban, "payee_bic")
        name = str(correction.get("payee_name") or payout.payee_name).strip()
        if not name or len(name) > 140:
            raise invalid("payee_name", _l("Give the payee's name (at most 140 characters)."))
        payout.payee_name = name

    # --- closing what is left -------------------------------------------------------------
    def close_remainder(
        self, scope: Scope, user: User, claim_id: int, *, reason: str | None
    ) -> RemainderClosure:
        """Finance closes what is granted and not yet paid, with a reason (issue 5 §6).

        Nothing more is paid on the claim; the part of the grant no payout stands for goes
        back to the budget of the year that committed it; the claim is settled once the
        payouts already sent are booked (at once when none is on its way).
        """
        if Role.FINANCE not in user.roles:
            raise Forbidden(_l("Only finance closes what is left of a grant."))
        claim = locked_claim(self.session, scope, claim_id)
        if claim.office_holder_user_id == user.id:
            raise Forbidden(_l("You cannot act on your own claim."))
        if claim.state not in PAYABLE_CLAIM_STATES:
            raise Conflict(_l("Only a granted claim that is not settled has a remainder to close."))
        if self.session.get(RemainderClosure, claim.id) is not None:
            raise Conflict(_l("What was left of this grant is closed already."))
        why = (reason or "").strip()
        if not why:
            raise invalid("reason", _l("Give the reason why the rest is not paid."))
        if len(why) > 2000:
            raise invalid("reason", _l("The reason is at most 2,000 characters."))
        undecided = self.session.scalar(
            select(func.count())
            .select_from(Payout)
            .where(Payout.claim_id == claim.id, Payout.state.in_(UNDECIDED_STATES))
        )
        if undecided:
            raise Conflict(
                _l(
                    "%(count)s payout(s) of this claim are not decided or not sent yet: approve"
                    " and pay, reject or cancel them first.",
                    count=undecided,
                )
            )
        standing = Decimal(
            self.session.scalar(
                select(func.coalesce(func.sum(Payout.amount), 0)).where(
                    Payout.claim_id == claim.id, Payout.state.in_(LIVE_STATES)
                )
            )
        )
        year = self._grant_year(claim.id)
        closure = RemainderClosure(
            claim_id=claim.id,
            organisation_id=claim.organisation_id,
            closed_by_id=user.id,
            closed_at=self.clock(),
            reason=why,
            released=Decimal("0.00"),
            budget_year=year if self._locked_budget(claim.organisation_id, year) else None,
        )
        # What the grant committed, less what payouts stand for; a recurring line committed
        # one period and may have paid many, so what is released is never below nothing,
        # and never more than the budget still holds as committed.
        self._release(closure, granted_total(claim.lines) - standing)
        self.session.add(closure)
        self.session.flush()
        self.audit.append(
            claim.organisation_id,
            event="remainder_closed",
            actor_id=user.id,
            claim_id=claim.id,
            reason=why,
            payload={"released": closure.released, "budget_year": closure.budget_year},
        )
        follow_claims(self.session, [claim.id], clock=self.clock)
        return closure

    def _grant_year(self, claim_id: int) -> int | None:
        """The year (in Amsterdam) whose budget the claim's grant committed."""
        moment = self.session.scalar(
            select(func.min(Decision.decided_at)).where(
                Decision.claim_id == claim_id,
                Decision.kind.in_([DecisionKind.GRANT, DecisionKind.PARTIAL_GRANT]),
            )
        )
        if moment is None:
            return None
        if moment.tzinfo is None:  # SQLite hands back naive datetimes; they are UTC
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(AMSTERDAM).year

    def set_limit(self, scope: Scope, admin: User, user_id: int, amount: Any) -> ApprovalLimit:
        """The administrator delegates payment approval up to an amount."""
        if Role.ADMIN not in admin.roles:
            raise Forbidden(_l("Only an administrator sets approval limits."))
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

    def _locked(self, scope: Scope, payout_id: int) -> Payout:
        payout = self.session.scalars(
            scope.select(Payout)
            .where(Payout.id == payout_id)
            .with_for_update(of=Payout)
            .execution_options(populate_existing=True)
        ).one_or_none()
        if payout is None:
            raise NotFound(_l("No such payout."))
        return payout

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


def period_start_of(day: dt.date, recurrence: Recurrence) -> dt.date:
    """Monthly periods start on the 1st; yearly ones on 1 January."""
    if recurrence is Recurrence.MONTHLY:
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def next_period(start: dt.date, recurrence: Recurrence) -> dt.date:
    if recurrence is Recurrence.MONTHLY:
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start.replace(year=start.year + 1)


class RecurringPayouts:
    """Each period of a recurring measure asks for its payout while the term lasts (§4).

    The first payout of the line, recorded by hand, names the payee; each later period gets
    a payout request of the line's granted amount to the same payee, once (its generated
    invoice number is unique per payee), until the office holder's term ends.
    """

    def __init__(self, session: Session, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock
        self.audit = AuditTrail(session, clock)

    def create_due(self, today: dt.date | None = None) -> int:
        today = today or today(self.clock)
        lines = self.session.execute(
            select(MeasureLine, Claim)
            .join(Claim, MeasureLine.claim_id == Claim.id)
            .where(
                MeasureLine.recurrence != Recurrence.ONE_OFF,
                MeasureLine.granted_amount > 0,
                Claim.state.in_(PAYABLE_CLAIM_STATES),
                # Finance closed what was left: no period is asked for any more.
                Claim.id.not_in(select(RemainderClosure.claim_id)),
            )
            .order_by(MeasureLine.id)
        ).all()
        created = 0
        # Two runs at once (two beats) cannot both create a period: the generated invoice
        # number is unique per payee, so the second run's transaction fails and changes
        # nothing; the next run finds the period done.
        for line, claim in lines:
            # The latest period asked for in any state: a period finance rejected or
            # cancelled is not asked for again behind their back.
            latest = self.session.scalars(
                select(Payout)
                .where(Payout.measure_line_id == line.id, Payout.period_start.is_not(None))
                .order_by(Payout.period_start.desc(), Payout.id.desc())
                .limit(1)
            ).one_or_none()
            if latest is None:
                continue  # nobody has named the payee yet: the first payout is by hand
            term_end = claim.office_holder.term_end
            period = next_period(latest.period_start, line.recurrence)
            while period <= today and (term_end is None or period <= term_end):
                self.session.add(
                    payout := Payout(
                        organisation_id=claim.organisation_id,
                        claim_id=claim.id,
                        measure_line_id=line.id,
                        kind=latest.kind,
                        state=PayoutState.REQUESTED.value,
                        payee_name=latest.payee_name,
                        payee_iban=latest.payee_iban,
                        payee_bic=latest.payee_bic,
                        amount=line.granted_amount,
                        vat_amount=min(latest.vat_amount, line.granted_amount),
                        invoice_number=f"PERIODE-{line.id}-{period:%Y-%m}",
                        invoice_date=period,
                        period_start=period,
                    )
                )
                self.session.flush()
                self.audit.append(
                    claim.organisation_id,
                    event="payout_requested",
                    actor_id=None,
                    claim_id=claim.id,
                    payload={"payout_id": payout.id, "period": period, "recurring": True},
                )
                created += 1
                period = next_period(period, line.recurrence)
        return created


def _date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise invalid(field, _l("Enter a date as yyyy-mm-dd.")) from None


class BatchService:
    def __init__(self, session: Session, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock
        self.audit = AuditTrail(session, clock)

    def build(
        self,
        scope: Scope,
        user: User,
        *,
        execution_date: dt.date,
        progress: Callable[[int, int], None] | None = None,
    ) -> PaymentBatch:
        """A new open batch of every approved payout of the organisation."""
        if Role.FINANCE not in user.roles:
            raise Forbidden(_l("Only finance builds payment batches."))
        organisation = self.session.get(Organisation, user.organisation_id)
        assert organisation is not None
        rows = self.session.execute(
            scope.select(Payout)
            .add_columns(Claim.number)
            .join(Claim, Payout.claim_id == Claim.id)
            .where(Payout.state == PayoutState.APPROVED.value)
            .order_by(Payout.id)
            # Two builds at once take disjoint payouts: a payout sits in one batch only.
            .with_for_update(of=Payout, skip_locked=True)
        ).all()
        if not rows:
            raise Conflict(_l("There are no approved payouts to pay."))
        # Ours, unique and at most 35 characters; fixed once the row has its id.
        batch = PaymentBatch(
            organisation_id=organisation.id,
            state=BatchState.OPEN.value,
            # Placeholders until the row has its id (the columns are unique and not null).
            msg_id=f"tmp-{secrets.token_hex(15)}",
            pmt_inf_id=f"tmp-{secrets.token_hex(15)}",
            pain_version=organisation.pain_version,
            execution_date=execution_date,
            created_by_id=user.id,
        )
        self.session.add(batch)
        self.session.flush()
        batch.msg_id = f"VW{organisation.id:04d}B{batch.id:08d}"
        batch.pmt_inf_id = f"VW{organisation.id:04d}B{batch.id:08d}-1"
        earlier = dict(
            self.session.execute(
                select(PaymentBatchItem.payout_id, func.count())
                .where(PaymentBatchItem.payout_id.in_([p.id for p, _ in rows]))
                .group_by(PaymentBatchItem.payout_id)
            ).all()
        )
        actor = _actor(user)
        items = []
        total = Decimal("0.00")
        for done, (payout, number) in enumerate(rows, start=1):
            fire_payout(payout, "add_to_batch", actor=actor)
            sent_before = earlier.get(payout.id, 0)
            # The claim number travels with the payment; a payout paid again after a
            # return or a cancelled batch gets a new id: a bank never sees one id twice.
            e2e = f"{number}-P{payout.id}" + (f"-R{sent_before}" if sent_before else "")
            items.append(
                PaymentBatchItem(
                    batch_id=batch.id,
                    payout_id=payout.id,
                    end_to_end_id=e2e,
                    amount=payout.amount,
                    payee_name=payout.payee_name,
                    payee_iban=payout.payee_iban,
                    payee_bic=payout.payee_bic,
                    remittance=f"Veilig Wonen {number} factuur {payout.invoice_number}"[:140],
                )
            )
            total += payout.amount
            if progress is not None and (done % 500 == 0 or done == len(rows)):
                progress(done, len(rows))
        self.session.add_all(items)
        batch.item_count = len(items)
        batch.total = total
        self.session.flush()
        self.audit.append(
            organisation.id,
            event="batch_built",
            actor_id=user.id,
            payload={"batch_id": batch.id, "count": batch.item_count, "total": total},
        )
        return batch

    def _locked(self, scope: Scope, batch_id: int) -> PaymentBatch:
        batch = self.session.scalars(
            scope.select(PaymentBatch)
            .where(PaymentBatch.id == batch_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
        if batch is None:
            raise NotFound(_l("No such batch."))
        return batch

    def approve(self, scope: Scope, user: User, batch_id: int) -> PaymentBatch:
        batch = self._locked(scope, batch_id)
        self._fire(batch, "approve", user)
        batch.approved_at = self.clock()
        return batch

    def cancel(self, scope: Scope, user: User, batch_id: int, *, reason: str) -> PaymentBatch:
        """Only before release: its payouts are approved again, for a later batch."""
        batch = self._locked(scope, batch_id)
        self._fire(batch, "cancel", user, reason=reason)
        batch.cancel_reason = reason.strip()
        for item in batch.items:
            payout = self.session.get(Payout, item.payout_id, with_for_update=True)
            assert payout is not None
            fire_payout(payout, "remove_from_batch", actor=Actor.system())
        return batch

    def release(self, scope: Scope, user: User, batch_id: int) -> PaymentBatch:
        """Generate, validate and freeze the pain.001; the payouts are sent.

        Released already (a second click, a retry, a concurrent request that waited for
        the row lock): the same batch is returned, with its one file.
        """
        batch = self._locked(scope, batch_id)
        if batch.state in (BatchState.RELEASED.value, BatchState.BOOKED.value):
            return batch
        organisation = self.session.get(Organisation, batch.organisation_id)
        assert organisation is not None
        now = self.clock()
        try:
            pain = build_pain001(
                BatchFile(
                    msg_id=batch.msg_id,
                    pmt_inf_id=batch.pmt_inf_id,
                    created_at=now,
                    execution_date=batch.execution_date,
                    debtor=Debtor(organisation.name, organisation.iban, organisation.bic),
                    transfers=[
                        Transfer(
                            end_to_end_id=item.end_to_end_id,
                            creditor_name=item.payee_name,
                            creditor_iban=item.payee_iban,
                            creditor_bic=item.payee_bic,
                            amount=item.amount,
                            remittance=item.remittance,
                        )
                        for item in batch.items
                    ],
                    version=batch.pain_version,
                )
            )
        except PainError as exc:
            raise InvalidInput(
                _l("The payment file could not be made: %(why)s", why=str(exc))
            ) from None
        # Frozen before the state changes, so the audit event carries the file's hash.
        batch.released_at = now
        batch.file_sha256 = hashlib.sha256(pain).hexdigest()
        batch.file_data = active_cipher().encrypt_bytes(pain)
        self._fire(batch, "release", user)
        payouts = self.session.scalars(
            select(Payout)
            .where(Payout.id.in_([item.payout_id for item in batch.items]))
            .with_for_update()
        ).all()
        for payout in payouts:
            fire_payout(payout, "send", actor=Actor.system())
        self.session.flush()
        queue_follow_claims(self.session, {p.claim_id for p in payouts}, f"batch:{batch.id}")
        return batch

    def file(self, scope: Scope, batch_id: int, *, user: User | None = None) -> bytes:
        """The frozen pain.001, byte for byte as released (checked against its SHA-256).

        With a user, the download is recorded in the audit trail: the file names every
        payee and their account (the caller commits).
        """
        batch = scope.get(self.session, PaymentBatch, batch_id)
        if batch is None:
            raise NotFound(_l("No such batch."))
        if batch.file_data is None:
            raise Conflict(_l("The payment file exists once the batch is released."))
        data = active_cipher().decrypt_bytes(batch.file_data)
        if hashlib.sha256(data).hexdigest() != batch.file_sha256:
            raise RuntimeError(f"payment file of batch {batch.id} does not match its SHA-256")
        if user is not None:
            self.audit.append(
                batch.organisation_id,
                event="batch_file_downloaded",
                actor_id=user.id,
                payload={"batch_id": batch.id, "sha256": batch.file_sha256},
            )
        return data

    def _fire(self, batch: PaymentBatch, event: str, user: User, reason: str | None = None) -> None:
        source = batch.state
        try:
            fire_batch(batch, event, actor=_actor(user), context=PaymentContext(reason=reason))
        except (PaymentRuleViolation, InvalidPaymentTransition) as exc:
            raise _refusal(exc) from None
        self.audit.append(
            batch.organisation_id,
            event=f"batch_{event}",
            actor_id=user.id,
            reason=reason,
            payload={
                "batch_id": batch.id,
                "from": source,
                "to": batch.state,
                "sha256": batch.file_sha256,
            },
        )
