"""What waits for the organisation's assessors and deciders, counted for their start page.

Counts only, in a constant number of queries (the Atw calendar and one grouped count),
whatever the number of claims. The deadlines are those the inbox orders by and the
deadline watch acts on: the claim's decision deadline, "soon" within the watch's warning
horizon of working days, and a claim awaiting information is not "soon" (its clock is
suspended) but can be overdue (a request sent after the deadline suspends nothing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, func, select

from housing.claims.models import Claim, Decision
from housing.claims.states import APPLICATION_DECISION_KINDS
from housing.claims.watch import DEFAULT_WARNING_WORKING_DAYS, OVERDUE_STATES, WARNING_STATES
from housing.db import DbSession
from housing.deadlines.services import atw_calendar
from housing.scoping import Scope
from workflows.claim import ClaimState

# What each role acts on: the assessor until the proposal, the decider from there.
ASSESSOR_STATES = (
    ClaimState.SUBMITTED,
    ClaimState.IN_ASSESSMENT,
    ClaimState.AWAITING_INFO,
    ClaimState.AWAITING_ADVICE,
)
DECIDER_STATES = (ClaimState.DECISION_PROPOSED,)


@dataclass(frozen=True)
class Worklist:
    """Claims in each state, and how many of them are due soon or overdue."""

    by_state: dict[ClaimState, int]
    due_soon: int
    overdue: int
    # The last day that counts as "soon": today plus the watch's warning working days.
    horizon: dt.date

    @property
    def total(self) -> int:
        return sum(self.by_state.values())


def _clock_applies() -> ColumnElement[bool]:
    return and_(
        Claim.decision_deadline.is_not(None),
        ~exists().where(
            Decision.claim_id == Claim.id, Decision.kind.in_(APPLICATION_DECISION_KINDS)
        ),
    )


def due_between(first: dt.date, last: dt.date) -> ColumnElement[bool]:
    """A claim whose running decision term ends from `first` through `last`."""
    return and_(
        _clock_applies(),
        Claim.state.in_([s.value for s in WARNING_STATES]),
        Claim.decision_deadline >= first,
        Claim.decision_deadline <= last,
    )


def overdue_on(today: dt.date) -> ColumnElement[bool]:
    """A claim whose decision term ended before `today` without a decision."""
    return and_(
        _clock_applies(),
        Claim.state.in_([s.value for s in OVERDUE_STATES]),
        Claim.decision_deadline < today,
    )


def worklist(
    session: DbSession,
    scope: Scope,
    states: Sequence[ClaimState],
    today: dt.date,
    warning_working_days: int = DEFAULT_WARNING_WORKING_DAYS,
) -> Worklist:
    """The counts of the scope's claims in `states`, in two queries.

    A claim open again after its application was decided (an objection) is counted by
    state but not by deadline: the objection's own deadline is not the stored decision
    deadline (see DeadlineWatch.current_deadline), and the stored one would call it late.
    """
    horizon = atw_calendar(session).add_working_days(today, warning_working_days)
    soon = due_between(today, horizon)
    late = overdue_on(today)
    rows = session.execute(
        select(
            Claim.state,
            func.count(),
            func.count().filter(soon),
            func.count().filter(late),
        )
        .where(*scope.criteria(Claim), Claim.state.in_([s.value for s in states]))
        .group_by(Claim.state)
    ).all()
    by_state = {state: 0 for state in states}
    due_soon = overdue = 0
    for state, count, soon_count, late_count in rows:
        by_state[ClaimState(state)] = count
        due_soon += soon_count
        overdue += late_count
    return Worklist(by_state=by_state, due_soon=due_soon, overdue=overdue, horizon=horizon)
