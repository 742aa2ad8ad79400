"""The camt.053 reader: hand-written fixtures parse right, hostile files are refused."""

from __future__ import annotations

import dataclasses
import shutil
import time
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from housing.config import PROJECT_ROOT
from housing.payments import camt
from housing.payments.camt import (
    DEFAULT_XSD_PATH,
    RETURN_REASONS_NL,
    CamtError,
    CamtSchemaError,
    CreditDebit,
    EntryStatus,
    ReferenceSource,
    describe_return,
    parse_statement,
    resolve_xsd_path,
    signed_amount,
)

FIXTURES = Path(__file__).parent / "fixtures" / "camt053"
VALID = [
    "single_debit.xml",
    "batch_with_details.xml",
    "batch_without_details.xml",
    "return.xml",
    "two_statements.xml",
]
CET = timezone(timedelta(hours=1))
OUR_IBAN = "NL91ABNA0417164300"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def refused(data: bytes, **kwargs: object) -> CamtError:
    with pytest.raises(CamtError) as caught:
        parse_statement(data, **kwargs)  # type: ignore[arg-type]
    return caught.value


# --- the valid fixtures ---------------------------------------------------------------------


def test_single_debit() -> None:
    document = parse_statement(fixture("single_debit.xml"))

    assert document.message_id == "ABNA-CAMT-20260106-0001"
    assert document.created_at == datetime(2026, 1, 6, 6, 15, tzinfo=CET)
    assert document.version == "camt.053.001.02"
    (statement,) = document.statements
    assert statement.statement_id == "NL91ABNA0417164300-2026-005"
    assert statement.electronic_sequence_number == 5
    assert statement.created_at == datetime(2026, 1, 6, 5, 15, tzinfo=UTC)
    assert statement.account_iban == OUR_IBAN
    assert statement.currency == "EUR"
    assert statement.opening_balance.type_code == "OPBD"
    assert statement.opening_balance.amount == Decimal("125000.00")
    assert statement.opening_balance.credit_debit is CreditDebit.CREDIT
    assert statement.opening_balance.date == date(2026, 1, 5)
    assert statement.closing_balance.type_code == "CLBD"
    assert statement.closing_balance.signed_amount == Decimal("123765.50")

    (entry,) = statement.entries
    assert entry.reference == "2026010500001"
    assert entry.reference_source is ReferenceSource.ENTRY_REF
    assert entry.account_servicer_ref == "ABNA0105A1B2C3"
    assert entry.amount == Decimal("1234.50")
    assert isinstance(entry.amount, Decimal)
    assert entry.currency == "EUR"
    assert entry.credit_debit is CreditDebit.DEBIT
    assert entry.signed_amount == Decimal("-1234.50")
    assert entry.reversal is False
    assert entry.status is EntryStatus.BOOKED
    assert entry.booking_date == entry.value_date == date(2026, 1, 5)
    code = entry.bank_transaction_code
    assert code is not None
    assert (code.domain, code.family, code.subfamily) == ("PMNT", "ICDT", "ESCT")
    assert entry.batch is None and entry.batches == ()
    assert not entry.is_return

    (detail,) = entry.details
    assert detail.end_to_end_id == "VW-2026-00001-P1"
    assert detail.payment_information_id == "VW-PMT-2026-0001"
    assert detail.message_id == "VW-MSG-2026-0001"
    assert detail.instruction_id == "VW-INS-2026-0001"
    assert detail.amount == Decimal("1234.50")
    assert detail.signed_amount == Decimal("-1234.50")
    assert detail.credit_debit is CreditDebit.DEBIT
    # We paid, so the counterparty is the creditor, not ourselves.
    assert detail.counterparty_name == "Beveiliging Noord B.V."
    assert detail.counterparty_iban == "NL44RABO0123456789"
    assert detail.debtor_iban == OUR_IBAN
    assert detail.remittance == "Factuur 2026-118 dossier VW-2026-00001"
    assert detail.return_info is None


