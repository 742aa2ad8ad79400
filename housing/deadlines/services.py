"""Build the Awb clock's inputs from the database."""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from housing.audit.services import AuditTrail
from housing.db import DbSession
from housing.deadlines.models import EquatedDay
from housing.errors import Forbidden, InvalidInput
from housing.organisations.models import Organisation
from housing.roles import Role
from housing.scoping import Scope
from workflows.awb import FIRST_YEAR, AtwCalendar, AwbTerms

# The Atw calendar is built from FIRST_YEAR on; date() ends in 9999.
LAST_YEAR = 9998


def atw_calendar(session: DbSession) -> AtwCalendar:
    """The Atw calendar with every equated day on record (seeded with the known decrees)."""
    return AtwCalendar(frozenset(session.scalars(select(EquatedDay.day))))


def awb_terms(organisation: Organisation) -> AwbTerms:
    return AwbTerms(
        decision_weeks=organisation.decision_weeks,
        information_term_days=organisation.information_term_days,
        objection_weeks=organisation.objection_weeks,
        not_considered_weeks=organisation.not_considered_weeks,
    )


def add_equated_day(
    session: DbSession, day: dt.date, description: str, added_by_id: int | None = None
) -> EquatedDay:
    description = description.strip()
    if not description or len(description) > 200:
        message = _l("Describe the day in 1 to 200 characters (e.g. the decree).")
        raise InvalidInput(message, field_errors={"description": [message]})
    if session.get(EquatedDay, day) is not None:
        message = _l("This day is already equated with a holiday.")
        raise InvalidInput(message, field_errors={"day": [message]})
    equated = EquatedDay(day=day, description=description, added_by_id=added_by_id)
    session.add(equated)
    session.flush()
    return equated


def calendar_year(session: DbSession, year: int) -> dict[dt.date, str]:
    """The Atw holidays, Good Friday and equated days of `year`, by date."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        message = _l("Choose a year from %(low)d to %(high)d.", low=FIRST_YEAR, high=LAST_YEAR)
        raise InvalidInput(message, field_errors={"year": [message]})
    return atw_calendar(session).holidays(year)


def equate_day(
    session: DbSession,
    scope: Scope,
    day: dt.date,
    description: str,
    audit: AuditTrail | None = None,
) -> EquatedDay:
    """An administrator records a day equated by royal decree, audited in their own chain.

    The list is one for the whole installation (the Atw is national law), so a day that
    is no working day, or already a holiday, is refused as a likely typing error.
    """
    if Role.ADMIN not in scope.roles or scope.organisation_id is None:
        raise Forbidden(_l("Only an administrator changes the rules of the organisation."))
    message = None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        message = _l(
            "Choose a day in the years %(low)d to %(high)d.", low=FIRST_YEAR, high=LAST_YEAR
        )
    elif day.weekday() >= 5:
        message = _l("A Saturday or Sunday never ends a term; equate a working day.")
    elif AtwCalendar(frozenset()).is_holiday(day):
        message = _l("This day is already a recognised holiday under the Atw.")
    if message is not None:
        raise InvalidInput(message, field_errors={"day": [message]})
    equated = add_equated_day(session, day, description, added_by_id=scope.user_id)
    (audit or AuditTrail(session)).append(
        scope.organisation_id,
        event="add_equated_day",
        actor_id=scope.user_id,
        payload={"day": equated.day, "description": equated.description},
    )
    return equated
