"""The one clock: moments are UTC in the database; the law counts days in Amsterdam.

Services take a `Clock` (a function returning an aware UTC datetime) so tests can stop
time; every "which day is it" goes through `today(clock)`, never through the machine's
local date or a UTC date, which is the wrong day between midnight and 01:00 or 02:00.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_date(moment: dt.datetime) -> dt.date:
    """The day `moment` falls on in Amsterdam."""
    return moment.astimezone(AMSTERDAM).date()


def today(clock: Clock = utcnow) -> dt.date:
    """Today in Amsterdam, by `clock`."""
    return local_date(clock())
