"""Amounts in euros with cents, as people type them, and refusals that name the field."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l

from housing.errors import InvalidInput

CENT = Decimal("0.01")


def invalid(field: str, message: Any) -> InvalidInput:
    """A refusal of one field's value, shown beside that field."""
    return InvalidInput(message, field_errors={field: [message]})


def parse_money(value: Any, field: str) -> Decimal:
    """A non-negative amount with at most two decimals, or a clear refusal."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise invalid(field, _l("Enter an amount in euros, such as 1250.00.")) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(CENT):
        raise invalid(field, _l("Enter an amount in euros, such as 1250.00."))
    return amount
