"""Amounts: what people type is read in the page's language, what no amount is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask_babel import force_locale

from housing.errors import InvalidInput
from housing.money import MAX_AMOUNT, amount_text, parse_money, read_amount


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


# --- what a person types in a web form, in the page's language (read_amount) ----------
@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("1.850,00", Decimal("1850.00")),
        ("1850,00", Decimal("1850.00")),
        ("€ 1.850", Decimal("1850.00")),
        ("€ 1.850,00", Decimal("1850.00")),
        ("€\xa01.850,00", Decimal("1850.00")),  # as Babel writes it, pasted back
        ("1850", Decimal("1850.00")),
        ("1850,5", Decimal("1850.50")),
        ("1.850.000", Decimal("1850000.00")),
        # English typing where it can mean nothing else: a point and exactly two digits.
        ("1850.00", Decimal("1850.00")),
        ("1.85", Decimal("1.85")),
        (" 0 ", Decimal("0.00")),
        ("9.999.999.999,99", MAX_AMOUNT),
    ],
)
def test_dutch_typing_is_read(app, typed: str, amount: Decimal) -> None:
    assert read_amount(typed, "amount", "nl") == amount


@pytest.mark.parametrize(
    "typed",
    [
        "1.85,00",  # a point that groups two digits
        "18.50,00",
        "1.8500",  # a point followed by four digits: neither a group nor cents
        "1850.5",  # one digit after a point: English cents in a Dutch form? Refused.
        "1,850.00",  # the English order of the marks
        "1.850.00",
        "12,345",  # 12 euros and a third of a cent: refused, not rounded
        "1850,001",
        ",50",
        "1e999",
        "1e3",
        "１２",
        "NaN",
        "Infinity",
        "12 EUR",
        "",
        None,
    ],
)
def test_what_is_no_dutch_amount_is_refused_with_a_dutch_example(app, typed: object) -> None:
    with app.test_request_context(), force_locale("nl"):
        with pytest.raises(InvalidInput) as refused:
            read_amount(typed, "requested_amount")
        assert refused.value.field_errors == {
            "requested_amount": ["Vul een bedrag in euro in, zoals 1.250,00."]
        }


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("1,850.00", Decimal("1850.00")),
        ("€1,850", Decimal("1850.00")),
        ("1850.00", Decimal("1850.00")),
        ("1850", Decimal("1850.00")),
        ("12,345", Decimal("12345.00")),  # in English the comma groups thousands
        ("1850,00", Decimal("1850.00")),  # a comma and exactly two digits: Dutch cents
        ("1.85", Decimal("1.85")),
    ],
)
def test_english_typing_is_read(app, typed: str, amount: Decimal) -> None:
    assert read_amount(typed, "amount", "en_GB") == amount


@pytest.mark.parametrize("typed", ["1.850,00", "1,85,00", "1850.001", "1.850.000", "1,8500"])
def test_what_is_no_english_amount_is_refused_with_an_english_example(app, typed: str) -> None:
    with app.test_request_context(), force_locale("en_GB"):
        with pytest.raises(InvalidInput) as refused:
            read_amount(typed, "amount")
        assert [str(m) for m in refused.value.field_errors["amount"]] == [
            "Enter an amount in euros, such as 1,250.00."
        ]


@pytest.mark.parametrize("typed", ["-5", "-0", "- 1.850,00", "€ -1"])
def test_a_typed_sign_is_refused_as_negative(app, typed: str) -> None:
    with app.test_request_context(), force_locale("nl"):
        with pytest.raises(InvalidInput) as refused:
            read_amount(typed, "amount")
        assert [str(m) for m in refused.value.field_errors["amount"]] == [
            "Het bedrag kan niet negatief zijn."
        ]


def test_a_typed_amount_beyond_the_column_is_refused(app) -> None:
    with app.test_request_context(), force_locale("nl"):
        for typed in ("10.000.000.000,00", "99999999999999,99"):
            with pytest.raises(InvalidInput, match="te groot"):
                read_amount(typed, "amount")


def test_an_amount_is_shown_to_be_typed_over_in_the_pages_language(app) -> None:
    assert amount_text(Decimal("2400.00"), "nl") == "2.400,00"
    assert amount_text(Decimal("2400"), "en_GB") == "2,400.00"
    assert amount_text(Decimal("0.5"), "nl") == "0,50"
    assert amount_text(None, "nl") == ""
    # What a form shows, it reads back as the same amount.
    for amount in (Decimal("2400.00"), Decimal("1234567.89"), MAX_AMOUNT, Decimal("0.00")):
        for locale in ("nl", "en_GB"):
            assert read_amount(amount_text(amount, locale), "amount", locale) == amount
