"""Days as people give them: yyyy-mm-dd, or in the Dutch order dd-mm-yyyy, within a range
the domain can mean.

An <input type=date> sends yyyy-mm-dd whatever the page's language; where a browser shows
it as a plain text box, people type the day first: "20-11-2026", "20/11/2026" or
"20.11.2026" (one mark throughout), which is the British order too. The American
month-first order is never read: "11/20/2026" is refused, "02/12/2026" is 2 December.

PostgreSQL takes any day from 4713 BC, so a slip of the keyboard (0001-01-01, 20244-05-01
is refused by the parser, 1024-05-01 is not) would be stored and then count in deadlines,
letters and bank files. Every day read from a person is bounded here:

- any day: 1900 to 2100. Office terms, deadlines, execution dates and holidays fall well
  inside; a day outside is a typing error.
- evidence of something that happened (the woningscan, the security advice, an invoice or
  receipt, the receipt of a notice of default): from 2000 on, and never in the future.
  The scheme dates from 1 January 2021 (DOMAIN.md §1); 2000 leaves room for an older PKVW
  scan or a receipt kept on paper, and still refuses a mistyped century. "Not in the
  future" needs the service's clock, so the services check it (`parse_day` with
  `latest=today`); the fields and forms check the fixed bounds, so the API documents them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields
from wtforms import Field, Form
from wtforms.validators import StopValidation

from housing.errors import InvalidInput

EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2100, 12, 31)
# The first day a scan, an advice, an invoice or a notice can bear (see above).
EVIDENCE_FROM = dt.date(2000, 1, 1)

DATE_FORMAT = _l("Enter a date as yyyy-mm-dd.")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAY_FIRST = re.compile(r"([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4})")


def out_of_range(earliest: dt.date, latest: dt.date) -> Any:
    return _l(
        "Enter a date from %(earliest)s to %(latest)s.",
        earliest=earliest.isoformat(),
        latest=latest.isoformat(),
    )


def check_day(day: dt.date, earliest: dt.date = EARLIEST, latest: dt.date = LATEST) -> Any:
    """The refusal of `day` (a message), or None when it lies in the range."""
    if earliest <= day <= latest:
        return None
    return out_of_range(earliest, latest)


def read_day(text: str) -> dt.date:
    """The day `text` names, as yyyy-mm-dd or dd-mm-yyyy; ValueError when it names none.
    The range is the caller's: `parse_day`, or a form field's `DayRange`."""
    text = text.strip()
    day_first = _DAY_FIRST.fullmatch(text)
    if day_first:
        return dt.date(int(day_first[4]), int(day_first[3]), int(day_first[1]))
    # fromisoformat alone also reads 20240501 and 2024-W18-3: a person types neither.
    if not _DAY.fullmatch(text):
        raise ValueError(text)
    return dt.date.fromisoformat(text)


def parse_day(
    value: Any, field: str, *, earliest: dt.date = EARLIEST, latest: dt.date = LATEST
) -> dt.date:
    """A day (a date, or text as `read_day` reads it) within the range, or a refusal at
    `field`.

    The one reader of days in the services: the forms' raw values and the API's details.
    """
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = read_day(str(value if value is not None else ""))
        except ValueError:
            raise InvalidInput(DATE_FORMAT, field_errors={field: [DATE_FORMAT]}) from None
    refused = check_day(day, earliest, latest)
    if refused is not None:
        raise InvalidInput(refused, field_errors={field: [refused]})
    return day


class Day(fields.Date):
    """A day in an API request (yyyy-mm-dd), refused at its field outside the range."""

    def __init__(
        self, *, earliest: dt.date = EARLIEST, latest: dt.date = LATEST, **kwargs: Any
    ) -> None:
        self.earliest, self.latest = earliest, latest
        metadata = {
            "description": f"From {earliest.isoformat()} to {latest.isoformat()}.",
            "x-minimum": earliest.isoformat(),
            "x-maximum": latest.isoformat(),
        }
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        day = super()._deserialize(value, attr, data, **kwargs)
        refused = check_day(day, self.earliest, self.latest)
        if refused is not None:
            raise ValidationError(str(refused))
        return day


def evidence_day(**kwargs: Any) -> Day:
    """The day of a scan, an advice, an invoice or a notice (the future: the service)."""
    return Day(earliest=EVIDENCE_FROM, **kwargs)


class DayRange:
    """A WTForms validator: the field's day lies in the range, or a message at the field."""

    def __init__(self, earliest: dt.date = EARLIEST, latest: dt.date = LATEST) -> None:
        self.earliest, self.latest = earliest, latest

    def __call__(self, form: Form, field: Field) -> None:
        day = field.data
        if isinstance(day, dt.date):
            refused = check_day(day, self.earliest, self.latest)
            if refused is not None:
                raise StopValidation(str(refused))
