"""The claim follows its payouts (issue 5 §6): in payment once the first payout is sent,
settled once everything granted is paid and booked, or once finance closed what is left
and the payouts under way are booked. A payout of a settled claim the bank sends back puts
the claim in payment again: it is paid again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from housing.claims.models import Claim, MeasureLine, Recurrence
from housing.claims.workflow import WorkflowService
from housing.clock import today as amsterdam_today
from housing.clock import utcnow
from housing.db import DbSession
from housing.outbox.handlers import outbox_handler
from housing.outbox.services import Outbox
from housing.payments.models import Payout, RemainderClosure
from housing.payments.recurring import next_period, period_start_of
from housing.scoping import Scope
from workflows.claim import ClaimState
from workflows.payments import PayoutState

# Money that has left: the payout went out in a released batch (and may be booked).
LEFT_STATES = (PayoutState.SENT, PayoutState.BOOKED)
# Nothing more happens to these payouts; any other state is a payout under way.
FINISHED_STATES = (
    PayoutState.BOOKED,
    PayoutState.REJECTED,
    PayoutState.CANCELLED,
)


TOPIC = "claims_follow"
# Claims moved per outbox message: each chunk is one short transaction in a worker.
CHUNK = 250


def queue_follow_claims(session: DbSession, claim_ids: Iterable[int], key: str) -> int:
    """Ask a worker to move these claims on, in chunks, after this transaction commits.

    A released batch or an imported statement can touch thousands of claims; moving each
    is a workflow event with its own audit link, too slow to do inside the request. The
    payouts' own states are settled here and now; the claims follow within seconds.
    """
    ids = sorted(set(claim_ids))
    outbox = Outbox(session)
    for start in range(0, len(ids), CHUNK):
        first = session.get(Claim, ids[start])
        assert first is not None  # the payouts moved are of claims that exist
        outbox.add(
            key=f"{TOPIC}:{key}:{start // CHUNK}",
            topic=TOPIC,
            payload={"claim_ids": ids[start : start + CHUNK]},
            organisation_id=first.organisation_id,
        )
    return len(ids)


@outbox_handler(TOPIC)
def deliver_claims_follow(session: DbSession, message: Any) -> None:
    """The outbox handler: move each claim of the chunk on (idempotent: state-guarded)."""
    follow_claims(session, message.payload["claim_ids"])


def follow_claims(
    session: DbSession, claim_ids: Iterable[int], clock: Callable[[], dt.datetime] = utcnow
) -> list[int]:
    """Move each claim on as far as its payouts allow; return the ids that moved."""
    service = WorkflowService(session, clock=clock)
    system = Scope.system_scope()
    moved = []
    for claim_id in sorted(set(claim_ids)):
        claim = session.get(Claim, claim_id)
        if claim is None:
            continue
        closed = session.get(RemainderClosure, claim_id) is not None
        if claim.state == ClaimState.GRANTED and _any_left(session, claim_id):
            service.fire(system, None, claim_id, "start_payment")
            moved.append(claim_id)
        if claim.state == ClaimState.SETTLED and under_way(session, claim_id):
            service.fire(system, None, claim_id, "reopen_payment")
            moved.append(claim_id)
        settles = claim.state == ClaimState.IN_PAYMENT or (
            claim.state == ClaimState.GRANTED and closed
        )
        if settles and fully_paid(session, claim_id, service.today()):
            service.fire(system, None, claim_id, "settle")
            moved.append(claim_id)
    return moved


def under_way(session: DbSession, claim_id: int) -> int:
    """How many payouts of the claim are not finished (not booked, rejected or cancelled)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Payout)
            .where(Payout.claim_id == claim_id, Payout.state.not_in(FINISHED_STATES))
        )
        or 0
    )


def _any_left(session: DbSession, claim_id: int) -> bool:
    return bool(
        session.scalar(
            select(func.count())
            .select_from(Payout)
            .where(Payout.claim_id == claim_id, Payout.state.in_(LEFT_STATES))
        )
    )


def fully_paid(session: DbSession, claim_id: int, today: dt.date | None = None) -> bool:
    """Every line's grant is covered by booked payouts (nothing is left to pay), or
    finance closed what is left and no payout is under way any more.

    A recurring line pays per period while the term lasts: it is done once the term has
    ended and each period up to its end has a booked payout.
    """
    today = today or amsterdam_today()
    claim = session.get(Claim, claim_id)
    assert claim is not None
    if session.get(RemainderClosure, claim_id) is not None:
        # What is left was closed: done once the payouts under way are finished.
        return not under_way(session, claim_id)
    for line in session.scalars(select(MeasureLine).where(MeasureLine.claim_id == claim_id)):
        granted = line.granted_amount or Decimal("0")
        if granted <= 0:
            continue
        booked = session.execute(
            select(Payout.period_start, func.sum(Payout.amount))
            .where(Payout.measure_line_id == line.id, Payout.state == PayoutState.BOOKED)
            .group_by(Payout.period_start)
        ).all()
        if line.recurrence is Recurrence.ONE_OFF:
            if sum((amount for _, amount in booked), Decimal("0")) < granted:
                return False
            continue
        term_end = claim.office_holder.term_end
        periods = {start: amount for start, amount in booked if start is not None}
        if term_end is None or term_end >= today or not periods:
            return False
        period = min(periods)
        while period <= period_start_of(term_end, line.recurrence):
            if periods.get(period, Decimal("0")) < granted:
                return False
            period = next_period(period, line.recurrence)
    return True
