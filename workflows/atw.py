"""The Atw calendar: the days on which a term set in a law cannot end.

Algemene termijnenwet art. 1 and 3: Saturdays, Sundays, the recognised holidays, Good
Friday and the days equated with a holiday by royal decree. Pure functions on
`datetime.date`, as the rest of the Awb clock (workflows/awb.py), which stretches the last
day of a term with this calendar.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.easter import easter

__all__ = ["FIRST_YEAR", "KNOWN_EQUATED_DAYS", "AtwCalendar", "AwbError"]

ONE_DAY = timedelta(days=1)

# King's Day has been 27 April since 2014; earlier years had Queen's Day on other dates.
# No regime applies before 2021, so we refuse earlier years rather than guess.
FIRST_YEAR = 2014

EQUATED_DAY = "Equated day (royal decree)"

# Bridge days equated with a holiday by royal decree (Atw art. 3(3)), published about three
# years ahead. Seed data only: the administrator extends the list, so it is a parameter.
KNOWN_EQUATED_DAYS: frozenset[date] = frozenset(
    {
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
    }
)


class AwbError(ValueError):
    """A recorded fact that the Awb does not allow, or input the clock cannot use."""


@functools.cache
def _recognised_holidays(year: int) -> tuple[tuple[date, str], ...]:
    """Atw art. 3 holidays and Good Friday in `year`, by date."""
    if year < FIRST_YEAR:
        raise AwbError(f"The Atw calendar starts in {FIRST_YEAR}; {year} is not supported.")
    easter_sunday = easter(year)
    kings_day = date(year, 4, 27)
    if kings_day.weekday() == 6:
        kings_day = date(year, 4, 26)
    named = [
        (date(year, 1, 1), "New Year's Day"),
        (easter_sunday - timedelta(days=2), "Good Friday"),
        (easter_sunday + timedelta(days=1), "Easter Monday"),
        (kings_day, "King's Day"),
        # Every year, not only every fifth: the Atw names 5 May without condition.
        (date(year, 5, 5), "Liberation Day"),
        (easter_sunday + timedelta(days=39), "Ascension Day"),
        (easter_sunday + timedelta(days=50), "Whit Monday"),
        (date(year, 12, 25), "Christmas Day"),
        (date(year, 12, 26), "Boxing Day"),
    ]
    by_date: dict[date, str] = {}
    for day, name in named:
        # Ascension Day can fall on 5 May (as in 2016): keep both names.
        by_date[day] = f"{by_date[day]}; {name}" if day in by_date else name
    return tuple(sorted(by_date.items()))


@functools.cache
def _holiday_dates(year: int) -> frozenset[date]:
    return frozenset(day for day, _ in _recognised_holidays(year))


@dataclass(frozen=True)
class AtwCalendar:
    """The days on which a term set in a law cannot end (Atw art. 1 and 3)."""

    equated_days: frozenset[date] = KNOWN_EQUATED_DAYS

    def __post_init__(self) -> None:
        # Accept any iterable of dates, but keep the calendar hashable and immutable.
        object.__setattr__(self, "equated_days", frozenset(self.equated_days))

    def with_equated_days(self, days: Iterable[date]) -> AtwCalendar:
        """Return a calendar with further equated days added."""
        return AtwCalendar(self.equated_days | frozenset(days))

    def holidays(self, year: int) -> dict[date, str]:
        """Return the recognised, Good Friday and equated days of `year`, by date."""
        names = dict(_recognised_holidays(year))
        for day in self.equated_days:
            if day.year == year:
                names[day] = f"{names[day]}; {EQUATED_DAY}" if day in names else EQUATED_DAY
        return dict(sorted(names.items()))

    def holiday_name(self, day: date) -> str | None:
        """Return why `day` is a holiday, or None if it is not one."""
        return self.holidays(day.year).get(day)

    def is_holiday(self, day: date) -> bool:
        """Tell whether `day` is a recognised holiday, Good Friday or an equated day."""
        return day in _holiday_dates(day.year) or day in self.equated_days

    def is_working_day(self, day: date) -> bool:
        """Tell whether `day` is neither a Saturday, a Sunday nor a holiday."""
        return day.weekday() < 5 and not self.is_holiday(day)

    def next_working_day(self, day: date) -> date:
        """Return `day` if it is a working day, else the first working day after it."""
        while not self.is_working_day(day):
            day += ONE_DAY
        return day

    def stretch(self, last_day: date) -> date:
        """Return the last day of a term set in a law that would end on `last_day` (Atw art. 1)."""
        return self.next_working_day(last_day)

    def add_working_days(self, day: date, count: int) -> date:
        """Return the `count`-th working day after `day` (`day` itself when `count` is 0)."""
        if count < 0:
            raise AwbError(f"Cannot add a negative number of working days ({count}).")
        while count:
            day += ONE_DAY
            if self.is_working_day(day):
                count -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Count the working days after `start` up to and including `end`."""
        if end < start:
            raise AwbError(f"The end {end} lies before the start {start}.")
        return sum(
            self.is_working_day(start + timedelta(days=offset))
            for offset in range(1, (end - start).days + 1)
        )
