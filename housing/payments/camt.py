"""A small, hardened reader for ISO 20022 camt.053 bank statements (pure: no Flask, no database).

`parse_statement(data)` refuses anything that is not a well-formed, XSD-valid
camt.053.001.02 document with a `CamtError` whose message is safe to show to a finance user,
and otherwise returns frozen dataclasses with `Decimal` amounts. Amounts are kept absolute
with their credit/debit indicator, as the standard does; `signed_amount` gives the sign.
"""

from __future__ import annotations

import os
import re
import threading
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from lxml import etree

from housing.clock import AMSTERDAM
from housing.payments.camt_model import (
    RETURN_REASONS_NL,
    Balance,
    BankStatementData,
    BankTransactionCode,
    BatchInfo,
    CamtError,
    CamtSchemaError,
    CreditDebit,
    Entry,
    EntryStatus,
    ReferenceSource,
    ReturnInfo,
    Statement,
    TransactionDetails,
    describe_return,
    signed_amount,
)

# The data classes live in camt_model; they are this reader's public API too.
__all__ = [
    "CAMT_053_001_02",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_XSD_PATH",
    "RETURN_REASONS_NL",
    "SUPPORTED_VERSION",
    "XSD_FILENAME",
    "XSD_PATH_SETTING",
    "Balance",
    "BankStatementData",
    "BankTransactionCode",
    "BatchInfo",
    "CamtError",
    "CamtSchemaError",
    "CreditDebit",
    "Entry",
    "EntryStatus",
    "ReferenceSource",
    "ReturnInfo",
    "Statement",
    "TransactionDetails",
    "describe_return",
    "load_schema",
    "parse_statement",
    "resolve_xsd_path",
    "signed_amount",
]

CAMT_053_001_02 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
SUPPORTED_VERSION = "camt.053.001.02"
XSD_FILENAME = "camt.053.001.02.xsd"
# The ISO 20022 schema ships with the code (a copy of shared/iso20022/, checked equal by a
# test), so validation never depends on where the checkout lies.
DEFAULT_XSD_PATH = Path(__file__).parent / "schemas" / XSD_FILENAME
# The app setting that names another schema; refusals name it to the operator.
XSD_PATH_SETTING = "CAMT_XSD_PATH"
DEFAULT_MAX_BYTES = 20 * 1024 * 1024

_NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
_NS = {"c": CAMT_053_001_02}
# Validation errors named beyond this many only add noise for a finance user.
_MAX_REPORTED_PROBLEMS = 3
# Case-insensitive: libxml2 rejects a lower-case doctype anyway, but refusing it here keeps
# the rule simple ("no declarations at all") and independent of the parser's leniency.
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
# One XMLSchema object is shared, and its `error_log` belongs to the object: validations in
# two threads would read each other's errors.
_VALIDATION_LOCK = threading.Lock()


# --- schema ---------------------------------------------------------------------------------


def resolve_xsd_path(xsd_path: str | os.PathLike[str] | None = None) -> Path:
    """Return the XSD to validate with: the caller's (a file, or a folder holding it), else
    the copy shipped with the code. The app passes its setting `CAMT_XSD_PATH`."""
    chosen = Path(xsd_path) if xsd_path else DEFAULT_XSD_PATH
    return chosen / XSD_FILENAME if chosen.is_dir() else chosen


def load_schema(xsd_path: str | os.PathLike[str] | None = None) -> etree.XMLSchema:
    """Return the camt.053.001.02 schema, loaded once per path; raise if it is missing."""
    return _load_schema(resolve_xsd_path(xsd_path).resolve())


@lru_cache(maxsize=4)
def _load_schema(path: Path) -> etree.XMLSchema:
    if not path.is_file():
        raise CamtSchemaError(
            f"The camt.053 XSD is missing at {path} (set {XSD_PATH_SETTING}); "
            "bank statements are never imported without validation."
        )
    try:
        # The schema file is ours, but it is still read with the hardened parser.
        document = etree.parse(str(path), _xml_parser())
        return etree.XMLSchema(document)
    except (etree.XMLSyntaxError, etree.XMLSchemaParseError, OSError) as exc:
        raise CamtSchemaError(f"The camt.053 XSD at {path} cannot be loaded: {exc}") from exc


def _xml_parser() -> etree.XMLParser:
    # A fresh parser per document: lxml parsers must not be shared between threads. The
    # encoding is forced to UTF-8 (ISO 20022 prescribes it) so that the declaration scan in
    # `_refuse_declarations` sees exactly the characters libxml2 will parse.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        encoding="utf-8",
    )


# --- parsing --------------------------------------------------------------------------------


