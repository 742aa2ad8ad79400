"""Drafting a claim: the draft and its number, measure lines, documents, the woningscan
and the checklist the applicant reviews before submitting."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from housing.accounts.models import User
from housing.audit.services import record_access
from housing.claims.base import ClaimServiceBase
from housing.claims.documents import may_download
from housing.claims.models import (
    Claim,
    Document,
    DocumentKind,
    MeasureCatalogue,
    MeasureLine,
    PkvwStatus,
    Recurrence,
    WoningScan,
)
from housing.claims.states import EXTENDABLE_STATES
from housing.errors import Conflict, Forbidden, NotFound
from housing.money import invalid, parse_money
from housing.organisations.models import Home
from housing.roles import Role
from housing.scoping import Scope
from workflows.claim import ClaimState
from workflows.rules import Regime, regime_for

SCAN_FINDINGS_MAX = 10_000


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


class DraftingService(ClaimServiceBase):
    """The applicant's draft and what goes into it, before and during assessment."""

    def create_draft(self, scope: Scope, user: User, *, home_id: int) -> Claim:
        """A new claim for one of the applicant's own homes."""
        if Role.APPLICANT not in user.roles:
            raise Forbidden(_l("Only an applicant can start a claim."))
        home = scope.get(self.session, Home, home_id)
        if home is None or home.office_holder.user_id != user.id:
            raise NotFound(_l("No such home."))
        today = self.today()
        count = self.session.scalar(
            select(func.count())
            .select_from(Claim)
            .where(
                Claim.organisation_id == home.office_holder.organisation_id,
                Claim.number.like(f"VW-{today.year}-%"),
            )
        )
        claim = Claim(
            organisation_id=home.office_holder.organisation_id,
            number=f"VW-{today.year}-{(count or 0) + 1:05d}",
            office_holder=home.office_holder,
            home=home,
            filed_by_id=user.id,
            regime=regime_for(today),
            state=ClaimState.DRAFT.value,
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
        claim = self._locked(scope, claim_id)
        if claim.office_holder_user_id != user.id:
            raise Forbidden(_l("Only the applicant changes the measures of a draft claim."))
        if claim.state != ClaimState.DRAFT:
            raise Conflict(_l("Measures can only be changed while the claim is a draft."))
        requested = parse_money(line.requested_amount, "requested_amount")
        vat = parse_money(line.vat_amount, "vat_amount")
        if requested <= 0:
            raise invalid("requested_amount", _l("The amount must be more than zero."))
        if vat > requested:
            raise invalid("vat_amount", _l("The VAT cannot exceed the amount including VAT."))
        regime = claim.regime or Regime.B
        catalogue = self.session.scalars(
            select(MeasureCatalogue).where(
                MeasureCatalogue.organisation_id == claim.organisation_id,
                MeasureCatalogue.regime == regime,
                MeasureCatalogue.code == line.catalogue_code,
                MeasureCatalogue.active.is_(True),
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
        if not description or len(description) > 500:
            raise invalid("description", _l("Describe the measure in 1 to 500 characters."))
        added = MeasureLine(
            claim=claim,
            catalogue=catalogue,
            description=description,
            requested_amount=requested,
            vat_amount=vat,
            recurrence=recurrence,
            supplier_name=(line.supplier_name or "").strip() or None,
        )
        self.session.add(added)
        self.session.flush()
        return added

    # --- documents ------------------------------------------------------------------------
    # What each role may send in: the applicant their quotes, invoices and photos; the
    # assessor also the scan report and the security advice.
    UPLOAD_KINDS = {
        Role.APPLICANT: {DocumentKind.QUOTE, DocumentKind.INVOICE, DocumentKind.PHOTO},
        Role.ASSESSOR: {
            DocumentKind.SCAN_REPORT,
            DocumentKind.SECURITY_ADVICE,
            DocumentKind.QUOTE,
            DocumentKind.INVOICE,
            DocumentKind.PHOTO,
            DocumentKind.OTHER,
        },
    }

    def upload(
        self, scope: Scope, user: User, claim_id: int, *, kind: str, filename: str, data: bytes
    ) -> Document:
        claim = self._locked(scope, claim_id)
        try:
            document_kind = DocumentKind(kind)
        except ValueError:
            raise invalid("kind", _l("Choose what kind of document this is.")) from None
        allowed: set[DocumentKind] = set()
        if Role.ASSESSOR in user.roles:
            allowed |= self.UPLOAD_KINDS[Role.ASSESSOR]
        if Role.APPLICANT in user.roles and claim.office_holder_user_id == user.id:
            allowed |= self.UPLOAD_KINDS[Role.APPLICANT]
        if not allowed:
            raise Forbidden(_l("You cannot add documents to this claim."))
        if document_kind not in allowed:
            raise invalid("kind", _l("You cannot add this kind of document."))
        if claim.state in (ClaimState.WITHDRAWN, ClaimState.ARCHIVED):
            raise Conflict(_l("This claim is closed."))
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
        roles = {role.value for role in user.roles}
        if not may_download(
            document, user_id=user.id, roles=roles, owner_id=claim.office_holder_user_id
        ):
            raise Forbidden(_l("Your role does not allow this document."))
        data = self.documents.read(document)
        record_access(
            self.session,
            organisation_id=claim.organisation_id,
            user_id=user.id,
            claim_id=claim.id,
            document_id=document.id,
            action="download",
            request_id=request_id,
        )
        return document, data

    def submission_checklist(self, claim: Claim, documents: list[Document]) -> list[ChecklistItem]:
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
        claim = self._locked(scope, claim_id)
        own_draft = (
            Role.APPLICANT in user.roles
            and claim.office_holder_user_id == user.id
            and claim.state == ClaimState.DRAFT
        )
        assessing = (
            Role.ASSESSOR in user.roles
            and claim.office_holder_user_id != user.id
            and claim.state in {s.value for s in EXTENDABLE_STATES}
        )
        if not (own_draft or assessing):
            if claim.office_holder_user_id == user.id and Role.APPLICANT in user.roles:
                raise Conflict(_l("The scan can only be changed while the claim is a draft."))
            raise Forbidden(_l("You cannot record the scan of this claim."))
        adviser = scan.adviser_name.strip()
        if not adviser or len(adviser) > 200:
            raise invalid("adviser_name", _l("Give the adviser's name (at most 200 characters)."))
        try:
            scan_date = (
                scan.scan_date
                if isinstance(scan.scan_date, dt.date)
                else dt.date.fromisoformat(str(scan.scan_date))
            )
        except ValueError:
            raise invalid("scan_date", _l("Enter a date as yyyy-mm-dd.")) from None
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
