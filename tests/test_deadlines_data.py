"""The Awb clock fed from the database: equated days and per-organisation terms."""

from __future__ import annotations

import datetime as dt

import pytest

from housing.deadlines.services import add_equated_day, atw_calendar, awb_terms
from housing.errors import InvalidInput
from tests.factories import OrganisationFactory
from workflows.awb import KNOWN_EQUATED_DAYS, decision_deadline


def test_the_known_decrees_are_seeded_by_the_migration(session):
    calendar = atw_calendar(session)
    assert calendar.equated_days >= KNOWN_EQUATED_DAYS
    assert calendar.is_holiday(dt.date(2026, 5, 15))  # the Friday after Ascension 2026


def test_an_operator_extends_the_list_and_deadlines_follow(session):
    # Received Fri 2029-03-16: 8 weeks end Fri 2029-05-11, the day after Ascension 2029.
    received = dt.date(2029, 3, 16)
    before = decision_deadline(received, calendar=atw_calendar(session)).deadline
    assert before == dt.date(2029, 5, 11)
    add_equated_day(session, dt.date(2029, 5, 11), "Besluit gelijkgestelde dagen 2029")
    after = decision_deadline(received, calendar=atw_calendar(session)).deadline
    assert after == dt.date(2029, 5, 14)


def test_duplicate_or_undescribed_days_are_refused(session):
    with pytest.raises(InvalidInput) as duplicate:
        add_equated_day(session, dt.date(2026, 1, 2), "again")
    assert "day" in duplicate.value.field_errors
    with pytest.raises(InvalidInput) as undescribed:
        add_equated_day(session, dt.date(2030, 1, 2), "  ")
    assert "description" in undescribed.value.field_errors


def test_organisation_terms_default_to_the_awb(session):
    org = OrganisationFactory()
    terms = awb_terms(org)
    assert (terms.decision_weeks, terms.information_term_days, terms.objection_weeks) == (8, 14, 6)
    org.decision_weeks = 6
    assert awb_terms(org).decision_weeks == 6


def test_a_decision_term_over_eight_weeks_is_refused_by_the_database(session):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError, match="decision_weeks_range"):
        OrganisationFactory(decision_weeks=9)


def test_the_cli_lists_and_adds(app, session):
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["holidays", "list", "--year", "2026"])
    assert "2026-05-05" in listed.output and "2026-01-02" in listed.output
    added = runner.invoke(args=["holidays", "add", "2030-05-31", "Besluit 2030"])
    assert added.exit_code == 0, added.output
    again = runner.invoke(args=["holidays", "add", "2030-05-31", "Besluit 2030"])
    assert again.exit_code == 1
    bad = runner.invoke(args=["holidays", "add", "31-05-2030", "x"])
    assert bad.exit_code == 2
