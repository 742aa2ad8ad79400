"""The claim follows its payouts (issue 5 §6): in payment once the first payout is sent,
settled once everything granted is paid and booked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from housing.claims.models import Claim, MeasureLine
from housing.claims.services import ClaimService
from housing.db import utcnow
from housing.payments.models import Payout
from housing.scoping import Scope
from workflows.claim import ClaimState
from workflows.payments import PayoutState

# Money that has left: the payout went out in a released batch (and may be booked).
LEFT_STATES = (PayoutState.SENT.value, PayoutState.BOOKED.value)


def follow_claims(
    session: Session, claim_ids: Iterable[int], clock: Callable[[], dt.datetime] = utcnow
) -> list[int]:
    """Move each claim on as far as its payouts allow; return the ids that moved."""
    service = ClaimService(session, clock=clock)
    system = Scope.system_scope()
    moved = []
    for claim_id in sorted(set(claim_ids)):
        claim = session.get(Claim, claim_id)
        if claim is None:
            continue
        if claim.state == ClaimState.GRANTED and _any_left(session, claim_id):
            service.fire(system, None, claim_id, "start_payment")
            moved.append(claim_id)
        if claim.state == ClaimState.IN_PAYMENT and fully_paid(session, claim_id):
            service.fire(system, None, claim_id, "settle")
            moved.append(claim_id)
    return moved


def _any_left(session: Session, claim_id: int) -> bool:
    return bool(
        session.scalar(
            select(func.count())
            .select_from(Payout)
            .where(Payout.claim_id == claim_id, Payout.state.in_(LEFT_STATES))
        )
    )


def fully_paid(session: Session, claim_id: int) -> bool:
    """Every line's granted amount is covered by booked payouts (nothing left to pay)."""
    granted = dict(
        session.execute(
            select(MeasureLine.id, MeasureLine.granted_amount).where(
                MeasureLine.claim_id == claim_id
            )
        ).all()
    )
    booked = dict(
        session.execute(
            select(Payout.measure_line_id, func.sum(Payout.amount))
            .where(Payout.claim_id == claim_id, Payout.state == PayoutState.BOOKED.value)
            .group_by(Payout.measure_line_id)
        ).all()
    )
    return all(
        Decimal(booked.get(line_id) or 0) >= (amount or Decimal("0"))
        for line_id, amount in granted.items()
    )
