"""Amounts in euros with cents, as people type them, and refusals that name the field.

Two readers, one set of bounds (`_bounded`):

- `read_amount`: what a person types in a web form, in the page's language (Babel's
  `parse_decimal`, strict). Every form that takes an amount reads it there, through
  `AmountField` or, in a hand-written form, directly.
- `parse_money`: the machine form (digits, a point for cents), a Decimal or an integer:
  the API (after its documented pattern, `Money`) and the services, which check again
  whatever reaches them.

How `read_amount` reads, in Dutch ("." groups thousands, "," marks the cents):
"1.850,00", "1850,00", "€ 1.850", "€ 1.850,00" and "1850" are 1850.00. English typing is
read too where it cannot mean anything else: a single point followed by exactly two
digits, with no comma, is a decimal point ("1850.00" and "1.85" are 1850.00 and 1.85), as
the API, a bank statement and this service's earlier hints write amounts; a point
followed by three digits groups thousands ("1.850" is 1850). Everything else Babel's
strict reading decides, and it refuses a point that groups wrongly ("1.85,00",
"18.50,00", "1.8500"), the marks in the English order ("1,850.00"), and three decimals
("12,345" is twelve euros and a third of a cent in Dutch: refused, not rounded).
In English the marks swap: "1,850.00", "€1,850", "1850.00" and "12,345" (12345.00) are
read, and a single comma followed by exactly two digits is a decimal comma ("1850,00");
"1.850,00" is refused there.
Never read: a sign ("-5", "-0"), an exponent, NaN, other scripts' digits, other letters.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from babel import Locale
from babel.numbers import (
    NumberFormatError,
    format_decimal,
    get_decimal_symbol,
    get_group_symbol,
    parse_decimal,
)
from flask_babel import format_currency, get_locale
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields
from wtforms import StringField

from housing.errors import InvalidInput

CENT = Decimal("0.01")
# NUMERIC(12, 2): ten digits before the point.
MAX_AMOUNT = Decimal("9999999999.99")
# ASCII digits with at most two decimals, nothing else: Decimal() alone would also read an
# exponent ("1e999"), NaN, infinity and other scripts' digits ("１２"), which no amount is
# and which the database would refuse (or the quantize overflow) as a server error.
_AMOUNT = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,2})?")
# What a person may type, after the euro sign and spaces: ASCII digits and the two marks.
_TYPED = re.compile(r"[0-9][0-9.,]{0,24}")
# The refusal of a typed amount, its example in the page's language (nl: "1.250,00").
TYPED_FORMAT = _l("Enter an amount in euros, such as 1,250.00.")
NEGATIVE = _l("The amount cannot be negative.")
# When no request says which language: the service's default (housing.i18n).
_FALLBACK_LOCALE = "nl"


def invalid(field: str, message: Any) -> InvalidInput:
    """A refusal of one field's value, shown beside that field."""
    return InvalidInput(message, field_errors={field: [message]})


def parse_money(value: Any, field: str) -> Decimal:
    """A non-negative amount in euros with at most two decimals, or a clear refusal.

    The machine form: a Decimal, an integer, or digits with a point (a euro sign and a
    decimal comma are also read, "€ 1250,00"; a thousands mark is not). The API and the
    services read money through it; a web form reads a person's typing with `read_amount`.
    """
    text = str(value if value is not None else "").strip().replace(" ", "")
    text = text.removeprefix("€").replace(",", ".")
    if not _AMOUNT.fullmatch(text):
        raise invalid(field, _l("Enter an amount in euros, such as 1250.00."))
    if text.startswith("-"):  # "-0" too: a sign that means nothing is a typing slip
        raise invalid(field, NEGATIVE)
    return _bounded(Decimal(text), field)


def _bounded(amount: Decimal, field: str) -> Decimal:
    """`amount` (at most two decimals, not negative) within the column, with cents."""
    if amount > MAX_AMOUNT:
        raise invalid(field, _l("The amount is too large."))
    return amount.quantize(CENT)


def _locale(locale: Locale | str | None) -> Locale:
    return Locale.parse(locale or get_locale() or _FALLBACK_LOCALE)


