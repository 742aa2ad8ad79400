"""A pure pain.001 (SEPA credit transfer initiation) writer: no database, no Flask.

sepaxml builds the XML; this module wraps it because sepaxml on its own accepts bad IBANs,
keeps `&` and other characters banks refuse, invents random MsgId/PmtInfId values and stamps
the wall-clock time. Finance must be able to regenerate a released file byte for byte and to
match the bank statement on ids we stored, so here:

- every input is checked first, and all problems are reported together in one `PainError`;
- names and remittance texts are transliterated to the SEPA Latin character set and cut;
- MsgId, PmtInfId, EndToEndIds and the creation time are ours (sepaxml's random ids and clock
  are overwritten in the generated tree), so the same input always gives the same bytes;
- the finished bytes are parsed again (safe parser), checked against what we meant to write
  (ids, amounts, counts, control sums) and validated against the XSD shipped with sepaxml.
"""

from __future__ import annotations

import re
import string
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal, get_args

import sepaxml
from lxml import etree
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sepaxml import SepaTransfer
from text_unidecode import unidecode

__all__ = [
    "DEFAULT_VERSION",
    "MAX_AMOUNT",
    "NAME_LIMIT",
    "REMITTANCE_LIMIT",
    "SUPPORTED_VERSIONS",
    "BatchFile",
    "Debtor",
    "PainError",
    "PainVersion",
    "Transfer",
    "build_pain001",
    "sepa_id",
    "transliterate",
    "xsd_path",
]

PainVersion = Literal["pain.001.001.09", "pain.001.001.03"]
SUPPORTED_VERSIONS: Final[tuple[str, ...]] = get_args(PainVersion)
DEFAULT_VERSION: Final[PainVersion] = "pain.001.001.09"

# EPC SCT rulebook limits (tighter than the ISO XSD, which allows 140-character names).
NAME_LIMIT: Final = 70
REMITTANCE_LIMIT: Final = 140
ID_LIMIT: Final = 35
# EPC: amounts from 0.01 up to 999,999,999.99 euro.
MAX_AMOUNT: Final = Decimal("999999999.99")
_CENT: Final = Decimal("0.01")

# The EPC "Latin character set" every SEPA bank must accept; anything else may be refused.
_SEPA_CHARS: Final = frozenset(string.ascii_letters + string.digits + "/-?:().,'+ ")
# unidecode only returns ASCII, so a table over ASCII covers every character left over.
_OUTSIDE_TO_SPACE: Final = {code: " " for code in range(128) if chr(code) not in _SEPA_CHARS}
# Identifiers: that set without the space (our ids are generated and never need one, and
# spaces in references are a common cause of bank rejections), 1..35 characters.
_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9/\-?:().,'+]{1,35}")
# The XSD patterns for BICs differ per version; checked here to give a clear message instead
# of an XSD error. .03: BICIdentifier, .09: BICFIDec2014Identifier.
_BIC_PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    "pain.001.001.03": re.compile(r"[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?"),
    "pain.001.001.09": re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?"),
}
# Shown in full in the message; the rest is counted, so a 10,000-line batch stays readable.
_PROBLEMS_SHOWN: Final = 10


class PainError(ValueError):
    """The batch cannot be written as a valid pain.001 file; `problems` lists every reason."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        shown = "; ".join(self.problems[:_PROBLEMS_SHOWN])
        hidden = len(self.problems) - _PROBLEMS_SHOWN
        suffix = f" (and {hidden} more)" if hidden > 0 else ""
        super().__init__(f"pain.001 refused: {shown}{suffix}")


@dataclass(frozen=True, slots=True)
class Debtor:
    """Our organisation's account that pays."""

    name: str
    iban: str
    bic: str | None = None


@dataclass(frozen=True, slots=True)
class Transfer:
    """One credit transfer: one payout to one creditor."""

    end_to_end_id: str
    creditor_name: str
    creditor_iban: str
    amount: Decimal
    remittance: str
    creditor_bic: str | None = None


