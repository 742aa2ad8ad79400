"""Payouts, payment batches and bank statements (DESIGN.md §3, issue 5)."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from housing.db import Base, created_at, intpk, money, str_enum
from workflows.claim import ClaimState
from workflows.payments import BatchState, PayoutState

# What still counts against a line's grant: everything but the refused and the withdrawn.
# A returned payout counts too: it is paid again once its IBAN is corrected.
LIVE_STATES = tuple(
    s for s in PayoutState if s not in (PayoutState.REJECTED, PayoutState.CANCELLED)
)
PAYABLE_CLAIM_STATES = (ClaimState.GRANTED, ClaimState.IN_PAYMENT)
# Payouts that must be decided before what is left of a grant can be closed: closing means
# nothing more is paid, so none may still be on its way to a batch. A sent payout may
# stand: the money has left, and the claim is settled once the statement books it.
UNDECIDED_STATES = (
    PayoutState.REQUESTED,
    PayoutState.FIRST_APPROVED,
    PayoutState.APPROVED,
    PayoutState.BATCHED,
    PayoutState.RETURNED,
)


class PayoutKind(enum.StrEnum):
    REIMBURSEMENT = "reimbursement"  # regime A: the office holder paid and is reimbursed
    SUPPLIER = "supplier"  # regime B: the body pays the supplier's invoice


class ApprovalLimit(Base):
    """Payment delegation: up to this amount one finance user's approval suffices."""

    __tablename__ = "approval_limit"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    amount: Mapped[money]


class Payout(Base):
    __tablename__ = "payout"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("vat_amount >= 0 AND vat_amount <= amount", name="vat_in_range"),
        CheckConstraint("version >= 1", name="version_positive"),
        # The same supplier invoice is paid once: its number per payee account.
        Index(
            "uq_payout_invoice_per_payee",
            "organisation_id",
            "payee_iban",
            "invoice_number",
            unique=True,
            postgresql_where=text("state NOT IN ('rejected', 'cancelled')"),
            sqlite_where=text("state NOT IN ('rejected', 'cancelled')"),
        ),
        Index("ix_payout_organisation_state", "organisation_id", "state"),
    )

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), index=True)
    measure_line_id: Mapped[int] = mapped_column(ForeignKey("measure_line.id"), index=True)
    kind: Mapped[PayoutKind] = mapped_column(str_enum(PayoutKind, "payout_kind"))
    # Named so its CHECK stays ck_payout_known_state, the constraint the migrations created.
    state: Mapped[PayoutState] = mapped_column(
        str_enum(PayoutState, "known_state"), default=PayoutState.REQUESTED
    )
    payee_name: Mapped[str] = mapped_column(String(140))
    payee_iban: Mapped[str] = mapped_column(String(34))
    payee_bic: Mapped[str | None] = mapped_column(String(11))
    amount: Mapped[money]  # incl. VAT
    vat_amount: Mapped[money]
    invoice_number: Mapped[str] = mapped_column(String(60))
    invoice_date: Mapped[dt.date] = mapped_column(Date)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    first_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # The bank's return, in its code and in Dutch, while the payout waits for a new IBAN.
    return_reason_code: Mapped[str | None] = mapped_column(String(10))
    return_reason: Mapped[str | None] = mapped_column(String(200))
    # A recurring measure's period this payout pays for (its first day), else None.
    period_start: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[created_at]

    __mapper_args__ = {"version_id_col": version}