def parse_statement(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    xsd_path: str | os.PathLike[str] | None = None,
) -> BankStatementData:
    """Parse and validate a camt.053.001.02 document; raise `CamtError` if it is refused."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError("parse_statement() takes the file's bytes")
    if len(data) > max_bytes:
        raise CamtError(
            f"The file is {_size(len(data))}; statements larger than {_size(max_bytes)} "
            "are refused.",
            code="too_large",
        )
    # Loaded before any parsing, so a missing XSD fails every upload, not just valid ones.
    schema = load_schema(xsd_path)
    raw = bytes(data)
    _refuse_declarations(raw)
    root = _parse_xml(raw)
    _check_namespace(root)
    with _VALIDATION_LOCK:
        try:
            valid = schema.validate(root)
        except etree.XMLSchemaValidateError:
            # libxml2 raises (not reports) on nodes it cannot validate, such as unexpanded
            # entity references; refusing declarations should make this unreachable.
            raise CamtError(
                f"The file cannot be checked against the {SUPPORTED_VERSION} standard.",
                code="schema",
            ) from None
        problems = [] if valid else list(schema.error_log)
    if problems:
        raise CamtError(_schema_message(problems), code="schema")
    try:
        return _read_document(root)
    except CamtError:
        raise
    except (ValueError, ArithmeticError) as exc:
        # XSD types are wider than Python's (years past 9999, 24:00:00): still a refusal.
        raise CamtError(
            f"The statement contains a value that cannot be read: {exc}", code="content"
        ) from exc


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _refuse_declarations(data: bytes) -> None:
    """Refuse non-UTF-8 input and any DOCTYPE or ENTITY declaration, before libxml2 runs."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CamtError(
            "The file is not UTF-8 encoded XML; a camt.053 statement always is.",
            code="not_xml",
        ) from None
    if _DECLARATION.search(text):
        # Refused, never expanded: this is what stops "billion laughs" and external entities
        # (file:// or http://) before the parser allocates anything for them.
        raise CamtError(
            "The file contains a DOCTYPE or entity declaration. Bank statements never do; "
            "the file is refused to protect against XML entity attacks.",
            code="doctype",
        )


def _parse_xml(data: bytes) -> etree._Element:
    try:
        root = etree.fromstring(data, _xml_parser())
    except etree.XMLSyntaxError as exc:
        line = f" (line {exc.lineno})" if exc.lineno else ""
        raise CamtError(
            f"The file is not well-formed XML{line}: {exc.msg}", code="not_xml"
        ) from None
    # Belt and braces: the scan above should make this unreachable.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise CamtError("The file contains a DOCTYPE declaration.", code="doctype")
    return root


def _check_namespace(root: etree._Element) -> None:
    qname = etree.QName(root)
    namespace = qname.namespace or ""
    if namespace == CAMT_053_001_02 and qname.localname == "Document":
        return
    found = namespace.removeprefix(_NAMESPACE_PREFIX) if namespace else "no namespace"
    if found.startswith("camt.053.") and namespace != CAMT_053_001_02:
        raise CamtError(
            f"This statement is in {found}, which is not supported: only {SUPPORTED_VERSION} "
            f"can be validated. Ask the bank for {SUPPORTED_VERSION}.",
            code="unsupported_version",
        )
    raise CamtError(
        f"This is not a camt.053 bank statement (found {found}, root element "
        f"'{qname.localname}'); upload a {SUPPORTED_VERSION} statement.",
        code="namespace",
    )


def _schema_message(problems: list[etree._LogEntry]) -> str:
    # libxml2 names elements with their full namespace; the bare name reads better.
    shown = "; ".join(
        f"line {p.line}: {p.message.replace('{' + CAMT_053_001_02 + '}', '')}"
        for p in problems[:_MAX_REPORTED_PROBLEMS]
    )
    more = len(problems) - _MAX_REPORTED_PROBLEMS
    tail = f" (and {more} more)" if more > 0 else ""
    return f"The file does not match the {SUPPORTED_VERSION} standard: {shown}{tail}"


# --- reading the validated tree -------------------------------------------------------------
# The XSD has already enforced structure, cardinality and value formats, so the readers below
# only fetch; what the XSD allows as optional is optional here too.


def _find(element: etree._Element, path: str) -> etree._Element | None:
    return element.find(path, _NS)


def _text(element: etree._Element, path: str) -> str | None:
    found = element.find(path, _NS)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _required(element: etree._Element, path: str) -> etree._Element:
    # The XSD already requires these; a check rather than `assert` survives `python -O`.
    found = element.find(path, _NS)
    if found is None:
        raise CamtError(f"The statement lacks {path.replace('c:', '')}.", code="content")
    return found


