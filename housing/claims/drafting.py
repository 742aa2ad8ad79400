"""Drafting a claim: the draft and its number, measure lines, documents, the woningscan
and the checklist the applicant reviews before submitting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite

from housing.accounts.models import User
from housing.audit.services import DOWNLOAD, record_access
from housing.claims.base import NO_SUCH_CLAIM, ClaimServiceBase
from housing.claims.models import (
    Claim,
    ClaimNumberCounter,
    Document,
    DocumentKind,
    MeasureLine,
    PkvwStatus,
    Recurrence,
    WoningScan,
)
from housing.claims.permissions import (
    may_add_line,
    may_claim_for_home,
    may_read_document,
    may_record_scan,
    may_start_claim,
    may_upload,
)
from housing.dates import EVIDENCE_FROM, parse_day
from housing.db import DbSession
from housing.errors import NotFound
from housing.inputs import check_text, column_length
from housing.money import invalid, parse_money
from housing.organisations.catalogue import offered_measures
from housing.organisations.models import Home, MeasureCatalogue
from housing.permissions import actor_for, require
from housing.scoping import Scope
from workflows.claim import ClaimState
from workflows.rules import Regime, regime_for

SCAN_FINDINGS_MAX = column_length(WoningScan.findings)


@dataclass(frozen=True)
class LineInput:
    catalogue_code: str
    description: str
    requested_amount: Any
    vat_amount: Any
    recurrence: str = Recurrence.ONE_OFF.value
    supplier_name: str | None = None


@dataclass(frozen=True)
class ScanInput:
    adviser_name: str
    scan_date: Any
    pkvw_status: str
    findings: str


@dataclass(frozen=True)
class ChecklistItem:
    label: Any
    done: bool
    # A required item blocks the submission (the workflow refuses it); others advise.
    required: bool


def next_claim_number(session: DbSession, organisation_id: int, year: int) -> int:
    """The organisation's next claim number in `year`, taken in one atomic statement.

    The counter row stays locked until this transaction ends: a draft started at the same
    moment waits, then takes the number after it. A rolled-back draft gives its number back.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(ClaimNumberCounter)
        .values(organisation_id=organisation_id, year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=[ClaimNumberCounter.organisation_id, ClaimNumberCounter.year],
            set_={"last_number": ClaimNumberCounter.last_number + 1},
        )
        .returning(ClaimNumberCounter.last_number)
    )
    return int(session.execute(statement).scalar_one())


