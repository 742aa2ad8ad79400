"""The organisation's claim figures for the dashboards: counts and lead times, never cases.

Every figure is one grouped query, whatever the number of claims. They count what the
lists count: claims by state as the search finds them (received in the period, of the
regime), deadlines as the start page's worklist and the inbox's clock do, a decision by
the day it was taken in Amsterdam against the claim's decision deadline (the legal term,
extended where an extension notice moved it).

Who sees them: the roles that handle claims, and the organisation's administrator, who
sees no case but may see the organisation's figures (counts and days only: no names,
numbers or amounts of a claim). The role check is here, with the figures, not in a view.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute

from housing.claims.models import Claim, Decision
from housing.claims.states import APPLICATION_DECISION_KINDS
from housing.claims.worklist import due_between, overdue_on
from housing.db import DbSession, days_between, local_date, median, year_month
from housing.errors import Forbidden
from housing.roles import Role
from housing.scoping import Scope
from workflows.claim import ClaimState
from workflows.rules import Regime

CLAIM_FIGURE_ROLES = frozenset({Role.ASSESSOR, Role.DECIDER, Role.ADMIN})


@dataclass(frozen=True)
class Period:
    """What the figures cover: a calendar year (None: all years) and a regime (None: both)."""

    year: int | None = None
    regime: Regime | None = None

    @property
    def first_day(self) -> dt.date | None:
        return None if self.year is None else dt.date(self.year, 1, 1)

    @property
    def last_day(self) -> dt.date | None:
        return None if self.year is None else dt.date(self.year, 12, 31)

    def days(
        self, day: ColumnElement[Any] | InstrumentedAttribute[Any]
    ) -> list[ColumnElement[bool]]:
        if self.year is None:
            return []
        return [day >= self.first_day, day <= self.last_day]

    def claims(self) -> list[ColumnElement[bool]]:
        return [] if self.regime is None else [Claim.regime == self.regime.value]


def organisation_of(scope: Scope, roles: frozenset[Role]) -> int:
    """The scope's organisation, if one of its roles may see these figures."""
    if scope.organisation_id is None or not scope.roles & roles:
        raise Forbidden(_("Your role does not allow this."))
    return scope.organisation_id


@dataclass(frozen=True)
class Deadlines:
    # Monday to Sunday of the week `today` lies in; "due" counts from today on.
    week_start: dt.date
    week_end: dt.date
    due_this_week: int
    overdue: int


@dataclass(frozen=True)
class LeadTimeMonth:
    month: str  # "YYYY-MM", the month the decision was taken in (Amsterdam)
    decided: int
    on_time: int
    median_days: float
    worst_days: int

    @property
    def on_time_share(self) -> float:
        return self.on_time / self.decided if self.decided else 0.0


def claims_by_state(session: DbSession, scope: Scope, period: Period) -> dict[ClaimState, int]:
    """Claims received in the period, by state (as the search counts them)."""
    organisation_id = organisation_of(scope, CLAIM_FIGURE_ROLES)
    rows = session.execute(
        select(Claim.state, func.count())
        .where(
            Claim.organisation_id == organisation_id,
            Claim.received_on.is_not(None),
            *period.days(Claim.received_on),
            *period.claims(),
        )
        .group_by(Claim.state)
    ).all()
    found = {ClaimState(state): count for state, count in rows}
    # In the machine's order, states without claims left out.
    return {state: found[state] for state in ClaimState if state in found}


def deadlines(session: DbSession, scope: Scope, period: Period, today: dt.date) -> Deadlines:
    """Open claims due from today to Sunday, and those overdue (as the worklist counts)."""
    organisation_id = organisation_of(scope, CLAIM_FIGURE_ROLES)
    week_start = today - dt.timedelta(days=today.weekday())
    week_end = week_start + dt.timedelta(days=6)
    due, late = session.execute(
        select(
            func.count().filter(due_between(today, week_end)),
            func.count().filter(overdue_on(today)),
        ).where(Claim.organisation_id == organisation_id, *period.claims())
    ).one()
    return Deadlines(week_start, week_end, due or 0, late or 0)


def lead_times(session: DbSession, scope: Scope, period: Period) -> list[LeadTimeMonth]:
    """Per month of decision: decisions, on time, median and worst days from receipt.

    A decision on the application (grant, partial grant, refusal, not considered) of a
    claim that has a receipt date and a deadline; an objection's decision is not counted
    (it runs against a term of its own)."""
    organisation_id = organisation_of(scope, CLAIM_FIGURE_ROLES)
    decided_on = local_date(Decision.decided_at)
    days = days_between(decided_on, Claim.received_on)
    month = year_month(decided_on)
    rows = session.execute(
        select(
            month,
            func.count(),
            func.count().filter(decided_on <= Claim.decision_deadline),
            median(days),
            func.max(days),
        )
        .join(Claim, Claim.id == Decision.claim_id)
        .where(
            Claim.organisation_id == organisation_id,
            Decision.kind.in_(APPLICATION_DECISION_KINDS),
            Decision.decided_at.is_not(None),
            Claim.received_on.is_not(None),
            Claim.decision_deadline.is_not(None),
            *period.days(decided_on),
            *period.claims(),
        )
        .group_by(month)
        .order_by(month)
    ).all()
    return [
        LeadTimeMonth(str(m), count, on_time or 0, float(middle), int(worst))
        for m, count, on_time, middle, worst in rows
    ]
