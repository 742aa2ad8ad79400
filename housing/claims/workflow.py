"""The claim workflow and its effects: fire an event with its rules, its effects (the
proposal, the advice, information requests, decisions and their letters) and its audit
link; and the notice that the decision term is extended."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from housing.accounts.models import User
from housing.audit.models import AuditEvent
from housing.claims.base import NO_SUCH_CLAIM, ClaimServiceBase, record_act
from housing.claims.decided import decisions_of
from housing.claims.documents import DocumentStore
from housing.claims.facts import LockedClaim, lock_for_event
from housing.claims.information import MAX_ANSWER_FILES, Attachment
from housing.claims.letters import request_decision_letter
from housing.claims.models import (
    Claim,
    Decision,
    DecisionKind,
    DocumentKind,
    InformationRequest,
    SecurityAdvice,
)
from housing.claims.notices import NotificationKind
from housing.claims.permissions import may_extend, may_extend_terms
from housing.claims.states import (
    DEADLINE_EVENTS,
    DECISION_KINDS,
    PROPOSAL_ENDING_EVENTS,
    RETENTION_YEARS,
)
from housing.claims.terms import decision_deadline, open_information_request
from housing.clock import AMSTERDAM, Clock, utcnow
from housing.dates import EVIDENCE_FROM, parse_day
from housing.db import DbSession
from housing.deadlines.rules import OrganisationRules, RulesCache
from housing.errors import InvalidInput
from housing.inputs import check_text, clean_filename
from housing.money import invalid, parse_money
from housing.organisations.models import Budget
from housing.organisations.services import locked_budget
from housing.permissions import actor_for, require
from housing.scoping import Scope
from housing.workflow import fire
from workflows import awb
from workflows.claim import WORKFLOW as CLAIM
from workflows.claim import ClaimEvent
from workflows.rules import ClaimContext, Fact, granted_total

# Used when the decider gives no reasons of their own; the letter always states some.
DEFAULT_REASONS = {
    DecisionKind.GRANT: "De aangevraagde maatregelen passen binnen de regeling en het advies.",
    DecisionKind.PARTIAL_GRANT: "Niet alle aangevraagde bedragen passen binnen de regeling;"
    " per maatregel staat hierboven wat is toegekend en waarom.",
    DecisionKind.REFUSAL: "De aanvraag voldoet niet aan de voorwaarden van de regeling.",
    DecisionKind.NOT_CONSIDERED: "De gevraagde aanvulling is niet binnen de termijn ontvangen.",
    DecisionKind.OBJECTION_DECISION: "Het bezwaar geeft geen aanleiding het besluit te herzien.",
}
LEGAL_BASIS = (
    "Regeling rechtspositie decentrale politieke ambtsdragers (beveiligingsmaatregelen); "
    "Algemene wet bestuursrecht, afdeling 4.1.3 en artikelen 3:46 en 3:47."
)


def _years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


class WorkflowService(ClaimServiceBase):
    """Claim events by people and by the system, with their effects and audit."""

    def __init__(
        self,
        session: DbSession,
        clock: Clock = utcnow,
        documents: DocumentStore | None = None,
        rules: RulesCache | None = None,
    ) -> None:
        super().__init__(session, clock, documents)
        # The app's cache of the organisations' rules (`housing.services`), else this
        # service's own.
        self.rules = rules if rules is not None else RulesCache()
        # Claims this service locked that have no decision and got none since: their
        # decisions are known without asking (`decisions`).
        self._undecided: set[int] = set()

    def decisions(self, claim: Claim) -> list[Decision]:
        """The claim's decisions, oldest first; none asked of the database for a claim this
        service locked without any and has decided nothing on since."""
        if claim.id in self._undecided:
            return []
        return decisions_of(self.session, [claim])[claim.id]

    def _context(
        self,
        locked: LockedClaim,
        facts: frozenset[Fact],
        rules: OrganisationRules | None,
        budget: Budget | None,
    ) -> ClaimContext:
        """The facts the event's rules read (`facts`); the others are left None."""
        closed_at = locked.last_event_at
        return ClaimContext(
            today=self.today(),
            settings=rules.settings if rules is not None and Fact.SETTINGS in facts else None,
            budget_remaining=(
                (budget.remaining if budget is not None else Decimal("0.00"))
                if Fact.BUDGET in facts
                else None
            ),
            regime_a_granted_for_home=locked.regime_a_granted_for_home,
            advised_measure_codes=locked.advised_measure_codes,
            info_term_ends_on=locked.info_term_ends_on,
            # Kept for RETENTION_YEARS after its last event (financial records: 7 years,
            # DOMAIN.md §3 step 7), then it may be archived.
            retention_ends_on=(
                _years_after(closed_at.astimezone(AMSTERDAM).date(), RETENTION_YEARS)
                if closed_at is not None
                else None
            ),
        )

    def fire(
        self,
        scope: Scope,
        user: User | None,
        claim_id: int,
        event: str,
        *,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
        acr: str | None = None,
    ) -> Claim:
        """Fire a workflow event by `user` (None: the system) with its effects and audit;
        `acr` is the authentication context of the user's single sign-on, kept on a claim
        submitted in it."""
        return self._fire(scope, user, claim_id, event, reason=reason, details=details, acr=acr)[0]

    def answer_information_request(
        self,
        scope: Scope,
        user: User,
        claim_id: int,
        *,
        answer: str,
        attachments: Sequence[Attachment] = (),
    ) -> InformationRequest | None:
        """The applicant's answer to the open request with the files sent with it: the
        answer, its files and their audit are written together or not at all."""
        if len(attachments) > MAX_ANSWER_FILES:
            raise invalid(
                "files", _l("Send at most %(n)d files with one answer.", n=MAX_ANSWER_FILES)
            )
        # Every file is checked before anything is stored, so a refused one stores none.
        for attachment in attachments:
            try:
                self.documents.check(attachment.data, field="files")
            except InvalidInput as refused:
                message = f"{clean_filename(attachment.filename)}: {refused.message}"
                raise invalid("files", message) from None
        claim, request = self._fire(
            scope, user, claim_id, ClaimEvent.PROVIDE_INFO.value, details={"answer": answer}
        )
        for attachment in attachments:
            document = self.documents.add(
                self.session,
                claim,
                kind=DocumentKind.SUPPLEMENT,
                filename=attachment.filename,
                data=attachment.data,
                uploaded_by_id=user.id,
                information_request_id=request.id if request is not None else None,
            )
            self.audit.append(
                claim.organisation_id,
                event="add_document",
                actor_id=user.id,
                claim_id=claim.id,
                payload={
                    "document_id": document.id,
                    "kind": document.kind,
                    "sha256": document.sha256,
                },
            )
        self.session.flush()
        return request

    def _fire(
        self,
        scope: Scope,
        user: User | None,
        claim_id: int,
        event: str,
        *,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
        acr: str | None = None,
    ) -> tuple[Claim, InformationRequest | None]:
        """`fire`, and the information request the event asked or answered, if any."""
        details = dict(details or {})
        try:
            claim_event = ClaimEvent(event)
        except ValueError:
            raise invalid("event", _l("Unknown event %(event)s.", event=event)) from None
        # Only what this event's rules declare they read, with the claim's lock.
        facts = frozenset(f for f in CLAIM.facts(claim_event) if isinstance(f, Fact))
        # The organisation's rules (settings, terms, calendar): for the rules that read its
        # settings, and for an event that moves the decision deadline.
        needs_rules = Fact.SETTINGS in facts or claim_event in DEADLINE_EVENTS
        locked = lock_for_event(self.session, scope, claim_id, user, facts, rules=needs_rules)
        claim = locked.claim
        if locked.has_decisions:
            self._undecided.discard(claim.id)
        else:
            self._undecided.add(claim.id)
        rules = (
            self.rules.rules(self.session, claim.organisation_id, locked.rules_version)
            if needs_rules
            else None
        )
        budget = None
        if Fact.BUDGET in facts:
            # Locked before it is read: two grants cannot both spend the last euro.
            budget = locked_budget(self.session, claim.organisation_id, self.today().year)
        if claim_event is ClaimEvent.PROPOSE_DECISION:
            self._apply_proposal(claim, details)
        if claim_event is ClaimEvent.RECORD_ADVICE:
            self._record_advice(claim, details)
        # Every fact was read before the proposal's amounts were applied: an amount the rules
        # will refuse (more than requested) reaches them, not a database constraint first.
        context = self._context(locked, facts, rules, budget)
        asked_or_answered: list[InformationRequest] = []

        def effects() -> None:
            if claim_event is ClaimEvent.SUBMIT:
                claim.submitted_acr = acr
            request = self._effects(claim, claim_event, user, budget, rules, reason, details)
            if request is not None:
                asked_or_answered.append(request)

        fire(
            self.audit,
            CLAIM,
            claim,
            claim_event,
            user=user,
            actor=locked.actor,
            context=context,
            reason=reason,
            payload={"details": {k: str(v) for k, v in details.items()}},
            effects=effects,
        )
        self.session.flush()
        request = asked_or_answered[0] if asked_or_answered else None
        if request is not None:
            # The link just appended is this event's: the timeline shows the question or
            # the answer beside it.
            link_id = self.session.scalar(
                select(AuditEvent.id)
                .where(AuditEvent.claim_id == claim.id)
                .order_by(AuditEvent.sequence.desc())
                .limit(1)
            )
            if claim_event is ClaimEvent.REQUEST_INFO:
                request.request_event_id = link_id
            else:
                request.answer_event_id = link_id
            self.session.flush()
        return claim, request

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
            given = details["advice_date"]
            codes = [str(c).strip() for c in details["advised_measures"] if str(c).strip()]
            reference = str(details["reference"]).strip()
        except (KeyError, TypeError, ValueError):
            raise invalid(
                "advice", _l("Give the advice's reference, date and advised measures.")
            ) from None
        if not reference or not codes or given in (None, ""):
            raise invalid("advice", _l("Give the advice's reference, date and advised measures."))
        # An advice is evidence of something done: not before 2000, not in the future.
        advice_date = parse_day(given, "advice_date", earliest=EVIDENCE_FROM, latest=self.today())
        advice = claim.advice or SecurityAdvice(claim=claim)
        advice.reference = check_text(reference, "reference", SecurityAdvice.reference)
        advice.advice_date = advice_date
        advice.advised_measures = ",".join(sorted(set(codes)))
        advice.contents = check_text(
            details.get("contents"), "contents", SecurityAdvice.contents, required=False
        )
        self.session.add(advice)

    def _effects(
        self,
        claim: Claim,
        event: ClaimEvent,
        user: User | None,
        budget: Budget | None,
        rules: OrganisationRules | None,
        reason: str | None,
        details: Mapping[str, Any],
    ) -> InformationRequest | None:
        """The event's effects; returns the information request it asked or answered."""
        today = self.today()
        information_request: InformationRequest | None = None
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
            check_text(question, "question", InformationRequest.question)
            assert rules is not None  # a deadline event: its rules were read
            term_days = int(details.get("term_days") or rules.terms.information_term_days)
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
            # An empty answer is no answer: it must not end the suspension of the term.
            answer = check_text(
                details.get("answer"), "answer", InformationRequest.answer, required=False
            )
            if not answer:
                raise invalid("answer", _l("Write your answer to the question."))
            information_request = open_information_request(self.session, claim)
            if information_request is not None:
                information_request.answered_on = today
                information_request.answered_by_id = user.id if user else None
                information_request.answer = answer
        elif event in DECISION_KINDS:
            self._undecided.discard(claim.id)
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
            request_decision_letter(self.session, claim, decision, clock=self.clock)
            self._tell_decision(claim, decision, today)
        self.session.flush()
        if event in DEADLINE_EVENTS and claim.received_on is not None:
            # Only these change what the deadline is computed from (an extension notice,
            # no event, recomputes it itself: `notify_extension`).
            assert rules is not None
            claim.decision_deadline = decision_deadline(
                self.session, claim, calendar=rules.calendar, terms=rules.terms
            ).deadline
        return information_request

    def notify_extension(
        self, scope: Scope, user: User, claim_id: int, *, new_deadline: dt.date, reason: str
    ) -> Decision:
        """Tell the applicant the decision will come later (art. 4:14), with reasons."""
        actor = actor_for(self.session, user)
        require(may_extend_terms(actor))
        claim = scope.get_for_update(self.session, Claim, claim_id, missing=NO_SUCH_CLAIM)
        require(may_extend(actor, claim))
        reason = reason.strip()
        if not reason:
            raise invalid("reason", _l("Give the reason for the extension."))
        today = self.today()
        self._undecided.discard(claim.id)
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
            deadline = decision_deadline(self.session, claim)
        except awb.AwbError as exc:
            raise invalid(
                "new_deadline", _l("This extension is not possible: %(why)s", why=str(exc))
            ) from None
        claim.decision_deadline = deadline.deadline
        request_decision_letter(self.session, claim, decision, clock=self.clock)
        self._tell_decision(claim, decision, today)
        record_act(
            self.audit,
            claim,
            "extension_notice",
            actor_id=user.id,
            payload={"new_deadline": new_deadline, "decision_id": decision.id},
            reason=reason,
        )
        self.session.flush()
        return decision