class PaymentBatch(Base):
    __tablename__ = "payment_batch"
    __table_args__ = (
        CheckConstraint("item_count >= 0", name="count_not_negative"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint(
            "approved_by_id IS NULL OR released_by_id IS NULL OR approved_by_id <> released_by_id",
            name="two_people",
        ),
        # Released means frozen: the file, its hash and when are all there.
        CheckConstraint(
            "state NOT IN ('released', 'booked')"
            " OR (file_sha256 IS NOT NULL AND file_data IS NOT NULL AND released_at IS NOT NULL)",
            name="released_is_frozen",
        ),
    )

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    # Named so its CHECK stays ck_payment_batch_known_state, the one the migrations created.
    state: Mapped[BatchState] = mapped_column(
        str_enum(BatchState, "known_state"), default=BatchState.OPEN
    )
    # Ours, stored, unique: MsgId and PmtInfId of the pain.001 (≤ 35, SEPA characters).
    msg_id: Mapped[str] = mapped_column(String(35), unique=True)
    pmt_inf_id: Mapped[str] = mapped_column(String(35), unique=True)
    pain_version: Mapped[str] = mapped_column(String(20))
    execution_date: Mapped[dt.date] = mapped_column(Date)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[money] = mapped_column(default=Decimal("0.00"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_at: Mapped[dt.datetime | None]
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    released_at: Mapped[dt.datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # The frozen pain.001 (encrypted: names and accounts) and the SHA-256 of its bytes.
    file_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[created_at]

    items: Mapped[list[PaymentBatchItem]] = relationship(
        back_populates="batch", order_by="PaymentBatchItem.id"
    )

    __mapper_args__ = {"version_id_col": version}


class PaymentBatchItem(Base):
    """One payout in one batch, under the EndToEndId it travels with."""

    __tablename__ = "payment_batch_item"
    __table_args__ = (
        UniqueConstraint("batch_id", "payout_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[intpk]
    batch_id: Mapped[int] = mapped_column(ForeignKey("payment_batch.id"), index=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payout.id"), index=True)
    # Carries the claim number; a payout paid again after a return gets a new one.
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    amount: Mapped[money]
    # Copied at batching: the file is made from these, so it never changes after release.
    payee_name: Mapped[str] = mapped_column(String(140))
    payee_iban: Mapped[str] = mapped_column(String(34))
    payee_bic: Mapped[str | None] = mapped_column(String(11))
    remittance: Mapped[str] = mapped_column(String(140))
    # Set when the bank statement shows the payout's debit (and which entry it was).
    # Indexed: the review queue and a second import look items up by the entry booking them.
    booked_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("statement_entry.id"), index=True
    )

    batch: Mapped[PaymentBatch] = relationship(back_populates="items")


class RemainderClosure(Base):
    """Finance closed what is granted and not yet paid: nothing more is paid on the claim.

    The office holder never had a measure installed, or it cost less than granted; the
    claim is settled once the payouts under way are booked, and the part of the grant not
    paid goes back to the budget of the year that committed it.
    """

    __tablename__ = "remainder_closure"
    __table_args__ = (CheckConstraint("released >= 0", name="released_not_negative"),)

    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    closed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(Text)
    # What went back to the budget: granted minus every payout still standing.
    released: Mapped[money]
    budget_year: Mapped[int | None] = mapped_column(Integer)


class StatementEntryStatus(enum.StrEnum):
    MATCHED = "matched"  # booked against payouts automatically or by hand
    RETURN = "return"  # a payout came back
    UNMATCHED = "unmatched"  # in the review queue
    DISMISSED = "dismissed"  # reviewed: not ours (bank costs, other payments)
    DUPLICATE = "duplicate"  # a second debit for an already booked payout: flagged


class BankStatement(Base):
    __tablename__ = "bank_statement"
    __table_args__ = (UniqueConstraint("organisation_id", "statement_ident"),)

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    statement_ident: Mapped[str] = mapped_column(String(35))  # Stmt/Id
    account_iban: Mapped[str] = mapped_column(String(34))
    sequence_number: Mapped[int | None] = mapped_column(Integer)
    opening_balance: Mapped[money]
    closing_balance: Mapped[money]
    opening_date: Mapped[dt.date | None] = mapped_column(Date)
    closing_date: Mapped[dt.date | None] = mapped_column(Date)
    # The opening balance does not follow the previous statement's closing balance.
    balance_gap: Mapped[bool] = mapped_column(default=False)
    file_sha256: Mapped[str] = mapped_column(String(64))
    imported_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[created_at]


class StatementEntry(Base):
    __tablename__ = "statement_entry"
    __table_args__ = (
        # Importing the same statement again changes nothing: one row per entry.
        UniqueConstraint("organisation_id", "statement_ident", "entry_reference"),
        Index("ix_statement_entry_review", "organisation_id", "status"),
    )

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    statement_id: Mapped[int] = mapped_column(ForeignKey("bank_statement.id"), index=True)
    statement_ident: Mapped[str] = mapped_column(String(35))
    entry_reference: Mapped[str] = mapped_column(String(70))
    amount: Mapped[money]
    credit: Mapped[bool]  # a credit (money in: a return) or a debit (money out)
    booking_date: Mapped[dt.date | None] = mapped_column(Date)
    end_to_end_ids: Mapped[str | None] = mapped_column(Text)  # comma-separated, for review
    pmt_inf_id: Mapped[str | None] = mapped_column(String(35))
    counterparty: Mapped[str | None] = mapped_column(String(140))
    remittance: Mapped[str | None] = mapped_column(String(140))
    status: Mapped[StatementEntryStatus] = mapped_column(
        str_enum(StatementEntryStatus, "statement_entry_status")
    )
    note: Mapped[str | None] = mapped_column(String(300))  # why it is in the queue / resolved
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