@dataclass(frozen=True, slots=True)
class BatchFile:
    """One pain.001 file: one group header and one payment information block."""

    msg_id: str
    pmt_inf_id: str
    created_at: datetime
    execution_date: date
    debtor: Debtor
    transfers: Sequence[Transfer]  # a list is accepted, and kept as a tuple
    version: PainVersion = DEFAULT_VERSION

    def __post_init__(self) -> None:
        # A list passed by the caller could still be changed after the fact; a frozen batch
        # must stay what it was when it was built.
        if not isinstance(self.transfers, tuple):
            object.__setattr__(self, "transfers", tuple(self.transfers))


def sepa_id(text: object) -> bool:
    """True if `text` is usable as MsgId, PmtInfId or EndToEndId.

    1..35 characters of the SEPA Latin set without spaces, and (EPC rule for references)
    not starting or ending with "/" and never containing "//".
    """
    return (
        isinstance(text, str)
        and _ID_PATTERN.fullmatch(text) is not None
        and not text.startswith("/")
        and not text.endswith("/")
        and "//" not in text
    )


@lru_cache(maxsize=4096)
def _ascii_for(char: str) -> str:
    # text-unidecode marks code points it has no table for with "[?]"; that is not text.
    latin = unidecode(char)
    return " " if latin == "[?]" else latin


