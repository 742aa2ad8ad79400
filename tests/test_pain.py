"""The pain.001 writer: XSD-valid files with our ids, matching sums, clean texts, refusals.

Pure Python: no database, no app. Every file is parsed again here with a safe lxml parser
and validated against the XSD that sepaxml ships, independently of the writer's own check.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from housing.payments import pain
from housing.payments.pain import (
    MAX_AMOUNT,
    SUPPORTED_VERSIONS,
    BatchFile,
    Debtor,
    PainError,
    Transfer,
    build_pain001,
    sepa_id,
    transliterate,
    xsd_path,
)

DEBTOR = Debtor(name="Gemeente Utrecht", iban="NL91ABNA0417164300")  # BIC derived: ABNANL2A
CREATED = datetime(2026, 12, 1, 9, 30, 15, tzinfo=UTC)
EXECUTION = date(2026, 12, 3)
# Valid check digits; RABO/INGB are NL (BIC derived), DE has no BIC derived (left out).
IBANS = ("NL44RABO0123456789", "NL20INGB0001234567", "DE89370400440532013000")
BAD_IBAN = "NL44RABO0123456788"  # one digit off: check digits fail
LONG_NAME = "Beveiligingsbedrijf " + "X" * 80  # 100 characters


def ns(version: str) -> dict[str, str]:
    return {"p": f"urn:iso:std:iso:20022:tech:xsd:{version}"}


@cache
def schema(version: str) -> etree.XMLSchema:
    path = xsd_path(version)
    # Fail, never skip: a missing XSD means nothing proves the files are valid.
    assert path.is_file(), f"XSD missing: {path}"
    return etree.XMLSchema(etree.parse(str(path), safe_parser()))


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def parse_valid(data: bytes, version: str) -> etree._Element:
    root = etree.fromstring(data, safe_parser())
    xsd = schema(version)
    assert xsd.validate(root), xsd.error_log
    return root


def text(root: etree._Element, path: str, version: str) -> str:
    found = root.findall(path, ns(version))
    assert len(found) == 1, path
    return found[0].text or ""


def transfers() -> tuple[Transfer, ...]:
    return (
        Transfer(
            end_to_end_id="VW-2026-000101-1",
            creditor_name="Ünal & Zn.",
            creditor_iban=IBANS[0],
            amount=Decimal("1250.00"),
            remittance="Claim VW-2026-000101 factuur F-88 «camera's» ✓",
        ),
        Transfer(
            end_to_end_id="VW-2026-000102-1",
            creditor_name=LONG_NAME,
            creditor_iban=IBANS[1],
            amount=Decimal("99.95"),
            remittance="Terugbetaling " + "ü" * 200,
        ),
        Transfer(
            end_to_end_id="VW-2026-000103-2",
            creditor_name="Sicherheit GmbH",
            creditor_iban=IBANS[2],
            amount=Decimal("0.01"),
            remittance="Claim VW-2026-000103",
        ),
    )


def batch(version: str = "pain.001.001.09", **changes: object) -> BatchFile:
    base = BatchFile(
        msg_id="VW-MSG-2026-0007",
        pmt_inf_id="VW-BATCH-2026-0007",
        created_at=CREATED,
        execution_date=EXECUTION,
        debtor=DEBTOR,
        transfers=transfers(),
        version=version,  # type: ignore[arg-type]
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def with_transfer(index: int, **changes: object) -> BatchFile:
    lines = list(transfers())
    lines[index] = dataclasses.replace(lines[index], **changes)  # type: ignore[arg-type]
    return batch(transfers=tuple(lines))


def refused(batch_file: BatchFile) -> str:
    with pytest.raises(PainError) as caught:
        build_pain001(batch_file)
    return str(caught.value)


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_xsd_shipped_with_sepaxml(version: str) -> None:
    assert xsd_path(version).is_file(), xsd_path(version)


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_three_transfers_valid_with_our_ids_and_sums(version: str) -> None:
    data = build_pain001(batch(version))
    root = parse_valid(data, version)
    assert b"<!DOCTYPE" not in data

    grp, pmt = "p:CstmrCdtTrfInitn/p:GrpHdr", "p:CstmrCdtTrfInitn/p:PmtInf"
    assert text(root, f"{grp}/p:MsgId", version) == "VW-MSG-2026-0007"
    assert text(root, f"{pmt}/p:PmtInfId", version) == "VW-BATCH-2026-0007"
    assert text(root, f"{grp}/p:CreDtTm", version) == "2026-12-01T09:30:15+00:00"
    e2e = [e.text for e in root.iterfind(f"{pmt}/p:CdtTrfTxInf/p:PmtId/p:EndToEndId", ns(version))]
    assert e2e == ["VW-2026-000101-1", "VW-2026-000102-1", "VW-2026-000103-2"]
    for part in (grp, pmt):
        assert text(root, f"{part}/p:NbOfTxs", version) == "3"
        assert Decimal(text(root, f"{part}/p:CtrlSum", version)) == Decimal("1349.96")
    amounts = root.iterfind(f"{pmt}/p:CdtTrfTxInf/p:Amt/p:InstdAmt", ns(version))
    assert [(a.text, a.get("Ccy")) for a in amounts] == [
        ("1250.00", "EUR"),
        ("99.95", "EUR"),
        ("0.01", "EUR"),
    ]

    names = [e.text for e in root.iterfind(f"{pmt}/p:CdtTrfTxInf/p:Cdtr/p:Nm", ns(version))]
    assert names == ["Unal en Zn.", LONG_NAME[:70], "Sicherheit GmbH"]
    assert len(LONG_NAME) == 100
    remittances = [
        e.text for e in root.iterfind(f"{pmt}/p:CdtTrfTxInf/p:RmtInf/p:Ustrd", ns(version))
    ]
    assert remittances[0] == "Claim VW-2026-000101 factuur F-88 camera's"
    assert remittances[1] == ("Terugbetaling " + "u" * 200)[:140]
    assert all(len(r or "") <= 140 for r in remittances)

    date_path = f"{pmt}/p:ReqdExctnDt" + ("/p:Dt" if version.endswith(".09") else "")
    assert text(root, date_path, version) == "2026-12-03"


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_bics_derived_for_nl_and_left_out_otherwise(version: str) -> None:
    root = parse_valid(build_pain001(batch(version)), version)
    bic = "p:BICFI" if version.endswith(".09") else "p:BIC"
    pmt = "p:CstmrCdtTrfInitn/p:PmtInf"
    assert text(root, f"{pmt}/p:DbtrAgt/p:FinInstnId/{bic}", version) == "ABNANL2A"
    agents = [
        tx.findtext(f"p:CdtrAgt/p:FinInstnId/{bic}", None, ns(version))
        for tx in root.iterfind(f"{pmt}/p:CdtTrfTxInf", ns(version))
    ]
    # DE: schwifty could guess among several BICs of one bank code; IBAN-only is allowed.
    assert agents == ["RABONL2U", "INGBNL2A", None]


def test_given_bic_is_used_and_a_malformed_one_refused() -> None:
    data = build_pain001(with_transfer(2, creditor_bic="cobadeffxxx"))
    root = parse_valid(data, "pain.001.001.09")
    assert b"<BICFI>COBADEFFXXX</BICFI>" in data
    assert root is not None
    assert "BIC" in refused(with_transfer(2, creditor_bic="COBA"))
    # Valid for schwifty, but not for the .03 pattern (a digit in the bank code).
    message = refused(
        dataclasses.replace(with_transfer(2, creditor_bic="1OBADEFF"), version="pain.001.001.03")
    )
    assert "does not fit pain.001.001.03" in message


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_same_input_same_bytes(version: str) -> None:
    first = build_pain001(batch(version))
    # A new but equal batch object, as when a released batch is rebuilt from the database.
    again = build_pain001(batch(version, transfers=list(transfers())))
    assert first == again


def test_different_creation_time_changes_only_the_header() -> None:
    later = build_pain001(batch(created_at=CREATED + timedelta(hours=1)))
    assert b"<CreDtTm>2026-12-01T10:30:15+00:00</CreDtTm>" in later
    amsterdam = timezone(timedelta(hours=1))
    local = build_pain001(batch(created_at=CREATED.astimezone(amsterdam)))
    assert b"<CreDtTm>2026-12-01T10:30:15+01:00</CreDtTm>" in local


def test_bad_iban_refused_naming_the_transfer() -> None:
    message = refused(with_transfer(1, creditor_iban=BAD_IBAN))
    assert "transfer 2 ('VW-2026-000102-1')" in message
    assert "IBAN is invalid" in message
    assert BAD_IBAN not in message  # account numbers stay out of messages and logs


def test_bad_debtor_iban_and_non_sepa_iban_refused() -> None:
    assert "debtor: IBAN is invalid" in refused(
        batch(debtor=Debtor("Gemeente Utrecht", "NL91ABNA0417164301"))
    )
    # Brazil has IBANs but is outside the SEPA zone: no SEPA credit transfer.
    message = refused(with_transfer(0, creditor_iban="BR1800360305000010009795493C1"))
    assert "outside the SEPA zone" in message


def test_debtor_without_bic_refused_when_not_derivable() -> None:
    foreign = Debtor("Gemeente Utrecht", "DE89370400440532013000")
    assert "debtor: BIC not given" in refused(batch(debtor=foreign))
    data = build_pain001(batch(debtor=dataclasses.replace(foreign, bic="COBADEFFXXX")))
    assert b"<BICFI>COBADEFFXXX</BICFI>" in data


def test_duplicate_end_to_end_id_refused() -> None:
    message = refused(with_transfer(2, end_to_end_id="VW-2026-000101-1"))
    assert "transfer 3 ('VW-2026-000101-1'): EndToEndId is already used" in message


def test_ids_distinct_across_kinds() -> None:
    assert "already used as MsgId" in refused(batch(pmt_inf_id="VW-MSG-2026-0007"))
    assert "already used as PmtInfId" in refused(
        with_transfer(0, end_to_end_id="VW-BATCH-2026-0007")
    )


BAD_IDS = ["A" * 36, "", "VW 2026", "VW&2026", "VW_2026", "VW#1", "/VW1", "VW1/", "VW//1", "ÜW1"]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("field", ["msg_id", "pmt_inf_id", "end_to_end_id"])
def test_bad_ids_refused(field: str, bad: str) -> None:
    if field == "end_to_end_id":
        candidate = with_transfer(0, end_to_end_id=bad)
    else:
        candidate = batch(**{field: bad})
    assert "is not a SEPA id" in refused(candidate)


def test_sepa_id() -> None:
    assert sepa_id("A" * 35)
    assert sepa_id("VW-2026-000101-1")
    assert sepa_id("a/b-c?d:e(f)g.h,i'j+k")
    for bad in BAD_IDS:
        assert not sepa_id(bad), bad
    assert not sepa_id(None)
    assert not sepa_id("VW1\n")


@pytest.mark.parametrize(
    "amount",
    [Decimal("0"), Decimal("0.00"), Decimal("-0.01"), Decimal("-10")],
)
def test_zero_or_negative_amount_refused(amount: Decimal) -> None:
    assert "must be more than zero" in refused(with_transfer(0, amount=amount))


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (Decimal("10.005"), "more than 2 decimal places"),
        (MAX_AMOUNT + Decimal("0.01"), "exceeds the SEPA maximum"),
        (Decimal("NaN"), "not a finite Decimal"),
        (Decimal("Infinity"), "not a finite Decimal"),
        (12.5, "not a finite Decimal"),
        (1250, "not a finite Decimal"),
    ],
)
def test_other_bad_amounts_refused(amount: object, reason: str) -> None:
    assert reason in refused(with_transfer(0, amount=amount))


def test_largest_amount_and_trailing_zeros_accepted() -> None:
    data = build_pain001(with_transfer(0, amount=MAX_AMOUNT))
    assert b">999999999.99</InstdAmt>" in data
    assert b">99.95</InstdAmt>" in build_pain001(with_transfer(1, amount=Decimal("99.9500")))


def test_other_refusals() -> None:
    assert "timezone-aware" in refused(batch(created_at=CREATED.replace(tzinfo=None)))
    assert "must be a date" in refused(batch(execution_date=CREATED))
    assert "at least one transfer" in refused(batch(transfers=()))
    assert "is not one of" in refused(batch(version="pain.001.001.02"))
    assert "no characters left" in refused(with_transfer(0, creditor_name="😀 ✓"))
    assert "no characters left" in refused(with_transfer(0, remittance="   "))


def test_every_problem_reported_at_once() -> None:
    lines = tuple(
        dataclasses.replace(t, creditor_iban=BAD_IBAN, amount=Decimal("0")) for t in transfers()
    )
    with pytest.raises(PainError) as caught:
        build_pain001(batch(transfers=lines))
    assert len(caught.value.problems) == 6


def test_sums_are_checked_against_the_generated_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should sepaxml ever write a wrong control sum or count, nothing leaves this module."""
    original = pain._generate

    def tampered(*args: object) -> bytes:
        data = original(*args)  # type: ignore[arg-type]
        return data.replace(
            b"<NbOfTxs>3</NbOfTxs><CtrlSum>1349.96", b"<NbOfTxs>2</NbOfTxs><CtrlSum>1349.95", 1
        )

    monkeypatch.setattr(pain, "_generate", tampered)
    message = refused(batch())
    assert "GrpHdr/p:NbOfTxs is '2', expected '3'" in message
    assert "GrpHdr/p:CtrlSum is '1349.95', expected 1349.96" in message


