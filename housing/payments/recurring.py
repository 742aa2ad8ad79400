"""Recurring measures (issue 5 §4): each period asks for its payout while the term lasts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select

from housing.audit.services import AuditTrail
from housing.claims.models import Claim, MeasureLine, Recurrence
from housing.clock import today as amsterdam_today
from housing.clock import utcnow
from housing.db import DbSession
from housing.payments.models import PAYABLE_CLAIM_STATES, Payout, RemainderClosure
from workflows.payments import PayoutState


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

    def __init__(self, session: DbSession, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock
        self.audit = AuditTrail(session, clock)

    def create_due(self, today: dt.date | None = None) -> int:
        today = today or amsterdam_today(self.clock)
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
            granted = line.granted_amount
            # Both selected as present: a period start, and a grant above nothing.
            assert latest.period_start is not None and granted is not None
            period = next_period(latest.period_start, line.recurrence)
            while period <= today and (term_end is None or period <= term_end):
                self.session.add(
                    payout := Payout(
                        organisation_id=claim.organisation_id,
                        claim_id=claim.id,
                        measure_line_id=line.id,
                        kind=latest.kind,
                        state=PayoutState.REQUESTED,
                        payee_name=latest.payee_name,
                        payee_iban=latest.payee_iban,
                        payee_bic=latest.payee_bic,
                        amount=granted,
                        vat_amount=min(latest.vat_amount, granted),
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
