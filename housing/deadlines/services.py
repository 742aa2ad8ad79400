"""Build the Awb clock's inputs from the database."""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from housing.deadlines.models import EquatedDay
from housing.errors import InvalidInput
from housing.organisations.models import Organisation
from workflows.awb import AtwCalendar, AwbTerms


def atw_calendar(session: Session) -> AtwCalendar:
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
    session: Session, day: dt.date, description: str, added_by_id: int | None = None
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