def test_missing_xsd_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pain, "_schemas", {})
    monkeypatch.setattr(pain, "xsd_path", lambda version: pain.Path("/nonexistent") / version)
    assert "XSD for pain.001.001.09 is missing" in refused(batch())


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Ünal & Zn.", "Unal en Zn."),
        ("Jansen&Zonen", "Jansen en Zonen"),
        ("Bäckerei Müller-Lüdenscheidt", "Backerei Muller-Ludenscheidt"),
        ("Straße 5 · Köln", "Strasse 5 Koln"),
        ("O'Brien (Ltd.) +31/20: nr?", "O'Brien (Ltd.) +31/20: nr?"),
        ("a_b@c#d", "a b c d"),
        ("  many   \t spaces\n ", "many spaces"),
        ("U\u0308nal", "Unal"),  # combining diaeresis
        ("Ｆｕｌｌ＆ｗｉｄｔｈ", "Full en width"),
        ("😀", ""),
    ],
)
def test_transliterate(raw: str, clean: str) -> None:
    assert transliterate(raw, 140) == clean


def test_transliterate_cuts_and_trims() -> None:
    assert transliterate("x" * 100, 70) == "x" * 70
    assert transliterate("abc def", 4) == "abc"  # no trailing space after the cut
    with pytest.raises(ValueError):
        transliterate("abc", 0)


