"""Claim and what hangs under it; sensitive contents are encrypted at rest."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from housing.db import Base, EncryptedText, created_at, encrypted, intpk, money, str200, str_enum
from workflows.claim import ClaimState
from workflows.objection import ObjectionState
from workflows.rules import Regime

if TYPE_CHECKING:
    from housing.organisations.models import Home, MeasureCatalogue, OfficeHolder


class PkvwStatus(enum.StrEnum):
    CERTIFIED = "certified"
    NOT_CERTIFIED = "not_certified"
    UNKNOWN = "unknown"


class Recurrence(enum.StrEnum):
    ONE_OFF = "one_off"
    MONTHLY = "monthly"
    YEARLY = "yearly"


class DocumentKind(enum.StrEnum):
    SCAN_REPORT = "scan_report"
    SECURITY_ADVICE = "security_advice"
    QUOTE = "quote"
    INVOICE = "invoice"
    PHOTO = "photo"
    DECISION_LETTER = "decision_letter"
    NOTICE_LETTER = "notice_letter"  # news for someone who chose post, for the print queue
    # Sent with the answer to an information request ("aanvulling", art. 4:5 Awb).
    SUPPLEMENT = "supplement"
    OTHER = "other"


class Confidentiality(enum.StrEnum):
    """Woo art. 5.1: what may be disclosed; every claim document is at least internal."""

    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    SECRET = "secret"  # noqa: S105 (a level, not a password): the advice, the home's layout


class DecisionKind(enum.StrEnum):
    GRANT = "grant"
    PARTIAL_GRANT = "partial_grant"
    REFUSAL = "refusal"
    NOT_CONSIDERED = "not_considered"
    EXTENSION_NOTICE = "extension_notice"
    PENALTY = "penalty"
    OBJECTION_DECISION = "objection_decision"


class Claim(Base):
    __tablename__ = "claim"
    __table_args__ = (
        UniqueConstraint("organisation_id", "number"),
        # The inbox: an organisation's open claims, nearest decision deadline first.
        Index("ix_claim_inbox", "organisation_id", "decision_deadline", "id"),
        # The search over all claims: newest received first, paged by (received_on, id).
        Index("ix_claim_search", "organisation_id", "received_on", "id"),
        # "Claims of this assessor" in the search.
        Index("ix_claim_assessor", "organisation_id", "assessor_id"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    number: Mapped[str] = mapped_column(String(35))
    office_holder_id: Mapped[int] = mapped_column(ForeignKey("office_holder.id"), index=True)
    home_id: Mapped[int] = mapped_column(ForeignKey("home.id"), index=True)
    # Who filed it: the office holder, or a clerk on their behalf.
    filed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    regime: Mapped[Regime | None] = mapped_column(str_enum(Regime, "regime"))
    # Named so its CHECK stays ck_claim_known_state, the constraint the migrations created.
    state: Mapped[ClaimState] = mapped_column(
        str_enum(ClaimState, "known_state"), default=ClaimState.DRAFT, index=True
    )
    application_date: Mapped[dt.date | None] = mapped_column(Date)
    received_on: Mapped[dt.date | None] = mapped_column(Date)
    decision_deadline: Mapped[dt.date | None] = mapped_column(Date, index=True)
    # The claim's own assessor: who took it from the inbox, or whom it was assigned to.
    assessor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # The authentication context (`acr`) of the single sign-on session it was submitted in,
    # e.g. DigiD "midden" through a broker; None for a password login.
    submitted_acr: Mapped[str | None] = mapped_column(String(200))
    # Optimistic lock: a stale write raises instead of overwriting (StaleDataError).
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[created_at]

    __mapper_args__ = {"version_id_col": version}

    office_holder: Mapped[OfficeHolder] = relationship()
    home: Mapped[Home] = relationship()
    lines: Mapped[list[MeasureLine]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="MeasureLine.id"
    )
    scan: Mapped[WoningScan | None] = relationship(back_populates="claim", uselist=False)
    advice: Mapped[SecurityAdvice | None] = relationship(back_populates="claim", uselist=False)

    # What the workflow rules read (workflows.rules.ClaimFacts), through the relationships.
    @property
    def advice_recorded(self) -> bool:
        """Whether the security advice is recorded (workflows.claim.OfferableClaim)."""
        return self.advice is not None

    @property
    def office_type(self) -> str:
        return self.office_holder.office_type.value

    @property
    def term_start(self) -> dt.date:
        return self.office_holder.term_start

    @property
    def term_end(self) -> dt.date | None:
        return self.office_holder.term_end

    @property
    def appointment_certain_on(self) -> dt.date | None:
        return self.office_holder.appointment_certain_on

    @property
    def office_holder_user_id(self) -> int | None:
        return self.office_holder.user_id

    @property
    def home_registered_address(self) -> bool:
        return self.home.is_registered_address

    @property
    def home_exemption_reference(self) -> str | None:
        return self.home.exemption_reference


class WoningScan(Base):
    __tablename__ = "woning_scan"

    id: Mapped[intpk]
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), unique=True)
    adviser_name: Mapped[str200]
    scan_date: Mapped[dt.date] = mapped_column(Date)
    pkvw_status: Mapped[PkvwStatus] = mapped_column(str_enum(PkvwStatus, "pkvw_status"))
    findings: Mapped[encrypted]

    claim: Mapped[Claim] = relationship(back_populates="scan")


class SecurityAdvice(Base):
    """The BZK advice: an external, highly confidential document; its contents encrypted."""

    __tablename__ = "security_advice"

    id: Mapped[intpk]
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), unique=True)
    reference: Mapped[str] = mapped_column(String(100))
    advice_date: Mapped[dt.date] = mapped_column(Date)
    # Catalogue codes of the advised measures, comma-separated, encrypted with the rest.
    advised_measures: Mapped[encrypted]
    contents: Mapped[encrypted]

    claim: Mapped[Claim] = relationship(back_populates="advice")


class MeasureLine(Base):
    __tablename__ = "measure_line"
    __table_args__ = (
        CheckConstraint("requested_amount > 0", name="requested_positive"),
        CheckConstraint("vat_amount >= 0 AND vat_amount <= requested_amount", name="vat_in_range"),
        CheckConstraint(
            "granted_amount IS NULL"
            " OR (granted_amount >= 0 AND granted_amount <= requested_amount)",
            name="granted_within_requested",
        ),
    )

    id: Mapped[intpk]
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), index=True)
    catalogue_id: Mapped[int] = mapped_column(ForeignKey("measure_catalogue.id"))
    description: Mapped[str] = mapped_column(String(500))
    requested_amount: Mapped[money]  # incl. VAT
    vat_amount: Mapped[money]
    granted_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    grant_reason: Mapped[str | None] = mapped_column(Text)
    recurrence: Mapped[Recurrence] = mapped_column(
        str_enum(Recurrence, "recurrence"), default=Recurrence.ONE_OFF
    )
    supplier_name: Mapped[str | None] = mapped_column(String(200))

    claim: Mapped[Claim] = relationship(back_populates="lines")
    catalogue: Mapped[MeasureCatalogue] = relationship(lazy="joined")

    @property
    def catalogue_code(self) -> str:
        return self.catalogue.code

    @property
    def is_basic_measure(self) -> bool:
        return self.catalogue.is_basic_measure


class InformationRequest(Base):
    """A request to complete the application (art. 4:5); it suspends the decision term."""

    __tablename__ = "information_request"
    __table_args__ = (CheckConstraint("term_days >= 1", name="term_positive"),)

    id: Mapped[intpk]
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    requested_on: Mapped[dt.date] = mapped_column(Date)
    term_days: Mapped[int]
    # What is asked may describe the home's weak spots: encrypted like the findings.
    question: Mapped[encrypted]
    answered_on: Mapped[dt.date | None] = mapped_column(Date)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    answer: Mapped[str | None] = mapped_column(EncryptedText)
    # The timeline's entries of the question and of the answer (their audit links).
    request_event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_event.id"))
    answer_event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_event.id"))


class Document(Base):
    __tablename__ = "document"
    __table_args__ = (CheckConstraint("size_bytes > 0", name="not_empty"),)

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(str_enum(DocumentKind, "document_kind"))
    confidentiality: Mapped[Confidentiality] = mapped_column(
        str_enum(Confidentiality, "confidentiality")
    )
    filename: Mapped[encrypted]
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Where the encrypted bytes lie, outside the web root; never derived from user input.
    storage_key: Mapped[str] = mapped_column(String(100), unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # The information request whose answer this file came with, if it did.
    information_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("information_request.id"), index=True
    )
    created_at: Mapped[created_at]


class Decision(Base):
    __tablename__ = "decision"
    __table_args__ = (
        CheckConstraint(
            "decided_by_id IS NULL OR prepared_by_id IS NULL OR decided_by_id <> prepared_by_id",
            name="four_eyes",
        ),
        CheckConstraint(
            "(kind = 'penalty') = (penalty_amount IS NOT NULL)", name="penalty_has_amount"
        ),
        # The penalty of a late decision is fixed once (art. 4:18 Awb): a second click or a
        # concurrent request cannot fix it twice.
        Index(
            "uq_decision_one_penalty_per_claim",
            "claim_id",
            unique=True,
            postgresql_where=text("kind = 'penalty'"),
            sqlite_where=text("kind = 'penalty'"),
        ),
    )

    id: Mapped[intpk]
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), index=True)
    kind: Mapped[DecisionKind] = mapped_column(str_enum(DecisionKind, "decision_kind"))
    prepared_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime | None]
    sent_on: Mapped[dt.date | None] = mapped_column(Date)
    reasons: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    new_deadline: Mapped[dt.date | None] = mapped_column(Date)
    penalty_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    letter_document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    created_at: Mapped[created_at]


class Objection(Base):
    """An objection (bezwaar) against one decision of a claim, its own small case.

    It runs beside the claim (workflows/objection.py): lodging one changes nothing of the
    claim, so the payouts of what was granted go on. At most one open objection per
    decision. `late` is fixed at lodging from the objection term (art. 6:7-6:9 Awb) and
    left to the decider to judge (art. 6:11 Awb); the decision on the objection is a
    `Decision` of kind objection_decision, with its letter.
    """

    __tablename__ = "objection"
    __table_args__ = (
        Index(
            "uq_objection_one_open_per_decision",
            "decision_id",
            unique=True,
            postgresql_where=text("state IN ('new', 'lodged', 'in_review')"),
            sqlite_where=text("state IN ('new', 'lodged', 'in_review')"),
        ),
    )

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), index=True)
    # The decision objected to.
    decision_id: Mapped[int] = mapped_column(ForeignKey("decision.id"))
    state: Mapped[ObjectionState] = mapped_column(
        str_enum(ObjectionState, "objection_state"), default=ObjectionState.NEW
    )
    # The day it was received: online the day it was sent, on paper the stamp's date.
    lodged_on: Mapped[dt.date] = mapped_column(Date)
    # The last day of the objection term, and whether it was received after it.
    term_ends_on: Mapped[dt.date] = mapped_column(Date)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    on_paper: Mapped[bool] = mapped_column(Boolean, default=False)
    grounds: Mapped[str] = mapped_column(String(4000))
    lodged_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reasons: Mapped[str | None] = mapped_column(String(4000))
    # The decision on the objection (kind objection_decision), with its letter.
    outcome_decision_id: Mapped[int | None] = mapped_column(ForeignKey("decision.id"))
    created_at: Mapped[created_at]

    claim: Mapped[Claim] = relationship()
    decision: Mapped[Decision] = relationship(foreign_keys=[decision_id])

    # What the objection machine reads (workflows.objection.ObjectionLike).
    @property
    def office_holder_id(self) -> int:
        return self.claim.office_holder_id

    @property
    def office_holder_user_id(self) -> int | None:
        return self.claim.office_holder_user_id

    @property
    def contested_prepared_by_id(self) -> int | None:
        return self.decision.prepared_by_id


class DefaultNotice(Base):
    """A written notice of default (ingebrekestelling, art. 4:17 Awb) for a late decision.

    Only the first notice received after the deadline counts: the penalty runs from two
    weeks after its receipt, so a claim has at most one.
    """

    __tablename__ = "default_notice"

    id: Mapped[intpk]
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), unique=True)
    received_on: Mapped[dt.date] = mapped_column(Date)
    # The applicant online, or staff recording a notice that came on paper.
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[created_at]


class ClaimNote(Base):
    """An internal note between the case handlers on a claim: never the applicant's to read,
    never in a letter or a message. Encrypted like the rest of what is said about a home."""

    __tablename__ = "claim_note"
    __table_args__ = (Index("ix_claim_note_claim", "claim_id", "id"),)

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    text: Mapped[encrypted]
    created_at: Mapped[created_at]


class ClaimNumberCounter(Base):
    """The last claim number given out per organisation and year.

    Counting an organisation's claims to number the next one lets two drafts started at
    once take the same number; this row is incremented in one statement instead, so the
    second waits for the first's commit and takes the next.
    """

    __tablename__ = "claim_number_counter"
    __table_args__ = (CheckConstraint("last_number >= 1", name="last_number_positive"),)

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)
