"""What a camt.053 statement says, as frozen dataclasses with `Decimal` amounts (pure).

The reader (`housing.payments.camt`) builds these from a validated document. Amounts are
kept absolute with their credit/debit indicator, as the standard does; `signed_amount`
gives the sign. Return reason codes read in Dutch through `describe_return`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class CamtError(ValueError):
    """The file is refused; `message` is safe to show to a finance user, `code` names the kind."""

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class CamtSchemaError(RuntimeError):
    """The camt.053 XSD cannot be loaded: a deployment fault, never a reason to skip validation."""


class CreditDebit(StrEnum):
    CREDIT = "CRDT"
    DEBIT = "DBIT"


class EntryStatus(StrEnum):
    BOOKED = "BOOK"
    PENDING = "PDNG"
    INFO = "INFO"


class ReferenceSource(StrEnum):
    """Where `Entry.reference` came from, so the importer can tell a weak key from a strong one."""

    ENTRY_REF = "NtryRef"
    SERVICER_REF = "AcctSvcrRef"
    # Neither reference is present: the 1-based position of the entry in its statement.
    POSITION = "position"


def signed_amount(amount: Decimal, indicator: CreditDebit) -> Decimal:
    """Return `amount` positive for a credit and negative for a debit."""
    return amount if indicator is CreditDebit.CREDIT else -amount


@dataclass(frozen=True)
class Balance:
    """A `Bal`: one balance of the statement."""

    type_code: str  # OPBD, PRCD, CLBD, ... (or a proprietary code)
    amount: Decimal
    currency: str
    credit_debit: CreditDebit
    date: date

    @property
    def signed_amount(self) -> Decimal:
        return signed_amount(self.amount, self.credit_debit)


@dataclass(frozen=True)
class BankTransactionCode:
    """A `BkTxCd`: the ISO domain/family/subfamily and the bank's own code."""

    domain: str | None  # e.g. PMNT
    family: str | None  # e.g. ICDT
    subfamily: str | None  # e.g. ESCT, RRTN
    proprietary: str | None = None
    proprietary_issuer: str | None = None


@dataclass(frozen=True)
class BatchInfo:
    """An `NtryDtls/Btch`: the bank's summary of a batch booked as one entry."""

    message_id: str | None
    payment_information_id: str | None
    number_of_transactions: int | None
    total_amount: Decimal | None
    currency: str | None
    credit_debit: CreditDebit | None


@dataclass(frozen=True)
class ReturnInfo:
    """A `TxDtls/RtrInf`: why the bank sent a payment back."""

    reason_code: str | None  # an ISO external code such as AC04
    proprietary_reason: str | None
    additional_info: tuple[str, ...]

    @property
    def code(self) -> str | None:
        return self.reason_code or self.proprietary_reason

    @property
    def description_nl(self) -> str:
        return describe_return(self.code or "")


@dataclass(frozen=True)
class TransactionDetails:
    """A `TxDtls`: one payment inside an entry (several for a batch entry)."""

    end_to_end_id: str | None
    payment_information_id: str | None
    message_id: str | None
    instruction_id: str | None
    account_servicer_ref: str | None
    amount: Decimal | None
    currency: str | None
    credit_debit: CreditDebit
    debtor_name: str | None
    debtor_iban: str | None
    creditor_name: str | None
    creditor_iban: str | None
    remittance: str | None
    return_info: ReturnInfo | None
    additional_info: str | None

    @property
    def counterparty_name(self) -> str | None:
        """The other party: the creditor of a debit, the debtor of a credit."""
        return self.creditor_name if self.credit_debit is CreditDebit.DEBIT else self.debtor_name

    @property
    def counterparty_iban(self) -> str | None:
        return self.creditor_iban if self.credit_debit is CreditDebit.DEBIT else self.debtor_iban

    @property
    def signed_amount(self) -> Decimal | None:
        return None if self.amount is None else signed_amount(self.amount, self.credit_debit)


