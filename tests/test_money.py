"""The one parser of amounts: what people type is read, what no amount is gets a refusal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from housing.errors import InvalidInput
from housing.money import MAX_AMOUNT, parse_money


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("1250.00", Decimal("1250.00")),
        ("1250", Decimal("1250.00")),
        ("1250,5", Decimal("1250.50")),
        ("€ 1250,00", Decimal("1250.00")),
        (" 0 ", Decimal("0.00")),
        (Decimal("12.5"), Decimal("12.50")),
        (7, Decimal("7.00")),
        ("9999999999.99", MAX_AMOUNT),
    ],
)
def test_amounts_people_type_are_read(typed: object, amount: Decimal) -> None:
    assert parse_money(typed, "amount") == amount


@pytest.mark.parametrize(
    "typed",
    # Each once reached the database or the quantize and ended as a server error, or was
    # taken for an amount it is not.
    ["1e999", "1e9", "１２", "1.005", "NaN", "Infinity", "-0", "-5", "", None, "12 EUR"],
)
def test_what_is_no_amount_is_refused_at_its_field(typed: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_money(typed, "requested_amount")
    assert list(refused.value.field_errors) == ["requested_amount"]


def test_an_amount_beyond_the_column_is_refused_not_overflowed() -> None:
    with pytest.raises(InvalidInput, match="too large"):
        parse_money("99999999999999.99", "amount")
    with pytest.raises(InvalidInput, match="too large"):
        parse_money("10000000000.00", "amount")