def transliterate(text: str, limit: int) -> str:
    """`text` in the SEPA Latin character set, at most `limit` characters.

    Accents are transliterated (text-unidecode), "&" becomes "en" (Dutch, as banks and
    recipients read it), every other character outside the set becomes a space, runs of
    spaces collapse and the ends are trimmed: `Ünal & Zn.` -> `Unal en Zn.`. The result may
    be empty when nothing printable remains; callers decide whether that is acceptable.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    # NFC first so a letter with a combining accent transliterates like the composed one.
    composed = unicodedata.normalize("NFC", text)
    if composed.isascii():
        latin = composed
    else:
        latin = "".join(ch if ch.isascii() else _ascii_for(ch) for ch in composed)
    # After unidecode: it maps fullwidth and other ampersands onto "&" too.
    kept = latin.replace("&", " en ").translate(_OUTSIDE_TO_SPACE)
    if not kept.isascii():  # should a future unidecode table ever return non-ASCII
        kept = "".join(ch if ch in _SEPA_CHARS else " " for ch in kept)
    return " ".join(kept.split())[:limit].rstrip()


def xsd_path(version: str) -> Path:
    """The XSD that sepaxml ships for `version` (the file may be missing: callers check)."""
    return Path(sepaxml.__file__).resolve().parent / "schemas" / f"{version}.xsd"


def _safe_parser() -> etree.XMLParser:
    # No entities, no DTD, no network, no huge trees: the bytes are ours, but the same
    # parser settings everywhere keep XML bombs and external entities out by habit.
    # A fresh parser per call: lxml parsers are not meant to be shared between threads.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False
    )


_schema_lock = threading.Lock()
_schemas: dict[str, etree.XMLSchema] = {}


def _validate_xsd(document: etree._Element, version: str) -> list[str]:
    path = xsd_path(version)
    # One lock for loading and validating: an XMLSchema keeps the error log of its last run
    # on the object, so two threads validating at once could read each other's errors.
    with _schema_lock:
        schema = _schemas.get(version)
        if schema is None:
            if not path.is_file():
                return [
                    f"the XSD for {version} is missing at {path}; nothing is written unvalidated"
                ]
            schema = etree.XMLSchema(etree.parse(str(path), _safe_parser()))
            _schemas[version] = schema
        if schema.validate(document):
            return []
        return [f"XSD {version}, line {e.line}: {e.message}" for e in schema.error_log]


@dataclass(frozen=True, slots=True)
class _Line:
    """A transfer after checking and cleaning: exactly what goes into the file."""

    end_to_end_id: str
    name: str
    iban: str
    bic: str | None
    cents: int
    amount: Decimal
    remittance: str


def _check_id(label: str, value: object, problems: list[str]) -> None:
    if not sepa_id(value):
        problems.append(
            f"{label} {value!r} is not a SEPA id (1-{ID_LIMIT} characters of A-Z a-z 0-9 "
            "/ - ? : ( ) . , ' +, no spaces, no leading, trailing or double '/')"
        )


def _check_iban(label: str, value: object, problems: list[str]) -> IBAN | None:
    # The IBAN itself stays out of the message: it ends up in logs; the label names the line.
    if not isinstance(value, str):
        problems.append(f"{label}: IBAN missing")
        return None
    try:
        iban = IBAN(value)
    except SchwiftyException as exc:
        problems.append(f"{label}: IBAN is invalid ({exc})")
        return None
    if not iban.in_sepa_zone:
        problems.append(f"{label}: IBAN country {iban.country_code} is outside the SEPA zone")
        return None
    return iban


def _check_bic(
    label: str, given: str | None, iban: IBAN | None, version: str, problems: list[str]
) -> str | None:
    """The BIC to write: the given one (validated), else schwifty's for an NL IBAN, else None.

    Derived only for NL: there the bank code in the IBAN maps to one BIC. For other
    countries schwifty may choose among several BICs of a bank code, and a wrong BIC can get
    a payment refused while the IBAN alone is enough under the EPC rules.
    """
    if given is not None:
        try:
            bic = BIC(given).compact
        except SchwiftyException as exc:
            problems.append(f"{label}: BIC {given!r} is invalid ({exc})")
            return None
        if _BIC_PATTERNS[version].fullmatch(bic) is None:
            problems.append(f"{label}: BIC {given!r} does not fit {version}")
            return None
        return str(bic)
    if iban is not None and iban.country_code == "NL":
        derived = iban.bic
        return None if derived is None else str(derived.compact)
    return None


def _check_amount(label: str, amount: object, problems: list[str]) -> int | None:
    """The amount in cents, or None after recording why it is unusable."""
    # Decimal only: a float has already lost cents; an int would hide a units mistake.
    if not isinstance(amount, Decimal) or not amount.is_finite():
        problems.append(f"{label}: amount {amount!r} is not a finite Decimal")
        return None
    if amount <= 0:
        problems.append(f"{label}: amount {amount} must be more than zero")
        return None
    if amount > MAX_AMOUNT:
        problems.append(f"{label}: amount {amount} exceeds the SEPA maximum {MAX_AMOUNT}")
        return None
    if amount != amount.quantize(_CENT):
        problems.append(f"{label}: amount {amount} has more than 2 decimal places")
        return None
    return int(amount * 100)


def _check_text(label: str, text: object, limit: int, problems: list[str]) -> str:
    if not isinstance(text, str):
        problems.append(f"{label} missing")
        return ""
    clean = transliterate(text, limit)
    if not clean:
        # Both Nm and Ustrd have minLength 1; an empty one would also tell the bank nothing.
        problems.append(f"{label} has no characters left in the SEPA character set")
    return clean


def _prepare(batch: BatchFile) -> tuple[str, str | None, str, list[_Line]]:
    """Check the whole batch; returns the debtor's IBAN, BIC, name and the cleaned lines."""
    problems: list[str] = []
    version = batch.version
    if version not in SUPPORTED_VERSIONS:
        raise PainError(f"version {version!r} is not one of {', '.join(SUPPORTED_VERSIONS)}")

    _check_id("MsgId", batch.msg_id, problems)
    _check_id("PmtInfId", batch.pmt_inf_id, problems)
    created = batch.created_at
    if not isinstance(created, datetime) or created.utcoffset() is None:
        # A naive time is ambiguous around the DST change and would depend on the server.
        problems.append("creation time must be a timezone-aware datetime")
    # datetime is a subclass of date; sepaxml would write its time part into a date field.
    if not isinstance(batch.execution_date, date) or isinstance(batch.execution_date, datetime):
        problems.append("requested execution date must be a date")

    debtor = batch.debtor
    debtor_name = _check_text("debtor name", debtor.name, NAME_LIMIT, problems)
    debtor_iban = _check_iban("debtor", debtor.iban, problems)
    debtor_bic = _check_bic("debtor", debtor.bic, debtor_iban, version, problems)
    if debtor_iban is not None and debtor_bic is None and debtor.bic is None:
        # Both XSDs take an empty DbtrAgt, but that tells the bank nothing and the EPC
        # guides expect the debtor bank there; the debtor is our own (Dutch) account, whose
        # BIC schwifty derives, so one missing is a configuration error worth stopping for.
        problems.append("debtor: BIC not given and not derivable from the IBAN")

    if not batch.transfers:
        problems.append("a batch needs at least one transfer")
    # All ids in one file distinct: the statement is matched on PmtInfId (batch booking) and
    # on EndToEndId (per transaction); one id meaning two things would make that ambiguous.
    seen: dict[str, str] = {}
    for label, value in (("MsgId", batch.msg_id), ("PmtInfId", batch.pmt_inf_id)):
        if isinstance(value, str) and value in seen:
            problems.append(f"{label} {value!r} is already used as {seen[value]}")
        elif isinstance(value, str):
            seen[value] = label

    lines: list[_Line] = []
    for number, transfer in enumerate(batch.transfers, start=1):
        label = f"transfer {number} ({transfer.end_to_end_id!r})"
        _check_id(f"transfer {number}: EndToEndId", transfer.end_to_end_id, problems)
        e2e = transfer.end_to_end_id
        if isinstance(e2e, str) and e2e in seen:
            problems.append(f"{label}: EndToEndId is already used as {seen[e2e]}")
        elif isinstance(e2e, str):
            seen[e2e] = f"the EndToEndId of transfer {number}"
        iban = _check_iban(label, transfer.creditor_iban, problems)
        bic = _check_bic(label, transfer.creditor_bic, iban, version, problems)
        cents = _check_amount(label, transfer.amount, problems)
        name = _check_text(f"{label}: creditor name", transfer.creditor_name, NAME_LIMIT, problems)
        remittance = _check_text(
            f"{label}: remittance", transfer.remittance, REMITTANCE_LIMIT, problems
        )
        if iban is not None and cents is not None:
            lines.append(
                _Line(
                    end_to_end_id=e2e,
                    name=name,
                    iban=str(iban.compact),
                    bic=bic,
                    cents=cents,
                    amount=transfer.amount.quantize(_CENT),
                    remittance=remittance,
                )
            )
    if problems or debtor_iban is None:  # a None IBAN always comes with a problem recorded
        raise PainError(problems)
    return str(debtor_iban.compact), debtor_bic, debtor_name, lines