def test_batch_with_details() -> None:
    (statement,) = parse_statement(fixture("batch_with_details.xml")).statements
    (entry,) = statement.entries

    assert entry.amount == Decimal("3000.00")
    assert entry.credit_debit is CreditDebit.DEBIT
    batch = entry.batch
    assert batch is not None
    assert batch.message_id == "VW-MSG-2026-0002"
    assert batch.payment_information_id == "VW-PMT-2026-0002"
    assert batch.number_of_transactions == 3
    assert batch.total_amount == Decimal("3000.00")
    assert batch.currency == "EUR"
    assert batch.credit_debit is CreditDebit.DEBIT
    assert [d.end_to_end_id for d in entry.details] == [
        "VW-2026-00002-P1",
        "VW-2026-00003-P1",
        "VW-2026-00004-P2",
    ]
    assert [d.amount for d in entry.details] == [
        Decimal("1200.00"),
        Decimal("950.25"),
        Decimal("849.75"),
    ]
    assert sum(d.amount or 0 for d in entry.details) == entry.amount == batch.total_amount
    assert all(d.credit_debit is CreditDebit.DEBIT for d in entry.details)
    assert [d.counterparty_iban for d in entry.details] == [
        "NL20INGB0001234567",
        "NL39RABO0300065264",
        "NL36INGB0007654321",
    ]
    # Several Ustrd lines are one remittance text.
    assert entry.details[0].remittance == "Factuur 4471 VW-2026-00002"
    code = entry.bank_transaction_code
    assert code is not None
    assert (code.proprietary, code.proprietary_issuer) == ("N541", "ABNAMRO")


def test_batch_without_details_uses_the_servicer_reference() -> None:
    (statement,) = parse_statement(fixture("batch_without_details.xml")).statements
    (entry,) = statement.entries

    assert entry.entry_ref is None
    assert entry.reference == "ABNA0119E4F5A6"
    assert entry.reference_source is ReferenceSource.SERVICER_REF
    assert entry.details == ()
    assert entry.signed_amount == Decimal("-1500.00")
    batch = entry.batch
    assert batch is not None
    assert batch.payment_information_id == "VW-PMT-2026-0003"
    assert batch.number_of_transactions == 2
    assert batch.total_amount == Decimal("1500.00")
    assert batch.credit_debit is None  # absent in the file: not guessed
    assert entry.additional_info == "BATCH VW-PMT-2026-0003 2 POSTEN"
    assert statement.created_at == datetime(2026, 1, 20, 5, 30, tzinfo=UTC)


def test_return_carries_reason_and_dutch_text() -> None:
    (statement,) = parse_statement(fixture("return.xml")).statements
    (entry,) = statement.entries

    assert entry.credit_debit is CreditDebit.CREDIT
    assert entry.signed_amount == Decimal("1234.50")
    assert entry.is_return
    code = entry.bank_transaction_code
    assert code is not None and code.subfamily == "RRTN"
    (detail,) = entry.details
    assert detail.end_to_end_id == "VW-2026-00001-P1"
    info = detail.return_info
    assert info is not None
    assert info.reason_code == info.code == "AC04"
    assert info.description_nl == "Rekening opgeheven"
    assert info.additional_info == ("Rekening opgeheven per 31-12-2025",)
    # On a credit the counterparty is the debtor: the payee whose account is closed.
    assert detail.counterparty_name == "Beveiliging Noord B.V."
    assert detail.counterparty_iban == "NL44RABO0123456789"


