"""The organisation's money figures for the dashboards: budget, payouts and spend.

Each figure is a constant number of grouped queries, whatever the number of payouts, and
counts what the finance pages count: the budget per year is the budget table's own
computation (`budget_years`), a payout is counted in the month it was requested
(Amsterdam), spend is what the bank statement shows as paid (booked), counted like the
budget table's "paid" by the year of the claim's grant. Finance and the organisation's
administrator see them (the administrator sees sums, never a payout).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, Numeric, case, func, select

from housing.claims.figures import Period, organisation_of
from housing.claims.models import Claim, Decision, DecisionKind, MeasureLine
from housing.db import DbSession, local_date, year_month
from housing.organisations.models import Budget, MeasureCatalogue
from housing.payments.models import Payout
from housing.payments.queries import BudgetYear, budget_years
from housing.roles import Role
from housing.scoping import Scope
from workflows.payments import PayoutState

MONEY_FIGURE_ROLES = frozenset({Role.FINANCE, Role.ADMIN})
# Requested, checked, in a batch or sent to the bank: on its way, not yet on a statement.
IN_PROGRESS = (
    PayoutState.REQUESTED,
    PayoutState.FIRST_APPROVED,
    PayoutState.APPROVED,
    PayoutState.BATCHED,
    PayoutState.SENT,
)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class PayoutMonth:
    month: str  # "YYYY-MM" of the request
    in_progress: int
    in_progress_amount: Decimal
    returned: int
    returned_amount: Decimal
    booked: int
    booked_amount: Decimal


@dataclass(frozen=True)
class MeasureSpend:
    measure: str
    regime: str
    payouts: int
    paid: Decimal


def _cents(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(ZERO)


def budget(session: DbSession, scope: Scope, period: Period) -> list[BudgetYear]:
    """The budget table (all regimes: a budget is not split by regime), the period's year."""
    organisation_id = organisation_of(scope, MONEY_FIGURE_ROLES)
    years = budget_years(
        session,
        budgets=select(Budget).where(Budget.organisation_id == organisation_id),
        claims=[Claim.organisation_id == organisation_id],
        payouts=[Payout.organisation_id == organisation_id],
    )
    return [y for y in years if period.year is None or y.year == period.year]


def payouts_by_month(session: DbSession, scope: Scope, period: Period) -> list[PayoutMonth]:
    """Per month of request: payouts in progress, returned and booked (count and amount)."""
    organisation_id = organisation_of(scope, MONEY_FIGURE_ROLES)
    requested_on = local_date(Payout.created_at)
    month = year_month(requested_on)
    in_progress = Payout.state.in_([s.value for s in IN_PROGRESS])
    returned = Payout.state == PayoutState.RETURNED
    booked = Payout.state == PayoutState.BOOKED

    def amount(when: ColumnElement[bool]) -> ColumnElement[Decimal]:
        return func.coalesce(func.sum(case((when, Payout.amount))), ZERO, type_=Numeric(12, 2))

    rows = session.execute(
        select(
            month,
            func.count().filter(in_progress),
            amount(in_progress),
            func.count().filter(returned),
            amount(returned),
            func.count().filter(booked),
            amount(booked),
        )
        .join(Claim, Claim.id == Payout.claim_id)
        .where(
            Payout.organisation_id == organisation_id,
            Payout.state.in_([*IN_PROGRESS, PayoutState.RETURNED, PayoutState.BOOKED]),
            *period.days(requested_on),
            *period.claims(),
        )
        .group_by(month)
        .order_by(month)
    ).all()
    return [
        PayoutMonth(str(m), p or 0, _cents(pa), r or 0, _cents(ra), b or 0, _cents(ba))
        for m, p, pa, r, ra, b, ba in rows
    ]


def spend_by_measure(session: DbSession, scope: Scope, period: Period) -> list[MeasureSpend]:
    """Paid (booked) per measure of the catalogue, by the year of the claim's grant."""
    organisation_id = organisation_of(scope, MONEY_FIGURE_ROLES)
    granted = (
        select(Decision.claim_id, func.min(Decision.decided_at).label("granted_at"))
        .where(
            Decision.kind.in_([DecisionKind.GRANT, DecisionKind.PARTIAL_GRANT]),
            Decision.decided_at.is_not(None),
        )
        .group_by(Decision.claim_id)
        .subquery()
    )
    rows = session.execute(
        select(
            MeasureCatalogue.name,
            MeasureCatalogue.regime,
            func.count(Payout.id),
            func.sum(Payout.amount),
        )
        .join(MeasureLine, MeasureLine.id == Payout.measure_line_id)
        .join(MeasureCatalogue, MeasureCatalogue.id == MeasureLine.catalogue_id)
        .join(Claim, Claim.id == Payout.claim_id)
        .join(granted, granted.c.claim_id == Payout.claim_id)
        .where(
            Payout.organisation_id == organisation_id,
            Payout.state == PayoutState.BOOKED,
            *period.days(local_date(granted.c.granted_at)),
            *period.claims(),
        )
        .group_by(MeasureCatalogue.id, MeasureCatalogue.name, MeasureCatalogue.regime)
        .order_by(func.sum(Payout.amount).desc(), MeasureCatalogue.name)
    ).all()
    return [
        MeasureSpend(name, str(getattr(regime, "value", regime)), count, _cents(total))
        for name, regime, count, total in rows
    ]
