"""Claim use cases. Each is one unit of work: lock, fire the workflow event, record its
effects and the audit event, flush. The caller commits (or rolls back on an error).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from housing.accounts.models import User
from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail, record_access
from housing.claims.documents import DocumentStore, may_download
from housing.claims.letters import render_decision_letter
from housing.claims.models import (
    Claim,
    Confidentiality,
    Decision,
    DecisionKind,
    DefaultNotice,
    Document,
    DocumentKind,
    InformationRequest,
    MeasureLine,
    PkvwStatus,
    Recurrence,
    SecurityAdvice,
    WoningScan,
)
from housing.claims.notices import NotificationKind, Notifier, applicant_of
from housing.clock import AMSTERDAM, today, utcnow
from housing.deadlines.services import atw_calendar, awb_terms
from housing.errors import Conflict, Forbidden, InvalidInput, NotFound
from housing.money import invalid, parse_money
from housing.organisations.models import Budget, Home, MeasureCatalogue, OfficeHolder
from housing.roles import Role
from housing.scoping import Scope
from workflows import awb
from workflows.claim import ClaimEvent, ClaimState, InvalidTransition, UnknownEvent, fire
from workflows.rules import (
    AUTHORISATION_RULES,
    Actor,
    ClaimContext,
    OrganisationSettings,
    Regime,
    Rule,
    RuleViolation,
    granted_total,
    regime_for,
)

RETENTION_YEARS = 7
# Before the decision: the term can still be extended (art. 4:14).
EXTENDABLE_STATES = (
    ClaimState.SUBMITTED,
    ClaimState.IN_ASSESSMENT,
    ClaimState.AWAITING_INFO,
    ClaimState.AWAITING_ADVICE,
    ClaimState.DECISION_PROPOSED,
)
# States in which what was granted counts against the home's regime A cap and the budget.
GRANTED_STATES = (ClaimState.GRANTED, ClaimState.IN_PAYMENT, ClaimState.SETTLED)
# The home's regime A cap counts grants for good: an archived claim's grant was paid too.
# (Refused, withdrawn and not-considered claims carry no granted amount into the archive.)
CAP_STATES = (*GRANTED_STATES, ClaimState.ARCHIVED)
# Events after which no proposal stands: its amounts go with it, so nobody can later
# decide on amounts that no second person proposed (four eyes in substance).
PROPOSAL_ENDING_EVENTS = (
    ClaimEvent.SEND_BACK,
    ClaimEvent.INFO_TERM_EXPIRED,
    ClaimEvent.RECONSIDER,
)
DECISION_KINDS = {
    ClaimEvent.GRANT: DecisionKind.GRANT,
    ClaimEvent.GRANT_PARTIALLY: DecisionKind.PARTIAL_GRANT,
    ClaimEvent.REFUSE: DecisionKind.REFUSAL,
    ClaimEvent.DECLARE_NOT_CONSIDERED: DecisionKind.NOT_CONSIDERED,
    ClaimEvent.UPHOLD: DecisionKind.OBJECTION_DECISION,
}
# Used when the decider gives no reasons of their own; the letter always states some.
DEFAULT_REASONS = {
    DecisionKind.GRANT: "De aangevraagde maatregelen passen binnen de regeling en het advies.",
    DecisionKind.PARTIAL_GRANT: "Niet alle aangevraagde bedragen passen binnen de regeling;"
    " per maatregel staat hierboven wat is toegekend en waarom.",
    DecisionKind.REFUSAL: "De aanvraag voldoet niet aan de voorwaarden van de regeling.",
    DecisionKind.NOT_CONSIDERED: "De gevraagde aanvulling is niet binnen de termijn ontvangen.",
    DecisionKind.OBJECTION_DECISION: "Het bezwaar geeft geen aanleiding het besluit te herzien.",
}
PENALTY_LEGAL_BASIS = "Artikelen 4:17 en 4:18 Algemene wet bestuursrecht."
# Decisions an objection can be lodged against (not the notices around them).
OBJECTABLE_KINDS = (
    DecisionKind.GRANT,
    DecisionKind.PARTIAL_GRANT,
    DecisionKind.REFUSAL,
    DecisionKind.NOT_CONSIDERED,
    DecisionKind.OBJECTION_DECISION,
)
# The decision on the application itself: it ends the penalty for a late decision.
APPLICATION_DECISION_KINDS = (
    DecisionKind.GRANT,
    DecisionKind.PARTIAL_GRANT,
    DecisionKind.REFUSAL,
    DecisionKind.NOT_CONSIDERED,
)
SCAN_FINDINGS_MAX = 10_000
LEGAL_BASIS = (
    "Regeling rechtspositie decentrale politieke ambtsdragers (beveiligingsmaatregelen); "
    "Algemene wet bestuursrecht, afdeling 4.1.3 en artikelen 3:46 en 3:47."
)


# The workflow names a broken rule by its code, in English; people read it in their own
# language. The workflow's own sentence (with the amounts and codes involved) goes along
# in the problem's errors as "detail" for integrations.
RULE_MESSAGES = {
    Rule.ROLE: _l("Your role does not allow this step."),
    Rule.NOT_OWN_CLAIM: _l("Only the office holder (or their clerk) can do this."),
    Rule.SELF_DECISION: _l(
        "You cannot assess or decide a claim in which you are the office holder."
    ),
    Rule.FOUR_EYES: _l("Four eyes: the decider cannot be the one who proposed the decision."),
    Rule.OFFICE_NOT_ELIGIBLE: _l("Holders of this office cannot claim at this organisation."),
    Rule.OUTSIDE_TERM: _l(
        "The application lies outside the term of office, and before the appointment was certain."
    ),
    Rule.HOME_NOT_IN_TERRITORY: _l(
        "The home is not the registered address in the territory, and no exemption is recorded."
    ),
    Rule.APPLICATION_DATE_IN_FUTURE: _l("The application date cannot lie in the future."),
    Rule.REGIME_NONE: _l("No regime applies: the scheme starts on 1 January 2021."),
    Rule.REGIME_A_MEASURE: _l("Under Regime A only the five basic measures can be granted."),
    Rule.REGIME_A_CAP: _l(
        "Under Regime A at most the cap per home (EUR 2,400 incl. VAT by default) can be granted,"
        " counting earlier grants for the same home."
    ),
    Rule.REGIME_B_NOT_ADVISED: _l(
        "Under Regime B only measures named in the security advice can be granted."
    ),
    Rule.NO_MEASURES: _l("Request at least one measure."),
    Rule.INVALID_AMOUNT: _l("An amount is missing or not valid."),
    Rule.GRANTED_EXCEEDS_REQUESTED: _l("A granted amount cannot exceed the amount requested."),
    Rule.GRANT_NOT_FULL: _l(
        "A full grant grants every measure in full: use a partial grant or a refusal."
    ),
    Rule.GRANT_NOT_PARTIAL: _l(
        "A partial grant grants something, but not everything: grant in full or refuse."
    ),
    Rule.REFUSAL_GRANTS_AMOUNT: _l("A refusal grants nothing: set every granted amount to 0."),
    Rule.BUDGET: _l("The organisation's budget for this year does not cover this grant."),
    Rule.INFO_TERM_RUNNING: _l("The term to send the information has not ended yet."),
    Rule.RETENTION_RUNNING: _l("The retention period of this claim has not ended yet."),
}


def _years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


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


@dataclass(frozen=True)
class LateDecision:
    notice_received_on: dt.date | None
    penalty: awb.Penalty | None
    fixed_amount: Decimal | None
    may_give_notice: bool
    may_fix: bool


def locked_claim(session: Session, scope: Scope, claim_id: int) -> Claim:
    """The claim, row-locked until commit, if the scope may see it (else NotFound)."""
    claim = session.scalars(
        scope.select(Claim)
        .where(Claim.id == claim_id)
        .with_for_update(of=Claim)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if claim is None:
        raise NotFound(_l("No such claim."))
    return claim


class ClaimService:
    def __init__(
        self,
        session: Session,
        clock: Callable[[], dt.datetime] = utcnow,
        documents: DocumentStore | None = None,
    ) -> None:
        self.session = session
        self.clock = clock
        self.audit = AuditTrail(session, clock)
        self.documents = documents or DocumentStore.default()
        self.notifier = Notifier(session, clock)

    def _tell_applicant(
        self, claim: Claim, kind: NotificationKind, event_key: str, on_date: dt.date | None
    ) -> None:
        """News for the applicant, through the outbox, in this same transaction."""
        self.notifier.notify(
            kind,
            recipients=applicant_of(self.session, claim),
            organisation_id=claim.organisation_id,
            event_key=event_key,
            claim=claim,
            on_date=on_date,
        )

    def today(self) -> dt.date:
        return today(self.clock)

    # --- who acts ---------------------------------------------------------------------
    def actor_for(self, user: User | None) -> Actor:
        if user is None:
            return Actor.system()
        holders = self.session.scalars(
            select(OfficeHolder.id).where(
                OfficeHolder.user_id == user.id,
                OfficeHolder.organisation_id == user.organisation_id,
            )
        )
        return Actor(
            user_id=user.id,
            roles=frozenset(role.value for role in user.roles),
            office_holder_ids=frozenset(holders),
        )

    # --- drafting ---------------------------------------------------------------------
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

    # --- the workflow -------------------------------------------------------------------
    def _locked(self, scope: Scope, claim_id: int) -> Claim:
        return locked_claim(self.session, scope, claim_id)

    def _locked_budget(self, claim: Claim, year: int) -> Budget | None:
        return self.session.scalars(
            select(Budget)
            .where(Budget.organisation_id == claim.organisation_id, Budget.year == year)
            .with_for_update()
        ).one_or_none()

    def _context(self, claim: Claim, event: ClaimEvent, budget: Budget | None) -> ClaimContext:
        organisation = claim.office_holder.organisation
        settings = OrganisationSettings(
            eligible_office_types=frozenset(
                e.office_type.value for e in organisation.eligible_offices
            ),
            regime_a_cap=organisation.regime_a_cap,
        )
        granted_for_home = self.session.scalar(
            select(func.coalesce(func.sum(MeasureLine.granted_amount), 0))
            .join(Claim, MeasureLine.claim_id == Claim.id)
            .where(
                Claim.home_id == claim.home_id,
                Claim.id != claim.id,
                Claim.regime == Regime.A,
                Claim.state.in_([s.value for s in CAP_STATES]),
            )
        )
        advised = (
            frozenset(c for c in claim.advice.advised_measures.split(",") if c)
            if claim.advice is not None
            else frozenset()
        )
        open_request = self.open_information_request(claim)
        closed_at = self.session.scalar(
            select(func.max(AuditEvent.occurred_at)).where(AuditEvent.claim_id == claim.id)
        )
        return ClaimContext(
            today=self.today(),
            settings=settings,
            budget_remaining=budget.remaining if budget is not None else Decimal("0.00"),
            regime_a_granted_for_home=Decimal(granted_for_home),
            advised_measure_codes=advised,
            info_term_ends_on=(
                open_request.requested_on + dt.timedelta(days=open_request.term_days)
                if open_request is not None
                else None
            ),
            # Kept for RETENTION_YEARS after its last event (financial records: 7 years,
            # DOMAIN.md §3 step 7), then it may be archived.
            retention_ends_on=(
                _years_after(closed_at.astimezone(AMSTERDAM).date(), RETENTION_YEARS)
                if closed_at is not None
                else None
            ),
        )

    def open_information_request(self, claim: Claim) -> InformationRequest | None:
        return self.session.scalars(
            select(InformationRequest)
            .where(
                InformationRequest.claim_id == claim.id, InformationRequest.answered_on.is_(None)
            )
            .order_by(InformationRequest.requested_on.desc())
            .limit(1)
        ).one_or_none()

    def fire(
        self,
        scope: Scope,
        user: User | None,
        claim_id: int,
        event: str,
        *,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Claim:
        """Fire a workflow event by `user` (None: the system) with its effects and audit."""
        details = dict(details or {})
        try:
            claim_event = ClaimEvent(event)
        except ValueError:
            raise invalid("event", _l("Unknown event %(event)s.", event=event)) from None
        claim = self._locked(scope, claim_id)
        budget = None
        if claim_event in (ClaimEvent.GRANT, ClaimEvent.GRANT_PARTIALLY):
            # Locked before it is read: two grants cannot both spend the last euro.
            budget = self._locked_budget(claim, self.today().year)
        if claim_event is ClaimEvent.PROPOSE_DECISION:
            self._apply_proposal(claim, details)
        if claim_event is ClaimEvent.RECORD_ADVICE:
            self._record_advice(claim, details)
        if claim_event is ClaimEvent.LODGE_OBJECTION:
            self._check_objection_term(claim)
        source = claim.state
        try:
            # No autoflush while the rules run: a proposed amount the rules will refuse
            # (more than requested) must reach them, not a database constraint first.
            with self.session.no_autoflush:
                record = fire(
                    claim,
                    claim_event,
                    actor=self.actor_for(user),
                    context=self._context(claim, claim_event, budget),
                )
        except InvalidTransition:
            raise Conflict(
                _l(
                    "This is not possible now: the claim is %(state)s.",
                    state=ClaimState(source).value,
                )
            ) from None
        except UnknownEvent:
            raise invalid("event", _l("Unknown event %(event)s.", event=event)) from None
        except RuleViolation as violation:
            error = Forbidden if violation.rule in AUTHORISATION_RULES else InvalidInput
            raise error(
                str(RULE_MESSAGES[violation.rule]),
                field_errors={"rule": [str(violation.rule)], "detail": [violation.message]},
            ) from None
        claim.state = ClaimState(claim.state).value
        self._effects(claim, claim_event, user, budget, reason, details)
        self.audit.append(
            claim.organisation_id,
            event=claim_event.value,
            actor_id=user.id if user else None,
            claim_id=claim.id,
            from_state=str(record.source.value),
            to_state=str(record.dest.value),
            reason=reason,
            payload={
                "changes": {k: [str(old), str(new)] for k, (old, new) in record.changes.items()},
                "details": {k: str(v) for k, v in details.items()},
            },
        )
        self.session.flush()
        return claim

    def objection_deadline(self, claim: Claim) -> dt.date | None:
        """The last day to object to the claim's latest decision, if one was sent."""
        sent_on = self.session.scalar(
            select(Decision.sent_on)
            .where(Decision.claim_id == claim.id, Decision.kind.in_(OBJECTABLE_KINDS))
            .order_by(Decision.id.desc())
            .limit(1)
        )
        if sent_on is None:
            return None
        return awb.objection_deadline(
            sent_on,
            calendar=atw_calendar(self.session),
            terms=awb_terms(claim.office_holder.organisation),
        )

    def _check_objection_term(self, claim: Claim) -> None:
        # Online, an objection arrives the day it is sent. A late one with an excuse
        # (art. 6:11 Awb) is for the body to judge; it is lodged on paper, not here.
        last_day = self.objection_deadline(claim)
        if last_day is not None and self.today() > last_day:
            raise InvalidInput(
                _l(
                    "The objection term ended on %(day)s. If you have a reason for being late,"
                    " contact the organisation.",
                    day=last_day.isoformat(),
                ),
                field_errors={"rule": ["objection_term"]},
            )

    def _apply_proposal(self, claim: Claim, details: Mapping[str, Any]) -> None:
        granted = details.get("granted", {})
        reasons = details.get("line_reasons", {})
        if not isinstance(granted, Mapping):
            raise invalid("granted", _l("Give a granted amount per measure."))
        by_id = {line.id: line for line in claim.lines}
        for key, amount in granted.items():
            try:
                line = by_id[int(key)]
            except (KeyError, ValueError):
                raise invalid("granted", _l("A measure of another claim was given.")) from None
            line.granted_amount = parse_money(amount, "granted")
            line.grant_reason = (str(reasons.get(key, "")).strip() or None) if reasons else None
        for line in claim.lines:
            if line.granted_amount is None:
                raise invalid("granted", _l("Give a granted amount for every measure."))

    def _record_advice(self, claim: Claim, details: Mapping[str, Any]) -> None:
        try:
            advice_date = dt.date.fromisoformat(str(details["advice_date"]))
            codes = [str(c).strip() for c in details["advised_measures"] if str(c).strip()]
            reference = str(details["reference"]).strip()
        except (KeyError, TypeError, ValueError):
            raise invalid(
                "advice", _l("Give the advice's reference, date and advised measures.")
            ) from None
        if not reference or not codes:
            raise invalid("advice", _l("Give the advice's reference, date and advised measures."))
        advice = claim.advice or SecurityAdvice(claim=claim)
        advice.reference = reference[:100]
        advice.advice_date = advice_date
        advice.advised_measures = ",".join(sorted(set(codes)))
        advice.contents = str(details.get("contents", ""))
        self.session.add(advice)

    def _effects(
        self,
        claim: Claim,
        event: ClaimEvent,
        user: User | None,
        budget: Budget | None,
        reason: str | None,
        details: Mapping[str, Any],
    ) -> None:
        today = self.today()
        if event in PROPOSAL_ENDING_EVENTS:
            for line in claim.lines:
                line.granted_amount = None
                line.grant_reason = None
        if event is ClaimEvent.SUBMIT:
            claim.received_on = claim.application_date or today
            # The acknowledgement of receipt of an electronic application (art. 4:3a Awb).
            self._tell_applicant(
                claim, NotificationKind.CLAIM_RECEIVED, f"claim:{claim.id}", claim.received_on
            )
        elif event is ClaimEvent.REQUEST_INFO:
            question = str(details.get("question", "")).strip()
            if not question:
                raise invalid("question", _l("Say what information is needed."))
            terms = awb_terms(claim.office_holder.organisation)
            term_days = int(details.get("term_days") or terms.information_term_days)
            if term_days < 1:
                raise invalid("term_days", _l("The term must be at least one day."))
            information_request = InformationRequest(
                claim_id=claim.id,
                requested_by_id=user.id if user else None,
                requested_on=today,
                term_days=term_days,
                question=question,
            )
            self.session.add(information_request)
            self.session.flush()
            self._tell_applicant(
                claim,
                NotificationKind.INFORMATION_REQUESTED,
                f"information-request:{information_request.id}",
                today + dt.timedelta(days=term_days),
            )
        elif event is ClaimEvent.PROVIDE_INFO:
            request = self.open_information_request(claim)
            if request is not None:
                request.answered_on = today
                request.answer = str(details.get("answer", "")).strip() or None
        elif event in DECISION_KINDS:
            if event in (ClaimEvent.GRANT, ClaimEvent.GRANT_PARTIALLY):
                assert budget is not None  # the machine refused a grant without budget
                budget.committed += granted_total(claim.lines)
            decision = Decision(
                claim_id=claim.id,
                kind=DECISION_KINDS[event],
                prepared_by_id=claim.proposed_by_id,
                decided_by_id=claim.decided_by_id,
                decided_at=self.clock(),
                sent_on=today,
                reasons=(reason or "").strip() or DEFAULT_REASONS[DECISION_KINDS[event]],
                legal_basis=LEGAL_BASIS,
            )
            self.session.add(decision)
            self.session.flush()
            self._write_letter(claim, decision)
            self._tell_applicant(
                claim, NotificationKind.DECISION_TAKEN, f"decision:{decision.id}", today
            )
        self.session.flush()
        if claim.received_on is not None:
            claim.decision_deadline = self.deadline(claim).deadline

    def notify_extension(
        self, scope: Scope, user: User, claim_id: int, *, new_deadline: dt.date, reason: str
    ) -> Decision:
        """Tell the applicant the decision will come later (art. 4:14), with reasons."""
        if not user.has_role(Role.ASSESSOR, Role.DECIDER):
            raise Forbidden(_l("Only an assessor or a decider can extend the decision term."))
        claim = self._locked(scope, claim_id)
        if claim.state not in {s.value for s in EXTENDABLE_STATES} or claim.received_on is None:
            raise Conflict(_l("The decision term of this claim cannot be extended now."))
        if claim.office_holder_user_id == user.id:
            raise Forbidden(_l("You cannot act on your own claim."))
        reason = reason.strip()
        if not reason:
            raise invalid("reason", _l("Give the reason for the extension."))
        today = self.today()
        decision = Decision(
            claim_id=claim.id,
            kind=DecisionKind.EXTENSION_NOTICE,
            prepared_by_id=None,
            decided_by_id=user.id,
            decided_at=self.clock(),
            sent_on=today,
            new_deadline=new_deadline,
            reasons=reason,
            legal_basis="Artikel 4:14, derde lid, Algemene wet bestuursrecht.",
        )
        self.session.add(decision)
        self.session.flush()
        try:
            deadline = self.deadline(claim)
        except awb.AwbError as exc:
            raise invalid(
                "new_deadline", _l("This extension is not possible: %(why)s", why=str(exc))
            ) from None
        claim.decision_deadline = deadline.deadline
        self._write_letter(claim, decision)
        self._tell_applicant(
            claim, NotificationKind.DECISION_TAKEN, f"decision:{decision.id}", today
        )
        self.audit.append(
            claim.organisation_id,
            event="extension_notice",
            actor_id=user.id,
            claim_id=claim.id,
            from_state=claim.state,
            to_state=claim.state,
            reason=reason,
            payload={"new_deadline": new_deadline, "decision_id": decision.id},
        )
        self.session.flush()
        return decision

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

    # --- a late decision: notice of default and penalty (art. 4:17-4:18 Awb) -------------
    def default_notice(self, claim: Claim) -> DefaultNotice | None:
        return self.session.scalars(
            select(DefaultNotice).where(DefaultNotice.claim_id == claim.id)
        ).one_or_none()

    def _application_decided_on(self, claim: Claim) -> dt.date | None:
        return self.session.scalar(
            select(func.min(Decision.sent_on)).where(
                Decision.claim_id == claim.id, Decision.kind.in_(APPLICATION_DECISION_KINDS)
            )
        )

    def penalty_status(self, claim: Claim) -> awb.Penalty | None:
        """The penalty accrued so far for a late decision, if a notice of default counts."""
        notice = self.default_notice(claim)
        if notice is None or claim.decision_deadline is None:
            return None
        return awb.penalty(
            deadline=claim.decision_deadline,
            notice_received_on=notice.received_on,
            as_of=self.today(),
            calendar=atw_calendar(self.session),
            decided_on=self._application_decided_on(claim),
            terms=awb_terms(claim.office_holder.organisation),
        )

    def late_decision(self, claim: Claim, user: User) -> LateDecision:
        """Where the claim stands on a late decision, and what this user may do about it."""
        notice = self.default_notice(claim)
        status = self.penalty_status(claim)
        fixed = self.session.scalar(
            select(Decision.penalty_amount).where(
                Decision.claim_id == claim.id, Decision.kind == DecisionKind.PENALTY
            )
        )
        own = claim.office_holder_user_id == user.id
        open_and_late = (
            claim.state in {s.value for s in EXTENDABLE_STATES}
            and claim.decision_deadline is not None
            and self.today() > claim.decision_deadline
        )
        return LateDecision(
            notice_received_on=notice.received_on if notice else None,
            penalty=status,
            fixed_amount=fixed,
            may_give_notice=notice is None
            and open_and_late
            and (
                (own and Role.APPLICANT in user.roles)
                or (not own and user.has_role(Role.ASSESSOR, Role.DECIDER))
            ),
            may_fix=status is not None
            and fixed is None
            and not own
            and Role.DECIDER in user.roles
            and (status.capped or self._application_decided_on(claim) is not None),
        )

    def record_default_notice(
        self, scope: Scope, user: User, claim_id: int, *, received_on: dt.date | None = None
    ) -> DefaultNotice:
        """The applicant gives notice of default online (received today), or staff record
        one that came on paper with the day it was received."""
        claim = self._locked(scope, claim_id)
        today = self.today()
        own = claim.office_holder_user_id == user.id
        if own and Role.APPLICANT in user.roles:
            received_on = today  # online, it arrives the day it is sent
        elif not own and user.has_role(Role.ASSESSOR, Role.DECIDER):
            if received_on is None:
                raise invalid("received_on", _l("Give the day the notice was received."))
            if received_on > today:
                raise invalid("received_on", _l("The day of receipt cannot be in the future."))
        else:
            raise Forbidden(_l("You cannot record a notice of default on this claim."))
        if claim.state not in {s.value for s in EXTENDABLE_STATES}:
            raise Conflict(_l("A notice of default is only possible while the claim is open."))
        if claim.decision_deadline is None or received_on <= claim.decision_deadline:
            raise InvalidInput(
                _l(
                    "A notice of default counts only after the decision deadline has passed"
                    " (art. 4:17 Awb); the deadline is %(day)s.",
                    day=claim.decision_deadline.isoformat() if claim.decision_deadline else "—",
                ),
                field_errors={"rule": ["notice_premature"]},
            )
        if self.default_notice(claim) is not None:
            raise Conflict(_l("A notice of default has already been recorded for this claim."))
        notice = DefaultNotice(claim_id=claim.id, received_on=received_on, recorded_by_id=user.id)
        self.session.add(notice)
        self.session.flush()
        starts_on = awb.penalty_starts_on(
            received_on,
            calendar=atw_calendar(self.session),
            terms=awb_terms(claim.office_holder.organisation),
        )
        self.audit.append(
            claim.organisation_id,
            event="default_notice",
            actor_id=user.id,
            claim_id=claim.id,
            from_state=claim.state,
            to_state=claim.state,
            payload={"received_on": received_on, "penalty_starts_on": starts_on},
        )
        return notice

    def decide_penalty(self, scope: Scope, user: User, claim_id: int) -> Decision:
        """Fix the penalty due for a late decision by a decision of its own (art. 4:18 Awb).

        Possible once the penalty has stopped running: the application was decided, or the
        maximum number of days has passed. The amount is the clock's, never typed in.
        """
        if Role.DECIDER not in user.roles:
            raise Forbidden(_l("Only a decider can fix the penalty."))
        claim = self._locked(scope, claim_id)
        if claim.office_holder_user_id == user.id:
            raise Forbidden(
                _l("You cannot decide on a claim in which you are the office holder."),
                field_errors={"rule": ["self_decision"]},
            )
        notice = self.default_notice(claim)
        status = self.penalty_status(claim)
        if notice is None or status is None:
            raise Conflict(_l("No notice of default has been recorded for this claim."))
        exists = self.session.scalar(
            select(Decision.id).where(
                Decision.claim_id == claim.id, Decision.kind == DecisionKind.PENALTY
            )
        )
        if exists is not None:
            raise Conflict(_l("The penalty of this claim has already been fixed."))
        decided_on = self._application_decided_on(claim)
        if decided_on is None and not status.capped:
            raise Conflict(
                _l("The penalty is still running: fix it after the decision on the claim.")
            )
        days = status.days
        reasons = (
            f"Uw ingebrekestelling is ontvangen op {notice.received_on.isoformat()}. "
            f"De dwangsom loopt vanaf {status.starts_on.isoformat()} en is over {days} "
            f"{'dag' if days == 1 else 'dagen'} verschuldigd."
            if days
            else f"Uw ingebrekestelling is ontvangen op {notice.received_on.isoformat()}. "
            "Wij hebben beslist voordat de dwangsom ging lopen; er is geen dwangsom verschuldigd."
        )
        decision = Decision(
            claim_id=claim.id,
            kind=DecisionKind.PENALTY,
            prepared_by_id=None,
            decided_by_id=user.id,
            decided_at=self.clock(),
            sent_on=self.today(),
            reasons=reasons,
            legal_basis=PENALTY_LEGAL_BASIS,
            penalty_amount=status.amount,
        )
        self.session.add(decision)
        self.session.flush()
        self._write_letter(claim, decision, penalty=status, notice=notice)
        self._tell_applicant(
            claim, NotificationKind.DECISION_TAKEN, f"decision:{decision.id}", decision.sent_on
        )
        self.audit.append(
            claim.organisation_id,
            event="penalty_decision",
            actor_id=user.id,
            claim_id=claim.id,
            from_state=claim.state,
            to_state=claim.state,
            payload={"days": days, "amount": status.amount, "decision_id": decision.id},
        )
        self.session.flush()
        return decision

    def _write_letter(
        self,
        claim: Claim,
        decision: Decision,
        *,
        penalty: awb.Penalty | None = None,
        notice: DefaultNotice | None = None,
    ) -> None:
        """The decision letter as PDF, stored as a document of the claim."""
        organisation = claim.office_holder.organisation
        pdf = render_decision_letter(
            claim,
            decision,
            organisation,
            calendar=atw_calendar(self.session),
            terms=awb_terms(organisation),
            penalty=penalty,
            notice_received_on=notice.received_on if notice else None,
        )
        letter = self.documents.add(
            self.session,
            claim,
            kind=DocumentKind.DECISION_LETTER,
            filename=f"besluit-{claim.number}-{decision.id}.pdf",
            data=pdf,
            uploaded_by_id=None,
            confidentiality=Confidentiality.CONFIDENTIAL,
        )
        decision.letter_document_id = letter.id

    def deadline(self, claim: Claim) -> awb.DecisionDeadline:
        """The decision deadline with every information request taken into account."""
        assert claim.received_on is not None
        requests = self.session.scalars(
            select(InformationRequest).where(InformationRequest.claim_id == claim.id)
        )
        extensions = self.session.scalars(
            select(Decision)
            .where(Decision.claim_id == claim.id, Decision.kind == DecisionKind.EXTENSION_NOTICE)
            .order_by(Decision.id)
        )
        return awb.decision_deadline(
            claim.received_on,
            calendar=atw_calendar(self.session),
            terms=awb_terms(claim.office_holder.organisation),
            information_requests=[
                awb.InformationRequest(r.requested_on, r.answered_on, r.term_days) for r in requests
            ],
            extensions=[awb.ExtensionNotice(e.sent_on, e.new_deadline) for e in extensions],
        )