class DraftingService(ClaimServiceBase):
    """The applicant's draft and what goes into it, before and during assessment."""

    def create_draft(self, scope: Scope, user: User, *, home_id: int) -> Claim:
        """A new claim for one of the applicant's own homes."""
        actor = actor_for(self.session, user)
        require(may_start_claim(actor))
        home = scope.get(self.session, Home, home_id)
        require(may_claim_for_home(actor, home))
        assert home is not None
        today = self.today()
        organisation_id = home.office_holder.organisation_id
        number = next_claim_number(self.session, organisation_id, today.year)
        claim = Claim(
            organisation_id=organisation_id,
            number=f"VW-{today.year}-{number:05d}",
            office_holder=home.office_holder,
            home=home,
            filed_by_id=user.id,
            regime=regime_for(today),
            state=ClaimState.DRAFT,
        )
        self.session.add(claim)
        self.session.flush()
        self.audit.append(
            claim.organisation_id,
            event="create",
            actor_id=user.id,
            claim_id=claim.id,
            to_state=ClaimState.DRAFT.value,
            payload={"number": claim.number, "home_id": home.id},
        )
        return claim

    def add_line(self, scope: Scope, user: User, claim_id: int, line: LineInput) -> MeasureLine:
        claim = scope.get_for_update(self.session, Claim, claim_id, missing=NO_SUCH_CLAIM)
        require(may_add_line(actor_for(self.session, user), claim))
        requested = parse_money(line.requested_amount, "requested_amount")
        vat = parse_money(line.vat_amount, "vat_amount")
        if requested <= 0:
            raise invalid("requested_amount", _l("The amount must be more than zero."))
        if vat > requested:
            raise invalid("vat_amount", _l("The VAT cannot exceed the amount including VAT."))
        regime = claim.regime or Regime.B
        catalogue = self.session.scalars(
            offered_measures(claim.organisation_id, regime).where(
                MeasureCatalogue.code == line.catalogue_code
            )
        ).one_or_none()
        if catalogue is None:
            raise invalid("catalogue_code", _l("Choose a measure from the catalogue."))
        try:
            recurrence = Recurrence(line.recurrence)
        except ValueError:
            raise invalid("recurrence", _l("Choose one-off, monthly or yearly.")) from None
        if recurrence is not Recurrence.ONE_OFF and not catalogue.recurring_allowed:
            raise invalid("recurrence", _l("This measure cannot recur."))
        description = line.description.strip()
        if not description or len(description) > column_length(MeasureLine.description):
            raise invalid(
                "description",
                _l(
                    "Describe the measure in 1 to %(n)d characters.",
                    n=column_length(MeasureLine.description),
                ),
            )
        supplier = check_text(
            line.supplier_name, "supplier_name", MeasureLine.supplier_name, required=False
        )
        added = MeasureLine(
            claim=claim,
            catalogue=catalogue,
            description=description,
            requested_amount=requested,
            vat_amount=vat,
            recurrence=recurrence,
            supplier_name=supplier or None,
        )
        self.session.add(added)
        self.session.flush()
        return added

    # --- documents ------------------------------------------------------------------------
    def upload(
        self, scope: Scope, user: User, claim_id: int, *, kind: str, filename: str, data: bytes
    ) -> Document:
        claim = scope.get_for_update(self.session, Claim, claim_id, missing=NO_SUCH_CLAIM)
        try:
            document_kind = DocumentKind(kind)
        except ValueError:
            raise invalid("kind", _l("Choose what kind of document this is.")) from None
        require(may_upload(actor_for(self.session, user), claim, document_kind))
        document = self.documents.add(
            self.session,
            claim,
            kind=document_kind,
            filename=filename,
            data=data,
            uploaded_by_id=user.id,
        )
        self.audit.append(
            claim.organisation_id,
            event="add_document",
            actor_id=user.id,
            claim_id=claim.id,
            payload={"document_id": document.id, "kind": document.kind, "sha256": document.sha256},
        )
        return document

    def read_document(
        self,
        scope: Scope,
        user: User,
        claim_id: int,
        document_id: int,
        *,
        request_id: str | None = None,
    ) -> tuple[Document, bytes]:
        """A document's bytes for someone allowed to read them; the download is logged."""
        claim = scope.get(self.session, Claim, claim_id)
        document = self.session.get(Document, document_id)
        if claim is None or document is None or document.claim_id != claim.id:
            raise NotFound(_l("No such document."))
        require(may_read_document(actor_for(self.session, user), claim, document))
        data = self.documents.read(document)
        record_access(
            self.session,
            organisation_id=claim.organisation_id,
            user_id=user.id,
            roles=user.roles,
            claim_id=claim.id,
            document_id=document.id,
            action=DOWNLOAD,
            request_id=request_id,
        )
        return document, data

    def submission_checklist(
        self, claim: Claim, documents: Sequence[Document]
    ) -> list[ChecklistItem]:
        """What the review step shows before the applicant submits."""
        return [
            ChecklistItem(_l("At least one measure is requested."), bool(claim.lines), True),
            ChecklistItem(
                _l("A quote is added for the measures."),
                any(d.kind is DocumentKind.QUOTE for d in documents),
                False,
            ),
            ChecklistItem(
                _l("The scan results are recorded, if the scan has been done."),
                claim.scan is not None,
                False,
            ),
        ]

    # --- the woningscan -------------------------------------------------------------------
    def record_scan(self, scope: Scope, user: User, claim_id: int, scan: ScanInput) -> WoningScan:
        """Record (or correct) the woningscan: the applicant in the draft, the assessor later."""
        claim = scope.get_for_update(self.session, Claim, claim_id, missing=NO_SUCH_CLAIM)
        require(may_record_scan(actor_for(self.session, user), claim))
        adviser = scan.adviser_name.strip()
        if not adviser or len(adviser) > column_length(WoningScan.adviser_name):
            raise invalid(
                "adviser_name",
                _l(
                    "Give the adviser's name (at most %(n)d characters).",
                    n=column_length(WoningScan.adviser_name),
                ),
            )
        scan_date = parse_day(scan.scan_date, "scan_date", earliest=EVIDENCE_FROM)
        if scan_date > self.today():
            raise invalid("scan_date", _l("The scan cannot be in the future."))
        try:
            pkvw = PkvwStatus(scan.pkvw_status)
        except ValueError:
            raise invalid("pkvw_status", _l("Choose the home's PKVW status.")) from None
        findings = scan.findings.strip()
        if not findings or len(findings) > SCAN_FINDINGS_MAX:
            raise invalid(
                "findings",
                _l("Describe the findings in 1 to %(n)d characters.", n=SCAN_FINDINGS_MAX),
            )
        recorded = claim.scan or WoningScan(claim=claim)
        recorded.adviser_name = adviser
        recorded.scan_date = scan_date
        recorded.pkvw_status = pkvw
        recorded.findings = findings
        self.session.add(recorded)
        self.session.flush()
        # The findings describe the home's weak spots: the audit names the scan, not them.
        self.audit.append(
            claim.organisation_id,
            event="record_scan",
            actor_id=user.id,
            claim_id=claim.id,
            payload={"scan_date": scan_date, "pkvw_status": pkvw, "adviser": adviser},
        )
        return recorded