def _required_text(element: etree._Element, path: str) -> str:
    value = _text(element, path)
    if value is None:
        raise CamtError(f"The statement lacks {path.replace('c:', '')}.", code="content")
    return value


def _amount(element: etree._Element) -> tuple[Decimal, str]:
    try:
        amount = Decimal((element.text or "").strip())
    except InvalidOperation:
        raise CamtError(f"'{element.text}' is not an amount.", code="content") from None
    return amount, element.get("Ccy", "")


def _datetime(value: str) -> datetime:
    """Read an ISODateTime; one without an offset is Dutch local time, as our banks mean it."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=AMSTERDAM)


def _date_choice(element: etree._Element | None) -> date | None:
    """Read a `DateAndDateTimeChoice`: `Dt`, or the date part of `DtTm` as the bank wrote it."""
    if element is None:
        return None
    day = _text(element, "c:Dt")
    if day is not None:
        # xs:date may carry a time zone ("2026-01-05+01:00"); the calendar day is what counts.
        match = _ISO_DATE.match(day)
        return date.fromisoformat(match.group(1) if match else day)
    moment = _text(element, "c:DtTm")
    return _datetime(moment).date() if moment is not None else None


def _boolean(value: str | None) -> bool:
    return value in {"true", "1"}


def _read_document(root: etree._Element) -> BankStatementData:
    report = _required(root, "c:BkToCstmrStmt")
    return BankStatementData(
        message_id=_required_text(report, "c:GrpHdr/c:MsgId"),
        created_at=_datetime(_required_text(report, "c:GrpHdr/c:CreDtTm")),
        version=SUPPORTED_VERSION,
        statements=tuple(_read_statement(s) for s in report.iterfind("c:Stmt", _NS)),
    )


def _read_statement(stmt: etree._Element) -> Statement:
    statement_id = _required_text(stmt, "c:Id")
    balances = tuple(_read_balance(b) for b in stmt.iterfind("c:Bal", _NS))
    by_type: dict[str, Balance] = {}
    for balance in balances:
        by_type.setdefault(balance.type_code, balance)
    opening = by_type.get("OPBD") or by_type.get("PRCD")
    closing = by_type.get("CLBD")
    # Without both booked balances the import cannot check continuity with the previous
    # statement, so such a file is refused rather than half imported.
    if opening is None:
        raise CamtError(
            f"Statement {statement_id} has no opening balance (OPBD or PRCD).", code="content"
        )
    if closing is None:
        raise CamtError(f"Statement {statement_id} has no closing balance (CLBD).", code="content")
    sequence = _text(stmt, "c:ElctrncSeqNb")
    entries = tuple(
        _read_entry(entry, position)
        for position, entry in enumerate(stmt.iterfind("c:Ntry", _NS), start=1)
    )
    return Statement(
        statement_id=statement_id,
        electronic_sequence_number=int(Decimal(sequence)) if sequence is not None else None,
        created_at=_datetime(_required_text(stmt, "c:CreDtTm")),
        account_iban=_text(stmt, "c:Acct/c:Id/c:IBAN"),
        currency=_text(stmt, "c:Acct/c:Ccy") or closing.currency,
        opening_balance=opening,
        closing_balance=closing,
        balances=balances,
        entries=entries,
    )


def _read_balance(bal: etree._Element) -> Balance:
    amount, currency = _amount(_required(bal, "c:Amt"))
    type_code = _text(bal, "c:Tp/c:CdOrPrtry/c:Cd") or _text(bal, "c:Tp/c:CdOrPrtry/c:Prtry")
    day = _date_choice(_required(bal, "c:Dt"))
    if type_code is None or day is None:
        raise CamtError("A balance lacks its type or date.", code="content")
    return Balance(
        type_code=type_code,
        amount=amount,
        currency=currency,
        credit_debit=CreditDebit(_required_text(bal, "c:CdtDbtInd")),
        date=day,
    )


def _read_entry(ntry: etree._Element, position: int) -> Entry:
    amount, currency = _amount(_required(ntry, "c:Amt"))
    credit_debit = CreditDebit(_required_text(ntry, "c:CdtDbtInd"))
    entry_ref = _text(ntry, "c:NtryRef")
    servicer_ref = _text(ntry, "c:AcctSvcrRef")
    if entry_ref is not None:
        reference, source = entry_ref, ReferenceSource.ENTRY_REF
    elif servicer_ref is not None:
        reference, source = servicer_ref, ReferenceSource.SERVICER_REF
    else:
        reference, source = f"#{position}", ReferenceSource.POSITION
    batches = tuple(_read_batch(b) for b in ntry.iterfind("c:NtryDtls/c:Btch", _NS))
    tx_elements = list(ntry.iterfind("c:NtryDtls/c:TxDtls", _NS))
    # A single detail without its own amount is the whole entry; with several, an amount
    # that is absent stays absent rather than being guessed.
    only = (amount, currency) if len(tx_elements) == 1 else None
    details = tuple(_read_details(tx, credit_debit, only) for tx in tx_elements)
    return Entry(
        reference=reference,
        reference_source=source,
        entry_ref=entry_ref,
        account_servicer_ref=servicer_ref,
        amount=amount,
        currency=currency,
        credit_debit=credit_debit,
        reversal=_boolean(_text(ntry, "c:RvslInd")),
        status=EntryStatus(_required_text(ntry, "c:Sts")),
        booking_date=_date_choice(_find(ntry, "c:BookgDt")),
        value_date=_date_choice(_find(ntry, "c:ValDt")),
        bank_transaction_code=_read_code(_find(ntry, "c:BkTxCd")),
        batches=batches,
        details=details,
        additional_info=_text(ntry, "c:AddtlNtryInf"),
    )


def _read_code(element: etree._Element | None) -> BankTransactionCode | None:
    if element is None:
        return None
    code = BankTransactionCode(
        domain=_text(element, "c:Domn/c:Cd"),
        family=_text(element, "c:Domn/c:Fmly/c:Cd"),
        subfamily=_text(element, "c:Domn/c:Fmly/c:SubFmlyCd"),
        proprietary=_text(element, "c:Prtry/c:Cd"),
        proprietary_issuer=_text(element, "c:Prtry/c:Issr"),
    )
    return None if code == BankTransactionCode(None, None, None) else code


def _read_batch(btch: etree._Element) -> BatchInfo:
    count = _text(btch, "c:NbOfTxs")
    total_element = _find(btch, "c:TtlAmt")
    total, currency = _amount(total_element) if total_element is not None else (None, None)
    indicator = _text(btch, "c:CdtDbtInd")
    return BatchInfo(
        message_id=_text(btch, "c:MsgId"),
        payment_information_id=_text(btch, "c:PmtInfId"),
        number_of_transactions=int(count) if count is not None else None,
        total_amount=total,
        currency=currency,
        credit_debit=CreditDebit(indicator) if indicator is not None else None,
    )


def _read_details(
    tx: etree._Element, entry_indicator: CreditDebit, only: tuple[Decimal, str] | None
) -> TransactionDetails:
    # .001.02 has the amount only in AmtDtls/TxAmt; later versions add TxDtls/Amt.
    amount_element = _find(tx, "c:AmtDtls/c:TxAmt/c:Amt")
    if amount_element is None:
        amount_element = _find(tx, "c:Amt")
    amount: Decimal | None
    currency: str | None
    if amount_element is not None:
        amount, currency = _amount(amount_element)
    elif only is not None:
        amount, currency = only
    else:
        amount, currency = None, None
    indicator = _text(tx, "c:CdtDbtInd")
    remittance = [
        line.text.strip()
        for line in tx.iterfind("c:RmtInf/c:Ustrd", _NS)
        if line.text and line.text.strip()
    ]
    return TransactionDetails(
        end_to_end_id=_text(tx, "c:Refs/c:EndToEndId"),
        payment_information_id=_text(tx, "c:Refs/c:PmtInfId"),
        message_id=_text(tx, "c:Refs/c:MsgId"),
        instruction_id=_text(tx, "c:Refs/c:InstrId"),
        account_servicer_ref=_text(tx, "c:Refs/c:AcctSvcrRef"),
        amount=amount,
        currency=currency,
        credit_debit=CreditDebit(indicator) if indicator is not None else entry_indicator,
        debtor_name=_text(tx, "c:RltdPties/c:Dbtr/c:Nm"),
        debtor_iban=_text(tx, "c:RltdPties/c:DbtrAcct/c:Id/c:IBAN"),
        creditor_name=_text(tx, "c:RltdPties/c:Cdtr/c:Nm"),
        creditor_iban=_text(tx, "c:RltdPties/c:CdtrAcct/c:Id/c:IBAN"),
        remittance=" ".join(remittance) or None,
        return_info=_read_return(_find(tx, "c:RtrInf")),
        additional_info=_text(tx, "c:AddtlTxInf"),
    )


def _read_return(element: etree._Element | None) -> ReturnInfo | None:
    if element is None:
        return None
    return ReturnInfo(
        reason_code=_text(element, "c:Rsn/c:Cd"),
        proprietary_reason=_text(element, "c:Rsn/c:Prtry"),
        additional_info=tuple(
            line.text.strip()
            for line in element.iterfind("c:AddtlInf", _NS)
            if line.text and line.text.strip()
        ),
    )