@dataclass(frozen=True)
class Entry:
    """An `Ntry`: one booking (or pending or informational item) on the account."""

    reference: str
    reference_source: ReferenceSource
    entry_ref: str | None
    account_servicer_ref: str | None
    amount: Decimal
    currency: str
    credit_debit: CreditDebit
    reversal: bool
    status: EntryStatus
    booking_date: date | None
    value_date: date | None
    bank_transaction_code: BankTransactionCode | None
    batches: tuple[BatchInfo, ...]
    details: tuple[TransactionDetails, ...]
    additional_info: str | None

    @property
    def signed_amount(self) -> Decimal:
        return signed_amount(self.amount, self.credit_debit)

    @property
    def batch(self) -> BatchInfo | None:
        """The entry's batch information; None when absent or ambiguous (several `Btch`)."""
        return self.batches[0] if len(self.batches) == 1 else None

    @property
    def is_return(self) -> bool:
        return any(detail.return_info is not None for detail in self.details)


@dataclass(frozen=True)
class Statement:
    """A `Stmt`: one account statement."""

    statement_id: str
    electronic_sequence_number: int | None
    created_at: datetime
    account_iban: str | None  # None when the account is identified otherwise (`Othr`)
    currency: str
    opening_balance: Balance  # OPBD, or PRCD when the bank reports that instead
    closing_balance: Balance  # CLBD
    balances: tuple[Balance, ...]  # every `Bal`, in document order
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class BankStatementData:
    """A camt.053 document: its group header and statements."""

    message_id: str
    created_at: datetime
    version: str
    statements: tuple[Statement, ...]


# Dutch texts for the ISO 20022 external return reason codes finance meets on SEPA credit
# transfers (and a few direct-debit ones banks reuse), as shown to finance and on the payout.
RETURN_REASONS_NL: Mapping[str, str] = {
    "AC01": "Rekeningnummer onjuist",
    "AC03": "Rekeningnummer begunstigde ongeldig",
    "AC04": "Rekening opgeheven",
    "AC06": "Rekening geblokkeerd",
    "AC13": "Rekeningsoort ongeldig",
    "AG01": "Transactie niet toegestaan op deze rekening",
    "AG02": "Ongeldige bewerkingscode",
    "AM04": "Onvoldoende saldo",
    "AM05": "Dubbele betaling",
    "AM09": "Bedrag onjuist",
    "BE04": "Adres begunstigde ontbreekt of is onjuist",
    "CNOR": "Bank van de begunstigde niet bereikbaar",
    "CUST": "Op verzoek van de klant",
    "DNOR": "Bank van de betaler niet bereikbaar",
    "DUPL": "Dubbele betaling",
    "ED05": "Verrekening mislukt",
    "FF01": "Ongeldig bestandsformaat",
    "FOCR": "Teruggeboekt na verzoek tot annulering",
    "FRAD": "Vermoeden van fraude",
    "MD01": "Geen machtiging",
    "MD06": "Terugboeking op verzoek van de klant",
    "MD07": "Rekeninghouder overleden",
    "MS02": "Reden niet opgegeven door de rekeninghouder",
    "MS03": "Reden niet opgegeven",
    "RC01": "BIC onjuist",
    "RR01": "Rekening of identificatie van de betaler ontbreekt (regelgeving)",
    "RR02": "Naam of adres van de betaler ontbreekt (regelgeving)",
    "RR03": "Naam of adres van de begunstigde ontbreekt (regelgeving)",
    "RR04": "Wet- en regelgeving",
    "SL01": "Specifieke dienst van de bank",
    "TECH": "Technisch probleem",
    "TM01": "Ontvangen na de sluitingstijd",
}


def describe_return(code: str) -> str:
    """Return the Dutch description of a return reason code."""
    key = code.strip().upper()
    return RETURN_REASONS_NL.get(key) or f"Onbekende reden ({key or 'geen code'})"
