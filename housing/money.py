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


class Money(fields.Field[Decimal]):
    """An amount in an API request, read by `parse_money` as the forms read it.

    A JSON string ("1250.00") or a whole number; a JSON float is refused, being inexact.
    """

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "pattern": _AMOUNT.pattern, "example": "1250.00"}
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError(str(_l("Enter an amount in euros, such as 1250.00.")))
        try:
            return parse_money(value, attr or "amount")
        except InvalidInput as refused:
            raise ValidationError(str(refused.message)) from None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else f"{Decimal(value):.2f}"