SEPA_SET = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")


@given(st.text(max_size=300), st.integers(min_value=1, max_value=200))
def test_transliterate_always_in_the_set(raw: str, limit: int) -> None:
    clean = transliterate(raw, limit)
    assert set(clean) <= SEPA_SET
    assert len(clean) <= limit
    assert clean == clean.strip()
    assert "  " not in clean
    assert transliterate(clean, limit) == clean


def printable(limit: int) -> st.SearchStrategy[str]:
    # Random unicode around one letter that always survives transliteration: an empty name or
    # remittance is refused by design (tested above), not a file to validate.
    return st.builds(
        "{}{}{}".format,
        st.text(max_size=limit),
        st.sampled_from("aZ9ÄöÜéñßŁ"),
        st.text(max_size=limit),
    )


@st.composite
def random_batches(draw: st.DrawFn) -> BatchFile:
    count = draw(st.integers(min_value=1, max_value=50))
    lines = tuple(
        Transfer(
            end_to_end_id=f"VW-2026-{number:06d}-{draw(st.integers(1, 99))}",
            creditor_name=draw(printable(70)),
            creditor_iban=draw(st.sampled_from(IBANS)),
            amount=Decimal(draw(st.integers(min_value=1, max_value=99_999_999_999))) / 100,
            remittance=draw(printable(140)),
        )
        for number in range(count)
    )
    return batch(draw(st.sampled_from(SUPPORTED_VERSIONS)), transfers=lines)


