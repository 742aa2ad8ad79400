"""Amounts in euros with cents, as people type them, and refusals that name the field."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields

from housing.errors import InvalidInput

CENT = Decimal("0.01")
# NUMERIC(12, 2): ten digits before the point.
MAX_AMOUNT = Decimal("9999999999.99")
# ASCII digits with at most two decimals, nothing else: Decimal() alone would also read an
# exponent ("1e999"), NaN, infinity and other scripts' digits ("１２"), which no amount is
# and which the database would refuse (or the quantize overflow) as a server error.
_AMOUNT = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,2})?")


def invalid(field: str, message: Any) -> InvalidInput:
    """A refusal of one field's value, shown beside that field."""
    return InvalidInput(message, field_errors={field: [message]})


def parse_money(value: Any, field: str) -> Decimal:
    """A non-negative amount in euros with at most two decimals, or a clear refusal.

    A euro sign and a decimal comma are accepted ("€ 1250,00"), a thousands mark is not.
    The one parser of amounts: every form and the API read money through it.
    """
    text = str(value if value is not None else "").strip().replace(" ", "")
    text = text.removeprefix("€").replace(",", ".")
    if not _AMOUNT.fullmatch(text):
        raise invalid(field, _l("Enter an amount in euros, such as 1250.00."))
    if text.startswith("-"):  # "-0" too: a sign that means nothing is a typing slip
        raise invalid(field, _l("The amount cannot be negative."))
    amount = Decimal(text)
    if amount > MAX_AMOUNT:
        raise invalid(field, _l("The amount is too large."))
    return amount.quantize(CENT)


# The API's amounts, as its document gives them: text in euros with a point for cents.
# In a request (a whole number of euros is also read): within NUMERIC(12, 2), not negative.
API_AMOUNT_IN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
# In an answer: always two decimals; a bank balance may be negative.
API_AMOUNT_OUT = r"^-?[0-9]{1,10}\.[0-9]{2}$"


class Money(fields.Field[Decimal]):
    """An amount in the API, read by `parse_money` as the forms read it; written as text
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
