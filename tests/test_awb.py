"""The Awb clock: the Atw calendar and the decision, objection and penalty terms.

Every expected date is written out by hand from a real calendar, never recomputed with the
code under test. No database: these tests take no fixtures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.awb import (
    DEFAULT_TERMS,
    KNOWN_EQUATED_DAYS,
    AtwCalendar,
    AwbError,
    AwbTerms,
    ClockState,
    ClockStatus,
    DateSpan,
    ExtensionNotice,
    InformationRequest,
    LateExtensionError,
    PenaltyTier,
    PrematureNoticeError,
    clock_status,
    decision_deadline,
    not_considered_deadline,
    objection_deadline,
    objection_in_time,
    penalty,
    penalty_amount,
    penalty_starts_on,
)

CALENDAR = AtwCalendar()
NO_BRIDGE_DAYS = AtwCalendar(frozenset())

SATURDAY, SUNDAY = 5, 6


def deadline_of(
    received_on: date,
    *,
    terms: AwbTerms = DEFAULT_TERMS,
    information_requests: Sequence[InformationRequest] = (),
    extensions: Sequence[ExtensionNotice] = (),
) -> date:
    return decision_deadline(
        received_on,
        calendar=CALENDAR,
        terms=terms,
        information_requests=information_requests,
        extensions=extensions,
    ).deadline


# --- The Atw calendar ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "kings_day"),
    [
        (2014, date(2014, 4, 26)),  # 27 April 2014 was a Sunday
        (2025, date(2025, 4, 26)),  # 27 April 2025 was a Sunday
        (2031, date(2031, 4, 26)),  # 27 April 2031 is a Sunday
    ],
)
def test_kings_day_moves_to_26_april_when_the_27th_is_a_sunday(year: int, kings_day: date) -> None:
    assert CALENDAR.holiday_name(kings_day) == "King's Day"
    assert date(year, 4, 27).weekday() == SUNDAY
    assert not CALENDAR.is_holiday(date(year, 4, 27))


@pytest.mark.parametrize("year", [2023, 2024, 2026, 2027, 2028])
def test_kings_day_is_27_april_otherwise(year: int) -> None:
    assert CALENDAR.holiday_name(date(year, 4, 27)) == "King's Day"
    assert not CALENDAR.is_holiday(date(year, 4, 26))


@pytest.mark.parametrize("year", [2021, 2022, 2023, 2024, 2025, 2026, 2027, 2028, 2029])
def test_liberation_day_is_a_holiday_every_year_not_only_every_fifth(year: int) -> None:
    assert CALENDAR.holiday_name(date(year, 5, 5)) == "Liberation Day"


def test_liberation_day_2026_is_not_a_working_day() -> None:
    # 5 May 2026 is a Tuesday in a non-lustrum year: the `holidays` package misses it.
    assert date(2026, 5, 5).weekday() == 1
    assert not CALENDAR.is_working_day(date(2026, 5, 5))
    assert CALENDAR.next_working_day(date(2026, 5, 5)) == date(2026, 5, 6)


@pytest.mark.parametrize(
    ("good_friday", "easter_monday", "ascension", "whit_monday"),
    [
        (date(2023, 4, 7), date(2023, 4, 10), date(2023, 5, 18), date(2023, 5, 29)),
        (date(2024, 3, 29), date(2024, 4, 1), date(2024, 5, 9), date(2024, 5, 20)),
        (date(2025, 4, 18), date(2025, 4, 21), date(2025, 5, 29), date(2025, 6, 9)),
        (date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 14), date(2026, 5, 25)),
        (date(2027, 3, 26), date(2027, 3, 29), date(2027, 5, 6), date(2027, 5, 17)),
        (date(2028, 4, 14), date(2028, 4, 17), date(2028, 5, 25), date(2028, 6, 5)),
    ],
)
def test_moveable_holidays(
    good_friday: date, easter_monday: date, ascension: date, whit_monday: date
) -> None:
    assert CALENDAR.holiday_name(good_friday) == "Good Friday"
    assert CALENDAR.holiday_name(easter_monday) == "Easter Monday"
    assert CALENDAR.holiday_name(ascension) == "Ascension Day"
    assert CALENDAR.holiday_name(whit_monday) == "Whit Monday"
    # The Thursday before Good Friday and the Tuesday after Easter Monday are working days.
    assert CALENDAR.is_working_day(good_friday - timedelta(days=1))
    assert CALENDAR.is_working_day(easter_monday + timedelta(days=1))


@pytest.mark.parametrize("year", [2024, 2025, 2026, 2027])
def test_fixed_holidays(year: int) -> None:
    assert CALENDAR.holiday_name(date(year, 1, 1)) == "New Year's Day"
    assert CALENDAR.holiday_name(date(year, 12, 25)) == "Christmas Day"
    assert CALENDAR.holiday_name(date(year, 12, 26)) == "Boxing Day"


def test_the_whole_of_2026() -> None:
    equated = "Equated day (royal decree)"
    assert CALENDAR.holidays(2026) == {
        date(2026, 1, 1): "New Year's Day",
        date(2026, 1, 2): equated,
        date(2026, 4, 3): "Good Friday",
        date(2026, 4, 6): "Easter Monday",
        date(2026, 4, 27): "King's Day",
        date(2026, 5, 5): "Liberation Day",
        date(2026, 5, 14): "Ascension Day",
        date(2026, 5, 15): equated,
        date(2026, 5, 25): "Whit Monday",
        date(2026, 12, 25): "Christmas Day",
        date(2026, 12, 26): "Boxing Day",
    }


def test_ascension_on_liberation_day_keeps_both_names() -> None:
    assert CALENDAR.holidays(2016)[date(2016, 5, 5)] == "Liberation Day; Ascension Day"
    assert len(CALENDAR.holidays(2016)) == 8


@pytest.mark.parametrize(
    "bridge_day",
    [
        date(2023, 4, 28),
        date(2023, 5, 19),
        date(2024, 5, 10),
        date(2024, 12, 27),
        date(2025, 5, 30),
        date(2026, 1, 2),
        date(2026, 5, 15),
        date(2027, 5, 7),
        date(2028, 4, 28),
        date(2028, 5, 26),
    ],
)
def test_each_known_bridge_day_is_equated(bridge_day: date) -> None:
    assert bridge_day in KNOWN_EQUATED_DAYS
    assert bridge_day.weekday() == 4  # all are Fridays
    assert CALENDAR.is_holiday(bridge_day)
    assert not CALENDAR.is_working_day(bridge_day)
    assert CALENDAR.holiday_name(bridge_day) == "Equated day (royal decree)"
    # Without the decree data the same day is an ordinary working day.
    assert NO_BRIDGE_DAYS.is_working_day(bridge_day)


def test_known_equated_days_are_exactly_the_decreed_ones() -> None:
    assert len(KNOWN_EQUATED_DAYS) == 10


def test_equated_days_are_data_an_administrator_extends() -> None:
    extended = CALENDAR.with_equated_days([date(2029, 5, 11)])
    assert extended.is_holiday(date(2029, 5, 11))
    assert extended.is_holiday(date(2026, 1, 2))
    assert not CALENDAR.is_holiday(date(2029, 5, 11))
    # A plain set is accepted and frozen, so the calendar stays hashable.
    from_set = AtwCalendar({date(2029, 5, 11)})  # type: ignore[arg-type]
    assert isinstance(from_set.equated_days, frozenset)
    assert hash(from_set) == hash(AtwCalendar(frozenset({date(2029, 5, 11)})))


def test_an_equated_day_on_a_holiday_keeps_both_names() -> None:
    calendar = NO_BRIDGE_DAYS.with_equated_days([date(2027, 12, 25)])
    assert calendar.holiday_name(date(2027, 12, 25)) == (
        "Christmas Day; Equated day (royal decree)"
    )


@pytest.mark.parametrize(
    "ordinary_day",
    [
        date(2026, 5, 4),  # Remembrance Day is no holiday
        date(2025, 12, 5),  # nor is Sinterklaas
        date(2025, 12, 24),  # nor Christmas Eve
        date(2025, 12, 31),  # nor New Year's Eve
        date(2025, 1, 2),  # 2 January is equated only in 2026
        date(2025, 4, 25),  # a week after Good Friday 2025
    ],
)
def test_ordinary_days_are_working_days(ordinary_day: date) -> None:
    assert not CALENDAR.is_holiday(ordinary_day)
    assert CALENDAR.is_working_day(ordinary_day)
    assert CALENDAR.holiday_name(ordinary_day) is None


def test_weekends_are_not_working_days_but_not_holidays() -> None:
    assert not CALENDAR.is_working_day(date(2024, 3, 2))
    assert not CALENDAR.is_working_day(date(2024, 3, 3))
    assert not CALENDAR.is_holiday(date(2024, 3, 2))


def test_years_before_king_s_day_are_refused() -> None:
    with pytest.raises(AwbError, match="2013"):
        CALENDAR.is_holiday(date(2013, 4, 30))


def test_next_working_day() -> None:
    assert CALENDAR.next_working_day(date(2024, 3, 5)) == date(2024, 3, 5)
    assert CALENDAR.next_working_day(date(2024, 12, 25)) == date(2024, 12, 30)
    assert CALENDAR.next_working_day(date(2026, 4, 3)) == date(2026, 4, 7)
    assert CALENDAR.stretch(date(2026, 1, 1)) == date(2026, 1, 5)


def test_add_working_days_over_christmas_and_new_year() -> None:
    assert CALENDAR.add_working_days(date(2024, 12, 24), 0) == date(2024, 12, 24)
    assert CALENDAR.add_working_days(date(2024, 12, 24), 1) == date(2024, 12, 30)
    assert CALENDAR.add_working_days(date(2024, 12, 24), 3) == date(2025, 1, 2)
    assert CALENDAR.add_working_days(date(2025, 12, 31), 1) == date(2026, 1, 5)
    # Ten working days from Thursday 2 April 2026 skip Good Friday to Easter Monday.
    assert CALENDAR.add_working_days(date(2026, 4, 2), 10) == date(2026, 4, 20)


def test_count_working_days() -> None:
    assert CALENDAR.working_days_between(date(2024, 12, 24), date(2024, 12, 24)) == 0
    assert CALENDAR.working_days_between(date(2024, 12, 24), date(2024, 12, 31)) == 2
    assert CALENDAR.working_days_between(date(2026, 4, 2), date(2026, 4, 17)) == 9
    # 2028 is a leap year starting on a Saturday: 366 days, 106 weekend days, 8 holidays on
    # weekdays (New Year's Day is a Saturday) and 2 bridge days.
    assert CALENDAR.working_days_between(date(2027, 12, 31), date(2028, 12, 31)) == 250


def test_working_day_arithmetic_rejects_going_backwards() -> None:
    with pytest.raises(AwbError, match="negative"):
        CALENDAR.add_working_days(date(2025, 1, 6), -1)
    with pytest.raises(AwbError, match="before the start"):
        CALENDAR.working_days_between(date(2025, 1, 6), date(2025, 1, 3))


# --- Decision deadline ---------------------------------------------------------------------


def test_eight_weeks_end_on_the_same_weekday() -> None:
    result = decision_deadline(date(2024, 1, 9), calendar=CALENDAR)
    assert result.statutory_end == date(2024, 3, 5)
    assert result.unstretched_end == date(2024, 3, 5)
    assert result.deadline == date(2024, 3, 5)
    assert not result.stretched
    assert result.suspended_days == 0
    assert result.suspensions == ()
    assert result.extension is None


@pytest.mark.parametrize(
    ("received_on", "statutory_end", "deadline"),
    [
        pytest.param(date(2024, 1, 6), date(2024, 3, 2), date(2024, 3, 4), id="saturday"),
        pytest.param(date(2024, 1, 7), date(2024, 3, 3), date(2024, 3, 4), id="sunday"),
        pytest.param(date(2026, 3, 10), date(2026, 5, 5), date(2026, 5, 6), id="5-may-2026"),
        pytest.param(date(2025, 3, 1), date(2025, 4, 26), date(2025, 4, 28), id="kings-day-sat"),
        pytest.param(date(2028, 3, 2), date(2028, 4, 27), date(2028, 5, 1), id="kings-day-bridge"),
        pytest.param(date(2025, 4, 3), date(2025, 5, 29), date(2025, 6, 2), id="ascension-bridge"),
        pytest.param(date(2027, 3, 22), date(2027, 5, 17), date(2027, 5, 18), id="whit-monday"),
        pytest.param(date(2026, 2, 6), date(2026, 4, 3), date(2026, 4, 7), id="easter-weekend"),
        pytest.param(date(2025, 10, 30), date(2025, 12, 25), date(2025, 12, 29), id="christmas"),
        pytest.param(
            date(2024, 10, 30), date(2024, 12, 25), date(2024, 12, 30), id="christmas-bridge"
        ),
        pytest.param(date(2025, 11, 6), date(2026, 1, 1), date(2026, 1, 5), id="new-year"),
        pytest.param(date(2028, 1, 4), date(2028, 2, 29), date(2028, 2, 29), id="leap-day"),
        pytest.param(date(2027, 1, 4), date(2027, 3, 1), date(2027, 3, 1), id="no-leap-day"),
    ],
)
def test_a_statutory_term_ending_on_a_day_off_runs_to_the_next_working_day(
    received_on: date, statutory_end: date, deadline: date
) -> None:
    result = decision_deadline(received_on, calendar=CALENDAR)
    assert result.statutory_end == statutory_end
    assert result.deadline == deadline
    assert result.stretched == (deadline != statutory_end)


def test_the_decision_term_is_a_setting() -> None:
    terms = AwbTerms(decision_weeks=12)
    assert deadline_of(date(2024, 1, 9), terms=terms) == date(2024, 4, 2)


# --- Suspension (art. 4:15) ----------------------------------------------------------------


def test_an_answered_request_holds_the_clock_until_the_answer() -> None:
    request = InformationRequest(date(2024, 1, 15), answered_on=date(2024, 1, 25))
    result = decision_deadline(date(2024, 1, 9), calendar=CALENDAR, information_requests=[request])
    assert result.suspensions == (DateSpan(date(2024, 1, 16), date(2024, 1, 25)),)
    assert result.suspended_days == 10
    assert result.deadline == date(2024, 3, 15)


def test_an_unused_information_term_holds_the_clock_for_the_whole_term() -> None:
    request = InformationRequest(date(2024, 1, 15))
    result = decision_deadline(date(2024, 1, 9), calendar=CALENDAR, information_requests=[request])
    assert result.suspensions == (DateSpan(date(2024, 1, 16), date(2024, 1, 29)),)
    assert result.deadline == date(2024, 3, 19)


def test_an_answer_after_the_information_term_counts_only_the_term() -> None:
    request = InformationRequest(date(2024, 1, 15), answered_on=date(2024, 2, 20))
    assert InformationRequest(date(2024, 1, 15)).suspension(DEFAULT_TERMS) == request.suspension(
        DEFAULT_TERMS
    )
    assert deadline_of(date(2024, 1, 9), information_requests=[request]) == date(2024, 3, 19)


def test_an_answer_on_the_day_of_the_request_holds_nothing() -> None:
    request = InformationRequest(date(2024, 1, 15), answered_on=date(2024, 1, 15))
    assert request.suspension(DEFAULT_TERMS) is None
    assert deadline_of(date(2024, 1, 9), information_requests=[request]) == date(2024, 3, 5)


def test_the_information_term_is_the_body_s_own_and_not_stretched() -> None:
    # The 14 days end on Boxing Day 2025: still exactly 14 days held, not 17.
    request = InformationRequest(date(2025, 12, 12))
    assert request.term_ends_on(DEFAULT_TERMS) == date(2025, 12, 26)
    result = decision_deadline(
        date(2025, 11, 20), calendar=CALENDAR, information_requests=[request]
    )
    assert result.suspended_days == 14
    # Across Christmas and the year end: 15 January 2026 + 14 days.
    assert result.deadline == date(2026, 1, 29)


def test_the_information_term_is_a_setting() -> None:
    request = InformationRequest(date(2024, 1, 15))
    terms = AwbTerms(information_term_days=21)
    assert deadline_of(date(2024, 1, 9), terms=terms, information_requests=[request]) == date(
        2024, 3, 26
    )
    own_term = InformationRequest(date(2024, 1, 15), term_days=28)
    assert deadline_of(date(2024, 1, 9), information_requests=[own_term]) == date(2024, 4, 2)


def test_the_atw_applies_to_the_end_after_suspension_not_before() -> None:
    # Eight weeks end on Saturday 2 March 2024; two held days move the end to Monday 4 March.
    # Stretching first (to Monday) and then adding two days would wrongly give Wednesday.
    request = InformationRequest(date(2024, 2, 1), answered_on=date(2024, 2, 3))
    result = decision_deadline(date(2024, 1, 6), calendar=CALENDAR, information_requests=[request])
    assert result.unstretched_end == date(2024, 3, 4)
    assert result.deadline == date(2024, 3, 4)
    assert not result.stretched


def test_one_held_day_moves_a_saturday_end_to_sunday_then_the_atw_to_monday() -> None:
    request = InformationRequest(date(2024, 2, 1), answered_on=date(2024, 2, 2))
    result = decision_deadline(date(2024, 1, 6), calendar=CALENDAR, information_requests=[request])
    assert result.unstretched_end == date(2024, 3, 3)
    assert result.deadline == date(2024, 3, 4)
    assert result.stretched


def test_suspension_moves_the_end_onto_good_friday_and_the_atw_past_easter() -> None:
    request = InformationRequest(date(2026, 3, 2), answered_on=date(2026, 3, 3))
    result = decision_deadline(date(2026, 2, 5), calendar=CALENDAR, information_requests=[request])
    assert result.statutory_end == date(2026, 4, 2)
    assert result.unstretched_end == date(2026, 4, 3)
    assert result.deadline == date(2026, 4, 7)


def test_suspension_across_christmas_and_the_year_end() -> None:
    # The held days include Christmas, Boxing Day, the bridge day and New Year: they are
    # calendar days all the same.
    request = InformationRequest(date(2024, 12, 20))
    result = decision_deadline(
        date(2024, 11, 15), calendar=CALENDAR, information_requests=[request]
    )
    assert result.suspensions == (DateSpan(date(2024, 12, 21), date(2025, 1, 3)),)
    assert result.statutory_end == date(2025, 1, 10)
    assert result.deadline == date(2025, 1, 24)


def test_suspension_moves_a_december_end_into_january() -> None:
    request = InformationRequest(date(2024, 11, 1), answered_on=date(2024, 11, 14))
    result = decision_deadline(
        date(2024, 10, 24), calendar=CALENDAR, information_requests=[request]
    )
    assert result.statutory_end == date(2024, 12, 19)
    assert result.unstretched_end == date(2025, 1, 1)
    assert result.deadline == date(2025, 1, 2)


def test_suspension_in_a_leap_year_counts_29_february() -> None:
    request = InformationRequest(date(2028, 2, 10), answered_on=date(2028, 2, 20))
    assert deadline_of(date(2028, 1, 4), information_requests=[request]) == date(2028, 3, 10)
    spanning = InformationRequest(date(2028, 2, 20))
    result = decision_deadline(date(2028, 1, 4), calendar=CALENDAR, information_requests=[spanning])
    assert result.is_suspended_on(date(2028, 2, 29))
    assert result.deadline == date(2028, 3, 14)


def test_multiple_suspensions_add_up() -> None:
    requests = [
        InformationRequest(date(2024, 1, 15), answered_on=date(2024, 1, 25)),
        InformationRequest(date(2024, 2, 5), answered_on=date(2024, 2, 10)),
    ]
    result = decision_deadline(date(2024, 1, 9), calendar=CALENDAR, information_requests=requests)
    assert result.suspended_days == 15
    assert result.suspensions == (
        DateSpan(date(2024, 1, 16), date(2024, 1, 25)),
        DateSpan(date(2024, 2, 6), date(2024, 2, 10)),
    )
    assert result.deadline == date(2024, 3, 20)


def test_overlapping_suspensions_hold_a_day_only_once() -> None:
    requests = [
        InformationRequest(date(2024, 1, 20), answered_on=date(2024, 1, 30)),
        InformationRequest(date(2024, 1, 15), answered_on=date(2024, 1, 25)),
    ]
    result = decision_deadline(date(2024, 1, 9), calendar=CALENDAR, information_requests=requests)
    assert result.suspensions == (DateSpan(date(2024, 1, 16), date(2024, 1, 30)),)
    assert result.deadline == date(2024, 3, 20)


def test_a_request_on_the_last_day_holds_nothing() -> None:
    request = InformationRequest(date(2024, 3, 5))
    result = decision_deadline(date(2024, 1, 9), calendar=CALENDAR, information_requests=[request])
    assert result.deadline == date(2024, 3, 5)
    assert result.suspensions == ()


def test_a_request_the_day_before_the_last_day_moves_it() -> None:
    request = InformationRequest(date(2024, 3, 4), answered_on=date(2024, 3, 6))
    assert deadline_of(date(2024, 1, 9), information_requests=[request]) == date(2024, 3, 7)


def test_a_request_on_a_day_the_atw_added_holds_nothing() -> None:
    # The eight weeks end on Saturday 2 March 2024; the Atw only carries them to Monday.
    for requested_on in (date(2024, 3, 2), date(2024, 3, 4)):
        request = InformationRequest(requested_on)
        assert deadline_of(date(2024, 1, 6), information_requests=[request]) == date(2024, 3, 4)


def test_a_request_after_the_deadline_does_not_revive_the_clock() -> None:
    request = InformationRequest(date(2024, 3, 8))
    result = decision_deadline(date(2024, 1, 9), calendar=CALENDAR, information_requests=[request])
    assert result.deadline == date(2024, 3, 5)
    assert result.status(date(2024, 3, 10)) == ClockStatus(ClockState.OVERDUE, -5)


def test_a_request_on_the_day_of_receipt_holds_the_clock() -> None:
    request = InformationRequest(date(2024, 1, 9), answered_on=date(2024, 1, 12))
    assert deadline_of(date(2024, 1, 9), information_requests=[request]) == date(2024, 3, 8)


def test_an_open_request_suspends_the_clock_for_the_inbox() -> None:
    request = InformationRequest(date(2024, 1, 15))
    result = decision_deadline(date(2024, 1, 9), calendar=CALENDAR, information_requests=[request])
    assert result.status(date(2024, 1, 15)) == ClockStatus(ClockState.RUNNING, 64)
    assert result.status(date(2024, 1, 16)) == ClockStatus(ClockState.SUSPENDED, 63)
    assert result.status(date(2024, 1, 29)) == ClockStatus(ClockState.SUSPENDED, 50)
    assert result.status(date(2024, 1, 30)) == ClockStatus(ClockState.RUNNING, 49)


def test_facts_that_cannot_be_are_refused() -> None:
    with pytest.raises(AwbError, match="before the application was received"):
        decision_deadline(
            date(2024, 1, 9),
            calendar=CALENDAR,
            information_requests=[InformationRequest(date(2024, 1, 8))],
        )
    with pytest.raises(AwbError, match="before it was requested"):
        InformationRequest(date(2024, 1, 15), answered_on=date(2024, 1, 14))
    with pytest.raises(AwbError, match="at least 1 day"):
        InformationRequest(date(2024, 1, 15), term_days=0)


# --- Extension notice (art. 4:14) ----------------------------------------------------------


def test_an_extension_replaces_the_deadline_and_is_not_stretched() -> None:
    notice = ExtensionNotice(date(2024, 2, 20), new_deadline=date(2024, 4, 6))
    result = decision_deadline(date(2024, 1, 9), calendar=CALENDAR, extensions=[notice])
    assert date(2024, 4, 6).weekday() == SATURDAY
    assert result.deadline == date(2024, 4, 6)
    assert result.extension == notice
    assert not result.stretched


def test_an_extension_on_the_last_day_is_in_time() -> None:
    notice = ExtensionNotice(date(2024, 3, 5), new_deadline=date(2024, 4, 2))
    assert deadline_of(date(2024, 1, 9), extensions=[notice]) == date(2024, 4, 2)


def test_an_extension_after_the_deadline_is_refused() -> None:
    notice = ExtensionNotice(date(2024, 3, 6), new_deadline=date(2024, 4, 2))
    with pytest.raises(LateExtensionError, match=r"2024-03-06.*2024-03-05"):
        decision_deadline(date(2024, 1, 9), calendar=CALENDAR, extensions=[notice])


def test_an_extension_on_the_day_the_atw_added_is_in_time() -> None:
    in_time = ExtensionNotice(date(2024, 3, 4), new_deadline=date(2024, 4, 2))
    assert deadline_of(date(2024, 1, 6), extensions=[in_time]) == date(2024, 4, 2)
    late = ExtensionNotice(date(2024, 3, 5), new_deadline=date(2024, 4, 2))
    with pytest.raises(LateExtensionError):
        decision_deadline(date(2024, 1, 6), calendar=CALENDAR, extensions=[late])


def test_an_extension_after_the_eight_weeks_but_within_the_suspended_term_is_in_time() -> None:
    request = InformationRequest(date(2024, 1, 15))
    notice = ExtensionNotice(date(2024, 3, 15), new_deadline=date(2024, 4, 30))
    result = decision_deadline(
        date(2024, 1, 9), calendar=CALENDAR, information_requests=[request], extensions=[notice]
    )
    assert result.deadline == date(2024, 4, 30)
    # The days held before the notice stay on record for the timeline.
    assert result.suspensions == (DateSpan(date(2024, 1, 16), date(2024, 1, 29)),)


def test_an_extension_must_move_the_deadline_later() -> None:
    notice = ExtensionNotice(date(2024, 2, 20), new_deadline=date(2024, 3, 5))
    with pytest.raises(AwbError, match="does not extend"):
        decision_deadline(date(2024, 1, 9), calendar=CALENDAR, extensions=[notice])
    with pytest.raises(AwbError, match="must lie after the notice"):
        ExtensionNotice(date(2024, 2, 20), new_deadline=date(2024, 2, 20))
    with pytest.raises(AwbError, match="cannot precede the receipt"):
        decision_deadline(
            date(2024, 1, 9),
            calendar=CALENDAR,
            extensions=[ExtensionNotice(date(2024, 1, 8), new_deadline=date(2024, 4, 1))],
        )


def test_a_request_after_an_extension_holds_the_new_term_without_the_atw() -> None:
    notice = ExtensionNotice(date(2024, 2, 20), new_deadline=date(2024, 4, 6))
    request = InformationRequest(date(2024, 3, 1), answered_on=date(2024, 3, 8))
    result = decision_deadline(
        date(2024, 1, 9), calendar=CALENDAR, information_requests=[request], extensions=[notice]
    )
    # Saturday 6 April + 7 held days = Saturday 13 April, and it stays a Saturday.
    assert result.deadline == date(2024, 4, 13)
    assert result.suspended_days == 7
    assert not result.stretched


def test_a_request_from_before_an_extension_does_not_hold_the_new_term() -> None:
    request = InformationRequest(date(2024, 2, 15))
    notice = ExtensionNotice(date(2024, 2, 20), new_deadline=date(2024, 4, 30))
    result = decision_deadline(
        date(2024, 1, 9), calendar=CALENDAR, information_requests=[request], extensions=[notice]
    )
    assert result.deadline == date(2024, 4, 30)
    assert result.suspensions == (DateSpan(date(2024, 2, 16), date(2024, 2, 20)),)
    assert result.status(date(2024, 2, 25)).state is ClockState.RUNNING


def test_a_second_extension_must_come_before_the_first_new_deadline() -> None:
    first = ExtensionNotice(date(2024, 2, 20), new_deadline=date(2024, 4, 2))
    second = ExtensionNotice(date(2024, 4, 2), new_deadline=date(2024, 4, 30))
    assert deadline_of(date(2024, 1, 9), extensions=[second, first]) == date(2024, 4, 30)
    too_late = ExtensionNotice(date(2024, 4, 3), new_deadline=date(2024, 4, 30))
    with pytest.raises(LateExtensionError):
        decision_deadline(date(2024, 1, 9), calendar=CALENDAR, extensions=[first, too_late])


# --- Not considering an incomplete application (art. 4:5(4)) -------------------------------


def test_not_considered_deadline_after_an_unused_term() -> None:
    request = InformationRequest(date(2024, 1, 15))
    assert not_considered_deadline(request, calendar=CALENDAR) == date(2024, 2, 26)


def test_not_considered_deadline_after_an_incomplete_answer_is_stretched() -> None:
    request = InformationRequest(date(2024, 1, 15), answered_on=date(2024, 1, 20))
    # Four weeks end on Saturday 17 February 2024.
    assert not_considered_deadline(request, calendar=CALENDAR) == date(2024, 2, 19)


# --- Notice of default and penalty (art. 4:17) ---------------------------------------------

NOTICE = date(2024, 3, 11)  # a Monday; the two weeks end on Monday 25 March
PENALTY_START = date(2024, 3, 26)


def penalty_on(as_of: date, *, decided_on: date | None = None) -> tuple[int, Decimal]:
    result = penalty(
        deadline=date(2024, 3, 5),
        notice_received_on=NOTICE,
        as_of=as_of,
        decided_on=decided_on,
        calendar=CALENDAR,
    )
    assert result.starts_on == PENALTY_START
    return result.days, result.amount


def test_the_penalty_starts_the_day_after_the_two_weeks() -> None:
    assert penalty_starts_on(NOTICE, calendar=CALENDAR) == PENALTY_START


def test_the_two_weeks_are_stretched_by_the_atw() -> None:
    # Two weeks after Friday 20 March 2026 end on Good Friday: the body may still decide
    # until Tuesday 7 April, so default starts on Wednesday 8 April.
    assert penalty_starts_on(date(2026, 3, 20), calendar=CALENDAR) == date(2026, 4, 8)


@pytest.mark.parametrize(
    ("day", "amount"),
    [
        (1, "23.00"),
        (14, "322.00"),
        (15, "357.00"),
        (28, "812.00"),
        (29, "857.00"),
        (42, "1442.00"),
        (43, "1442.00"),
    ],
)
def test_penalty_tiers(day: int, amount: str) -> None:
    days, accrued = penalty_on(PENALTY_START + timedelta(days=day - 1))
    assert days == min(day, 42)
    assert accrued == Decimal(amount)
    assert str(accrued) == amount


def test_no_penalty_before_it_starts() -> None:
    assert penalty_on(PENALTY_START - timedelta(days=1)) == (0, Decimal("0.00"))


def test_penalty_days_are_calendar_days_holidays_included() -> None:
    # 26 March to 2 April 2024 includes Good Friday and Easter Monday: eight days.
    assert penalty_on(date(2024, 4, 2)) == (8, Decimal("184.00"))


def test_the_penalty_stops_when_the_decision_is_taken() -> None:
    assert penalty_on(date(2024, 12, 31), decided_on=PENALTY_START + timedelta(days=10)) == (
        10,
        Decimal("230.00"),
    )
    assert penalty_on(date(2024, 12, 31), decided_on=PENALTY_START) == (0, Decimal("0.00"))
    assert penalty_on(date(2024, 12, 31), decided_on=date(2024, 3, 20)) == (0, Decimal("0.00"))


def test_the_penalty_is_capped() -> None:
    result = penalty(
        deadline=date(2024, 3, 5),
        notice_received_on=NOTICE,
        as_of=date(2025, 1, 1),
        calendar=CALENDAR,
    )
    assert result.capped
    assert result.amount == Decimal("1442.00")
    assert DEFAULT_TERMS.max_penalty == Decimal("1442.00")
    assert DEFAULT_TERMS.max_penalty_days == 42


def test_a_notice_of_default_before_the_deadline_passed_is_refused() -> None:
    for received_on in (date(2024, 3, 1), date(2024, 3, 5)):
        with pytest.raises(PrematureNoticeError, match="after the deadline"):
            penalty(
                deadline=date(2024, 3, 5),
                notice_received_on=received_on,
                as_of=date(2024, 6, 1),
                calendar=CALENDAR,
            )
    valid = penalty(
        deadline=date(2024, 3, 5),
        notice_received_on=date(2024, 3, 6),
        as_of=date(2024, 3, 21),
        calendar=CALENDAR,
    )
    assert (valid.starts_on, valid.days) == (date(2024, 3, 21), 1)


def test_penalty_amount_rejects_negative_days() -> None:
    with pytest.raises(AwbError, match="negative"):
        penalty_amount(-1)


def test_penalty_tiers_are_a_setting() -> None:
    terms = AwbTerms(penalty_tiers=(PenaltyTier(10, Decimal("10.50")),))
    assert terms.max_penalty_days == 10
    assert terms.max_penalty == Decimal("105.00")
    assert penalty_amount(3, terms) == Decimal("31.50")


# --- Objection term (art. 6:7/6:8/6:9) -----------------------------------------------------


@pytest.mark.parametrize(
    ("sent_on", "last_day"),
    [
        pytest.param(date(2024, 9, 3), date(2024, 10, 15), id="plain"),
        pytest.param(date(2025, 1, 4), date(2025, 2, 17), id="weekend"),
        pytest.param(date(2025, 3, 10), date(2025, 4, 22), id="easter-monday"),
        pytest.param(date(2024, 11, 14), date(2024, 12, 30), id="boxing-day-and-bridge"),
    ],
)
def test_objection_deadline(sent_on: date, last_day: date) -> None:
    assert objection_deadline(sent_on, calendar=CALENDAR) == last_day


def test_objection_in_time() -> None:
    sent_on = date(2025, 3, 10)  # last day Tuesday 22 April 2025
    assert objection_in_time(sent_on, date(2025, 3, 10), calendar=CALENDAR)
    assert objection_in_time(sent_on, date(2025, 4, 22), calendar=CALENDAR)
    assert not objection_in_time(sent_on, date(2025, 4, 23), calendar=CALENDAR)


def test_an_objection_posted_in_time_may_arrive_within_a_week() -> None:
    sent_on = date(2026, 3, 17)  # last day Tuesday 28 April 2026
    assert objection_deadline(sent_on, calendar=CALENDAR) == date(2026, 4, 28)
    posted = date(2026, 4, 28)
    # The week ends on 5 May 2026 (a holiday), so it runs to Wednesday 6 May.
    assert objection_in_time(sent_on, date(2026, 5, 6), posted_on=posted, calendar=CALENDAR)
    assert not objection_in_time(sent_on, date(2026, 5, 7), posted_on=posted, calendar=CALENDAR)
    late_post = date(2026, 4, 29)
    assert not objection_in_time(sent_on, date(2026, 4, 30), posted_on=late_post, calendar=CALENDAR)


def test_the_objection_term_is_a_setting() -> None:
    terms = AwbTerms(objection_weeks=8)
    assert objection_deadline(date(2024, 9, 3), calendar=CALENDAR, terms=terms) == date(
        2024, 10, 29
    )


# --- Inbox status --------------------------------------------------------------------------


def test_clock_status() -> None:
    deadline = date(2024, 3, 5)
    assert clock_status(date(2024, 3, 1), deadline) == ClockStatus(ClockState.RUNNING, 4)
    assert clock_status(date(2024, 3, 5), deadline) == ClockStatus(ClockState.RUNNING, 0)
    assert clock_status(date(2024, 3, 6), deadline) == ClockStatus(ClockState.OVERDUE, -1)
    suspended = clock_status(date(2024, 3, 1), deadline, suspended=True)
    assert suspended == ClockStatus(ClockState.SUSPENDED, 4)


def test_terms_are_validated() -> None:
    with pytest.raises(AwbError, match="decision_weeks"):
        AwbTerms(decision_weeks=0)
    with pytest.raises(AwbError, match="tier"):
        AwbTerms(penalty_tiers=())
    with pytest.raises(AwbError, match="tier"):
        AwbTerms(penalty_tiers=(PenaltyTier(0, Decimal("23")),))
    with pytest.raises(AwbError, match="before it starts"):
        DateSpan(date(2024, 1, 2), date(2024, 1, 1))


# --- Properties ----------------------------------------------------------------------------

DAYS = st.dates(min_value=date(2014, 1, 1), max_value=date(2099, 12, 31))
CALENDARS = st.sampled_from([CALENDAR, NO_BRIDGE_DAYS])


@given(DAYS, CALENDARS)
def test_stretch_lands_on_the_first_working_day_within_a_week(
    day: date, calendar: AtwCalendar
) -> None:
    stretched = calendar.stretch(day)
    assert calendar.is_working_day(stretched)
    assert stretched.weekday() not in (SATURDAY, SUNDAY)
    assert day <= stretched < day + timedelta(days=7)
    assert (stretched == day) == calendar.is_working_day(day)
    # No working day is skipped on the way.
    assert calendar.working_days_between(day, stretched) == (0 if stretched == day else 1)


@given(DAYS)
def test_every_year_has_its_holidays_on_the_right_weekdays(day: date) -> None:
    names = {name: when for when, name in CALENDAR.holidays(day.year).items()}
    assert date(day.year, 5, 5) in CALENDAR.holidays(day.year)
    assert names["Good Friday"].weekday() == 4
    assert names["Easter Monday"].weekday() == 0
    assert names["Whit Monday"].weekday() == 0
    assert names["King's Day"].weekday() != SUNDAY
    ascension = next(
        when for when, name in CALENDAR.holidays(day.year).items() if "Ascension" in name
    )
    assert ascension.weekday() == 3
    assert ascension - names["Easter Monday"] == timedelta(days=38)


REQUESTS = st.builds(
    lambda requested, answered, term: (requested, answered, term),
    st.integers(min_value=0, max_value=70),
    st.none() | st.integers(min_value=0, max_value=30),
    st.none() | st.integers(min_value=1, max_value=42),
)


@given(DAYS, st.lists(REQUESTS, max_size=4))
@settings(deadline=None)
def test_the_deadline_is_a_working_day_no_earlier_than_the_statutory_end(
    received_on: date, raw_requests: list[tuple[int, int | None, int | None]]
) -> None:
    requests = [
        InformationRequest(
            received_on + timedelta(days=offset),
            answered_on=None if answer is None else received_on + timedelta(days=offset + answer),
            term_days=term,
        )
        for offset, answer, term in raw_requests
    ]
    result = decision_deadline(received_on, calendar=CALENDAR, information_requests=requests)
    assert result.statutory_end == received_on + timedelta(weeks=8)
    assert result.statutory_end.weekday() == received_on.weekday()
    assert CALENDAR.is_working_day(result.deadline)
    assert result.unstretched_end <= result.deadline < result.unstretched_end + timedelta(days=7)
    # Every held day moves the end by one day, and no day is held twice.
    assert result.unstretched_end == result.statutory_end + timedelta(days=result.suspended_days)
    assert result.suspended_days <= sum(
        r.term_ends_on(DEFAULT_TERMS).toordinal() - r.requested_on.toordinal() for r in requests
    )
    # A request can only move the deadline later; dropping the last never moves it later.
    fewer = decision_deadline(received_on, calendar=CALENDAR, information_requests=requests[:-1])
    assert fewer.deadline <= result.deadline
    # Held days fall within the term.
    for span in result.suspensions:
        assert received_on < span.first and span.last < result.unstretched_end


@given(DAYS, st.integers(min_value=0, max_value=400))
def test_adding_and_counting_working_days_are_inverse(day: date, count: int) -> None:
    later = CALENDAR.add_working_days(day, count)
    assert CALENDAR.working_days_between(day, later) == count
    assert count == 0 or CALENDAR.is_working_day(later)


@given(DAYS, st.integers(min_value=0, max_value=60))
def test_counting_then_adding_reaches_the_last_working_day(day: date, span: int) -> None:
    end = day + timedelta(days=span)
    reached = CALENDAR.add_working_days(day, CALENDAR.working_days_between(day, end))
    assert reached <= end
    assert CALENDAR.working_days_between(reached, end) == 0


@given(
    st.dates(min_value=date(2021, 1, 1), max_value=date(2090, 12, 31)),
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=0, max_value=120),
    st.integers(min_value=0, max_value=120),
)
def test_the_penalty_grows_monotonically_to_at_most_1442(
    deadline: date, notice_after: int, first: int, second: int
) -> None:
    notice_received_on = deadline + timedelta(days=notice_after)
    earlier, later = sorted((first, second))

    def accrued(offset: int) -> Decimal:
        result = penalty(
            deadline=deadline,
            notice_received_on=notice_received_on,
            as_of=notice_received_on + timedelta(days=offset),
            calendar=CALENDAR,
        )
        assert 0 <= result.days <= 42
        assert result.amount == penalty_amount(result.days)
        return result.amount

    assert Decimal("0.00") <= accrued(earlier) <= accrued(later) <= Decimal("1442.00")


@given(st.integers(min_value=0, max_value=100))
def test_each_penalty_day_costs_its_tier_rate(days: int) -> None:
    step = penalty_amount(days + 1) - penalty_amount(days)
    expected = (
        Decimal("23")
        if days < 14
        else Decimal("35")
        if days < 28
        else Decimal("45")
        if days < 42
        else 0
    )
    assert step == expected


@given(DAYS)
def test_the_objection_term_ends_on_a_working_day_six_weeks_on(sent_on: date) -> None:
    last_day = objection_deadline(sent_on, calendar=CALENDAR)
    assert CALENDAR.is_working_day(last_day)
    assert sent_on + timedelta(weeks=6) <= last_day < sent_on + timedelta(weeks=6, days=7)
    assert objection_in_time(sent_on, last_day, calendar=CALENDAR)
    assert not objection_in_time(sent_on, last_day + timedelta(days=1), calendar=CALENDAR)


@given(DAYS, DAYS, st.booleans())
def test_clock_status_days_left_and_state_agree(today: date, deadline: date, held: bool) -> None:
    status = clock_status(today, deadline, suspended=held)
    assert status.days_left == (deadline - today).days
    if held:
        assert status.state is ClockState.SUSPENDED
    else:
        assert (status.state is ClockState.OVERDUE) == (today > deadline)