def read_amount(value: Any, field: str, locale: Locale | str | None = None) -> Decimal:
    """An amount as a person types it in `locale` (else the page's language), or a
    refusal at `field` with an example in that language. What is read: see above.
    """
    where = _locale(locale)
    # Every space goes, a non-breaking one too ("€ 1.850,00" as Babel writes it).
    text = "".join(str(value if value is not None else "").split()).removeprefix("€")
    if text.startswith("-"):
        raise invalid(field, NEGATIVE)
    if not _TYPED.fullmatch(text):
        raise invalid(field, TYPED_FORMAT)
    decimal, group = get_decimal_symbol(where), get_group_symbol(where)
    before, _mark, cents = text.rpartition(group)
    if text.count(group) == 1 and decimal not in text and len(cents) == 2:
        text = f"{before}{decimal}{cents}"  # the other language's decimal mark
    try:
        amount = parse_decimal(text, where, strict=True)
    except NumberFormatError:
        raise invalid(field, TYPED_FORMAT) from None
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -2:  # a part of a cent: no amount
        raise invalid(field, TYPED_FORMAT)
    return _bounded(amount, field)


def amount_text(amount: Decimal | None, locale: Locale | str | None = None) -> str:
    """An amount as a form shows it to be typed over: "2.400,00" in Dutch, no euro sign."""
    if amount is None:
        return ""
    return format_decimal(amount, format="#,##0.00", locale=_locale(locale))


def money_text(amount: Decimal | None) -> str:
    """An amount in running text in the page's language, "€ 2.400,00": the `money` filter."""
    return "" if amount is None else str(format_currency(amount, "EUR"))


class AmountField(StringField):
    """An amount in a web form: read by `read_amount`, shown by `amount_text`, both in the
    page's language. Empty is None (InputRequired or Optional say whether that will do)."""

    data: Decimal | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        if not valuelist or not str(valuelist[0]).strip():
            return
        try:
            self.data = read_amount(valuelist[0], self.name)
        except InvalidInput as refused:
            raise ValueError(str(refused.message)) from None

    def _value(self) -> str:
        if self.raw_data:  # what was typed, shown again beside its refusal
            return str(self.raw_data[0])
        return amount_text(self.data)


# The API's amounts, as its document gives them: text in euros with a point for cents.
# In a request (a whole number of euros is also read): within NUMERIC(12, 2), not negative.
API_AMOUNT_IN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
# In an answer: always two decimals; a bank balance may be negative.
API_AMOUNT_OUT = r"^-?[0-9]{1,10}\.[0-9]{2}$"


class Money(fields.Field[Decimal]):
    """An amount in the API, read by `parse_money` as the services read it; written as text
    with two decimals. Documented as a string with a pattern, as it is served.

    A request gives a JSON string in the documented form ("1250.00") or a whole number of
    euros; a JSON float is refused, being inexact, and so is the forms' leniency (a euro
    sign, a decimal comma): the API's contract is its document.
    """

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "type": ["string", "integer"],
            "pattern": API_AMOUNT_IN,
            "minimum": 0,
            "maximum": int(MAX_AMOUNT),
            "example": "1250.00",
        }
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)

    @classmethod
    def out(cls, **kwargs: Any) -> Money:
        """An amount in an answer: a string, such as "1250.00" (or null if `allow_none`)."""
        metadata = {"type": "string", "pattern": API_AMOUNT_OUT, "example": "1250.00"}
        field = cls(**kwargs)
        field.metadata = {**metadata, **kwargs.get("metadata", {})}
        return field

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, float) and value.is_integer():  # 250.0 is JSON's integer 250
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError(str(_l("Enter an amount in euros, such as 1250.00.")))
        if isinstance(value, str) and not re.fullmatch(API_AMOUNT_IN, value):
            raise ValidationError(str(_l("Enter an amount in euros, such as 1250.00.")))
        try:
            return parse_money(value, attr or "amount")
        except InvalidInput as refused:
            raise ValidationError(str(refused.message)) from None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else f"{Decimal(value):.2f}"