def test_two_statements_are_consecutive() -> None:
    document = parse_statement(fixture("two_statements.xml"))
    first, second = document.statements

    assert document.created_at == datetime(2026, 2, 4, 6, 15, 0, 250000, tzinfo=CET)
    assert (first.electronic_sequence_number, second.electronic_sequence_number) == (30, 31)
    assert second.opening_balance.type_code == "PRCD"
    assert second.opening_balance.signed_amount == first.closing_balance.signed_amount
    assert second.closing_balance.amount == Decimal("9250.00")
    # Without Acct/Ccy the currency is the balances'.
    assert second.currency == "EUR"
    assert [b.type_code for b in second.balances] == ["PRCD", "CLBD", "CLAV"]
    assert second.balances[2].date == date(2026, 2, 3)

    # A single detail without AmtDtls is the whole entry.
    (detail,) = first.entries[0].details
    assert detail.amount == Decimal("1000.00") and detail.currency == "EUR"
    assert detail.counterparty_name == "J. de Vries"

    booked, pending = second.entries
    assert booked.details == ()
    assert booked.booking_date == date(2026, 2, 3)  # from BookgDt/DtTm
    assert booked.additional_info == "TERUGBETALING TE VEEL ONTVANGEN VW-2026-00002"
    assert pending.status is EntryStatus.PENDING
    assert pending.booking_date is None
    code = pending.bank_transaction_code
    assert code is not None
    assert (code.domain, code.proprietary) == (None, "PENDING-CT")


@pytest.mark.parametrize("name", VALID)
def test_booked_entries_add_up_to_the_closing_balance(name: str) -> None:
    for statement in parse_statement(fixture(name)).statements:
        booked = sum(
            (e.signed_amount for e in statement.entries if e.status is EntryStatus.BOOKED),
            Decimal(0),
        )
        assert statement.opening_balance.signed_amount + booked == (
            statement.closing_balance.signed_amount
        )