def _generate(batch: BatchFile, iban: str, bic: str | None, name: str, lines: list[_Line]) -> bytes:
    config: dict[str, object] = {
        "name": name,
        "IBAN": iban,
        "currency": "EUR",
        # One PmtInf with BtchBookg=true: the bank books one debit for the whole batch,
        # which the statement import matches on PmtInfId, count and total.
        "batch": True,
    }
    if bic is not None:
        config["BIC"] = bic
    # clean=False: our transliteration is stricter than sepaxml's (which keeps "&"), and
    # sepaxml must not cut or change a text we already made final.
    sepa = SepaTransfer(config, schema=batch.version, clean=False)
    for line in lines:
        payment: dict[str, object] = {
            "name": line.name,
            "IBAN": line.iban,
            "amount": line.cents,  # sepaxml counts in integer cents
            "execution_date": batch.execution_date,
            "description": line.remittance,
            "endtoend_id": line.end_to_end_id,
        }
        if line.bic is not None:
            payment["BIC"] = line.bic
        sepa.add_payment(payment)
    # validate=False: sepaxml would validate a tree that still holds its random ids, and
    # with xmlschema; we validate the final bytes below, once, with lxml.
    return sepa.export(validate=False)


def _one(root: etree._Element, path: str, ns: dict[str, str]) -> etree._Element:
    found = root.findall(path, ns)
    if len(found) != 1:
        raise PainError(f"generated file has {len(found)} {path} elements, expected 1")
    return found[0]