@settings(max_examples=60, deadline=None)  # deadline off: the first example loads the XSD
@given(random_batches())
def test_random_batches_always_valid_with_matching_sums(batch_file: BatchFile) -> None:
    version = batch_file.version
    root = parse_valid(build_pain001(batch_file), version)
    count = str(len(batch_file.transfers))
    total = sum(t.amount for t in batch_file.transfers)
    for part in ("p:CstmrCdtTrfInitn/p:GrpHdr", "p:CstmrCdtTrfInitn/p:PmtInf"):
        assert text(root, f"{part}/p:NbOfTxs", version) == count
        assert Decimal(text(root, f"{part}/p:CtrlSum", version)) == total
    amounts = root.iterfind(
        "p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf/p:Amt/p:InstdAmt", ns(version)
    )
    assert [Decimal(a.text or "") for a in amounts] == [t.amount for t in batch_file.transfers]
    e2e = root.iterfind(
        "p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf/p:PmtId/p:EndToEndId", ns(version)
    )
    assert [e.text for e in e2e] == [t.end_to_end_id for t in batch_file.transfers]
    names = root.iterfind("p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf/p:Cdtr/p:Nm", ns(version))
    assert [n.text for n in names] == [
        transliterate(t.creditor_name, 70) for t in batch_file.transfers
    ]