def test_results_are_frozen() -> None:
    document = parse_statement(fixture("single_debit.xml"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        document.statements[0].entries[0].amount = Decimal(0)  # type: ignore[misc]


def test_entry_without_any_reference_is_keyed_by_position() -> None:
    data = fixture("batch_without_details.xml").replace(
        b"<AcctSvcrRef>ABNA0119E4F5A6</AcctSvcrRef>", b""
    )
    (entry,) = parse_statement(data).statements[0].entries
    assert (entry.reference, entry.reference_source) == ("#1", ReferenceSource.POSITION)


def test_reversal_indicator() -> None:
    data = fixture("batch_without_details.xml").replace(b">false<", b">true<")
    assert parse_statement(data).statements[0].entries[0].reversal is True


def test_utf8_byte_order_mark_is_accepted() -> None:
    document = parse_statement(b"\xef\xbb\xbf" + fixture("single_debit.xml"))
    assert document.statements[0].statement_id == "NL91ABNA0417164300-2026-005"


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code", "phrase"),
    [
        ("malformed.xml", "not_xml", "not well-formed XML (line 12)"),
        ("wrong_schema.xml", "schema", "does not match the camt.053.001.02 standard"),
        ("xml_bomb.xml", "doctype", "DOCTYPE or entity declaration"),
        ("external_entity.xml", "doctype", "DOCTYPE or entity declaration"),
        ("wrong_namespace.xml", "namespace", "not a camt.053 bank statement (found camt.052"),
    ],
)
def test_hostile_and_invalid_files_are_refused(name: str, code: str, phrase: str) -> None:
    error = refused(fixture(name))
    assert error.code == code
    assert phrase in error.message
    assert str(error) == error.message
    assert isinstance(error, ValueError)


def test_schema_error_names_what_is_missing_without_namespaces() -> None:
    message = refused(fixture("wrong_schema.xml")).message
    assert "CreDtTm" in message
    assert "urn:iso" not in message


def test_xml_bomb_is_refused_fast_without_expansion() -> None:
    started = time.perf_counter()
    error = refused(fixture("xml_bomb.xml"))
    assert time.perf_counter() - started < 0.5
    assert "lol" not in error.message  # nothing of the payload, let alone a billion of it


def test_external_entity_never_reaches_the_file() -> None:
    assert "root:" not in refused(fixture("external_entity.xml")).message


def test_the_parser_itself_does_not_resolve_entities() -> None:
    # Defence in depth: even without the DOCTYPE refusal, the parser neither reads the file
    # nor expands the bomb (libxml2 either keeps the reference or refuses the amplification).
    root = etree.fromstring(fixture("external_entity.xml"), camt._xml_parser())
    assert "root:" not in etree.tostring(root, encoding="unicode")
    try:
        bomb = etree.fromstring(fixture("xml_bomb.xml"), camt._xml_parser())
    except etree.XMLSyntaxError:
        return
    assert len(etree.tostring(bomb)) < 10_000


@pytest.mark.parametrize(
    "prolog",
    [
        b"<!DOCTYPE Document>",
        b'<!DOCTYPE Document SYSTEM "http://example.invalid/camt.dtd">',
        b"<!doctype Document>",
    ],
)
def test_any_doctype_is_refused(prolog: bytes) -> None:
    data = fixture("single_debit.xml").replace(b"<Document", prolog + b"\n<Document", 1)
    assert refused(data).code == "doctype"


def test_a_utf16_disguise_does_not_slip_past_the_declaration_check() -> None:
    data = fixture("xml_bomb.xml").decode().replace("UTF-8", "UTF-16").encode("utf-16")
    assert refused(data).code == "not_xml"


@pytest.mark.parametrize("version", ["camt.053.001.04", "camt.053.001.08"])
def test_later_versions_are_refused_naming_the_supported_one(version: str) -> None:
    data = fixture("single_debit.xml").replace(b"camt.053.001.02", version.encode())
    error = refused(data)
    assert error.code == "unsupported_version"
    assert version in error.message and "only camt.053.001.02" in error.message


@pytest.mark.parametrize(
    "data",
    [
        b"<Document><BkToCstmrStmt/></Document>",
        b'<Foo xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"/>',
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"/>',
    ],
)
def test_other_documents_are_refused(data: bytes) -> None:
    assert refused(data).code == "namespace"


@pytest.mark.parametrize("data", [b"", b"   ", b"%PDF-1.7\n", b"\xff\xd8\xff\xe0", b"<a>&x;</a>"])
def test_non_xml_is_refused(data: bytes) -> None:
    assert refused(data).code == "not_xml"


def test_missing_opening_balance_is_refused() -> None:
    data = fixture("single_debit.xml")
    start = data.index(b"<Bal>")
    data = data[:start] + data[data.index(b"</Bal>") + len(b"</Bal>") :]
    error = refused(data)
    assert error.code == "content"
    assert "no opening balance" in error.message


def test_a_time_without_offset_is_amsterdam_time() -> None:
    data = fixture("single_debit.xml").replace(b"T06:15:00+01:00", b"T06:15:00", 1)
    assert parse_statement(data).created_at == datetime(2026, 1, 6, 5, 15, tzinfo=UTC)


def test_values_wider_than_python_are_refused() -> None:
    # xs:dateTime allows 24:00:00; datetime does not. Still a CamtError, never a crash.
    data = fixture("single_debit.xml").replace(b"T06:15:00+01:00", b"T24:00:00", 1)
    assert refused(data).code == "content"


# --- size limit and schema location ---------------------------------------------------------


def test_size_limit_is_checked_before_parsing() -> None:
    data = fixture("single_debit.xml")
    assert parse_statement(data, max_bytes=len(data)).statements
    error = refused(data, max_bytes=len(data) - 1)
    assert error.code == "too_large"
    # Garbage over the limit is refused for its size, so it was never parsed.
    assert refused(b"\x00" * 2048, max_bytes=1024).code == "too_large"
    big = refused(b" " * (3 * 1024 * 1024), max_bytes=2 * 1024 * 1024).message
    assert "3.0 MB" in big and "2.0 MB" in big


def test_the_default_xsd_ships_with_the_code_and_equals_the_shared_one() -> None:
    assert resolve_xsd_path() == DEFAULT_XSD_PATH
    assert DEFAULT_XSD_PATH.is_file()
    shared = PROJECT_ROOT.parent / "shared" / "iso20022" / "camt.053.001.02.xsd"
    if shared.is_file():  # beside the shared folder (a developer's machine): the same bytes
        assert shared.read_bytes() == DEFAULT_XSD_PATH.read_bytes()


def test_missing_xsd_raises_never_skips(tmp_path: Path) -> None:
    data = fixture("single_debit.xml")
    # The operator learns which setting names the schema (tests/test_services.py: the app's).
    with pytest.raises(CamtSchemaError, match=r"XSD is missing at .* \(set CAMT_XSD_PATH\)"):
        parse_statement(data, xsd_path=tmp_path / "absent.xsd")
    # A deployment fault, so it must not pass for a bad upload.
    assert not issubclass(CamtSchemaError, ValueError)


def test_unreadable_xsd_raises(tmp_path: Path) -> None:
    broken = tmp_path / "camt.053.001.02.xsd"
    broken.write_text("<xs:schema")
    with pytest.raises(CamtSchemaError, match="cannot be loaded"):
        parse_statement(fixture("single_debit.xml"), xsd_path=broken)


def test_the_xsd_path_may_name_a_folder_holding_the_schema(tmp_path: Path) -> None:
    shutil.copy(DEFAULT_XSD_PATH, tmp_path / DEFAULT_XSD_PATH.name)
    assert resolve_xsd_path(tmp_path) == tmp_path / DEFAULT_XSD_PATH.name
    assert parse_statement(fixture("single_debit.xml"), xsd_path=tmp_path).statements


# --- return reasons and signs ---------------------------------------------------------------


def test_return_reasons_in_dutch() -> None:
    assert describe_return("AC04") == "Rekening opgeheven"
    assert describe_return("AC06") == "Rekening geblokkeerd"
    assert describe_return("MS03") == "Reden niet opgegeven"
    assert describe_return(" ac04 ") == "Rekening opgeheven"
    assert describe_return("XX99") == "Onbekende reden (XX99)"
    assert describe_return("") == "Onbekende reden (geen code)"
    expected = {"AC01", "AC04", "AC06", "AG01", "AG02", "AM04", "AM05", "BE04", "MD07"}
    expected |= {"MS02", "MS03", "RC01", "RR01", "RR02", "RR03", "RR04", "FF01"}
    assert expected <= set(RETURN_REASONS_NL)
    assert all(text and text[0].isupper() for text in RETURN_REASONS_NL.values())


def test_signed_amount() -> None:
    assert signed_amount(Decimal("10.00"), CreditDebit.CREDIT) == Decimal("10.00")
    assert signed_amount(Decimal("10.00"), CreditDebit.DEBIT) == Decimal("-10.00")


# --- fuzzing --------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=2048), st.text(max_size=512).map(str.encode)))
def test_random_bytes_raise_only_camt_error(data: bytes) -> None:
    # Anything but a CamtError (a crash of the reader) fails the test by propagating.
    try:
        parsed = parse_statement(data)
    except CamtError as refused:
        assert refused.message and refused.code
    else:
        assert parsed.statements


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(VALID),
    position=st.floats(min_value=0, max_value=1, exclude_max=True),
    replacement=st.binary(max_size=8),
    cut=st.integers(min_value=0, max_value=8),
)
def test_damaged_statements_raise_only_camt_error(
    name: str, position: float, replacement: bytes, cut: int
) -> None:
    original = fixture(name)
    at = int(position * len(original))
    # Some damage leaves a valid statement (a changed remittance letter); that may parse.
    try:
        parsed = parse_statement(original[:at] + replacement + original[at + cut :])
    except CamtError as refused:
        assert refused.message and refused.code
    else:
        assert parsed.statements