def _set_our_ids(raw: bytes, batch: BatchFile) -> bytes:
    """sepaxml's bytes with our MsgId, PmtInfId and creation time in place of its own."""
    ns = {"p": f"urn:iso:std:iso:20022:tech:xsd:{batch.version}"}
    root = etree.fromstring(raw, _safe_parser())
    # sepaxml takes its MsgId and CreDtTm from a random id and the clock in its constructor,
    # and makes the PmtInfId from a random id at export; there is no parameter for any of
    # them, so they are replaced in the finished tree (the EndToEndIds were passed in).
    _one(root, "p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", ns).text = batch.msg_id
    # Seconds only, with the offset of the given time (xs:dateTime): the same input time
    # always gives the same text.
    _one(root, "p:CstmrCdtTrfInitn/p:GrpHdr/p:CreDtTm", ns).text = batch.created_at.isoformat(
        timespec="seconds"
    )
    _one(root, "p:CstmrCdtTrfInitn/p:PmtInf/p:PmtInfId", ns).text = batch.pmt_inf_id
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _verify(data: bytes, batch: BatchFile, lines: list[_Line]) -> None:
    """Parse the final bytes again and check them against what we meant to write."""
    ns = {"p": f"urn:iso:std:iso:20022:tech:xsd:{batch.version}"}
    root = etree.fromstring(data, _safe_parser())
    problems = _validate_xsd(root, batch.version)
    if problems:
        raise PainError(problems)

    count = str(len(lines))
    total = sum((line.amount for line in lines), Decimal("0"))
    initiation = "p:CstmrCdtTrfInitn"
    header = f"{initiation}/p:GrpHdr"
    info = f"{initiation}/p:PmtInf"
    expected = {
        f"{header}/p:MsgId": batch.msg_id,
        f"{info}/p:PmtInfId": batch.pmt_inf_id,
        f"{header}/p:NbOfTxs": count,
        f"{info}/p:NbOfTxs": count,
    }
    for path, value in expected.items():
        text = _one(root, path, ns).text
        if text != value:
            problems.append(f"{path} is {text!r}, expected {value!r}")
    for path in (f"{header}/p:CtrlSum", f"{info}/p:CtrlSum"):
        text = _one(root, path, ns).text
        # Decimal equality ignores trailing zeros ("24.10" == "24.1"); NaN equals nothing.
        if Decimal(text or "NaN") != total:
            problems.append(f"{path} is {text!r}, expected {total}")

    written = [
        (
            tx.findtext("p:PmtId/p:EndToEndId", None, ns),
            Decimal(tx.findtext("p:Amt/p:InstdAmt", "NaN", ns)),
        )
        for tx in root.iterfind(f"{info}/p:CdtTrfTxInf", ns)
    ]
    if written != [(line.end_to_end_id, line.amount) for line in lines]:
        problems.append("the transactions in the file differ from the batch (ids or amounts)")
    if problems:
        raise PainError(problems)


def build_pain001(batch: BatchFile) -> bytes:
    """The pain.001 file for `batch`, validated against the XSD; the same batch, the same bytes.

    Raises `PainError` listing every problem when the batch cannot be written.
    """
    iban, bic, name, lines = _prepare(batch)
    data = _set_our_ids(_generate(batch, iban, bic, name, lines), batch)
    _verify(data, batch, lines)
    return data
