"""Objections (bezwaar) against a claim's decisions: lodge, register, review, decide, withdraw.

An objection is its own small case (workflows/objection.py) beside the claim: the claim's
state is not touched, so what was granted is paid while the objection against the rest
is heard. Each use case locks the claim, then the objection, fires the objection machine
through `housing.workflow.fire` (audited in the same transaction) and asks for its
letters and news through the outbox.

A late objection is lodged all the same and flagged: whether the lateness is excusable is
the decider's call (art. 6:11 Awb), not the web form's.

An objection upheld against the refusal or the not-considered decision the claim stands
on revokes it: in the same transaction the claim machine's `reopen_after_objection` takes
the claim back into assessment, to be proposed and decided again (audited as every
transition). Rejected or inadmissible, the claim stays as decided.

The decision on an objection is due six weeks after the objection term ended (art. 7:10
Awb, a term set in a law, so Atw-stretched): `decision_due_on`, which the deadline watch
and the decider's queue read.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from housing.accounts.models import User
from housing.claims.base import NO_SUCH_CLAIM, ClaimServiceBase
from housing.claims.letters import request_decision_letter
from housing.claims.models import Claim, Decision, DecisionKind, Objection
from housing.claims.notices import NotificationKind, staff_of
from housing.claims.states import LODGEABLE_KINDS
from housing.dates import parse_day
from housing.db import DbSession
from housing.deadlines.services import atw_calendar, awb_terms
from housing.errors import Conflict, NotFound
from housing.inputs import check_text
from housing.money import invalid
from housing.roles import Role
from housing.scoping import Scope
from housing.workflow import fire
from workflows import awb
from workflows.awb import AtwCalendar
from workflows.claim import WORKFLOW as CLAIM
from workflows.claim import ClaimEvent, ClaimState
from workflows.objection import OPEN_STATES, ObjectionContext, ObjectionEvent, ObjectionState
from workflows.objection import WORKFLOW as OBJECTION
from workflows.rules import Actor

NO_SUCH_OBJECTION = _l("No such objection.")
# The decider's outcomes, by the event that takes each.
OUTCOMES = {
    ObjectionState.UPHELD.value: ObjectionEvent.UPHOLD,
    ObjectionState.REJECTED.value: ObjectionEvent.REJECT,
    ObjectionState.INADMISSIBLE.value: ObjectionEvent.DECLARE_INADMISSIBLE,
}
LEGAL_BASIS = "Artikelen 6:11, 7:11 en 7:12 Algemene wet bestuursrecht."
# Art. 7:10(1) Awb: six weeks after the objection term ended. Twelve with an advisory
# committee, and the body may extend once by six; neither is recorded, so the earlier
# date is kept: a body that keeps it is late under no reading.
DECISION_WEEKS = 6
# The decisions the claim stands on that an upheld objection revokes, reopening the claim.
REOPENED_BY_UPHOLDING = {
    DecisionKind.REFUSAL.value: ClaimState.REFUSED,
    DecisionKind.NOT_CONSIDERED.value: ClaimState.NOT_CONSIDERED,
}


def decision_due_on(objection: Objection, calendar: AtwCalendar) -> dt.date:
    """The last day of the decision on the objection (art. 7:10 Awb, Atw-stretched)."""
    return calendar.stretch(objection.term_ends_on + dt.timedelta(weeks=DECISION_WEEKS))


def open_objections(session: DbSession, scope: Scope) -> list[tuple[Objection, dt.date]]:
    """The scope's objections still to be decided, each with its deadline, the nearest
    first: the decider's queue."""
    objections = session.scalars(
        scope.select(Objection)
        .where(Objection.state.in_([s.value for s in OPEN_STATES]))
        .order_by(Objection.term_ends_on, Objection.id)
    )
    calendar = atw_calendar(session)
    return [(objection, decision_due_on(objection, calendar)) for objection in objections]


class ObjectionService(ClaimServiceBase):
    """The objection's use cases, each one unit of work (the caller commits)."""

    # --- reading ------------------------------------------------------------------------
    def claim(self, scope: Scope, claim_id: int) -> Claim:
        """The claim, if the scope sees it; else NotFound."""
        claim = scope.get(self.session, Claim, claim_id)
        if claim is None:
            raise NotFound(NO_SUCH_CLAIM)
        return claim

    def of_claim(self, scope: Scope, claim_id: int) -> list[Objection]:
        """The claim's objections the scope may see, oldest first."""
        return list(
            self.session.scalars(
                scope.select(Objection).where(Objection.claim_id == claim_id).order_by(Objection.id)
            )
        )

    def objectable(self, claim: Claim) -> list[Decision]:
        """The claim's sent decisions that allow an objection and have none open."""
        open_against = select(Objection.decision_id).where(
            Objection.claim_id == claim.id, Objection.state.in_([s.value for s in OPEN_STATES])
        )
        return list(
            self.session.scalars(
                select(Decision)
                .where(
                    Decision.claim_id == claim.id,
                    Decision.kind.in_(LODGEABLE_KINDS),
                    Decision.sent_on.is_not(None),
                    Decision.id.not_in(open_against),
                )
                .order_by(Decision.id)
            )
        )

    # --- lodging ------------------------------------------------------------------------
    def lodge(
        self, scope: Scope, user: User, claim_id: int, *, decision_id: object, grounds: object
    ) -> Objection:
        """The applicant's objection online: received today."""
        return self._new(
            scope, user, claim_id, ObjectionEvent.LODGE, decision_id, grounds, self.today()
        )

    def register(
        self,
        scope: Scope,
        user: User,
        claim_id: int,
        *,
        decision_id: object,
        grounds: object,
        received_on: object,
    ) -> Objection:
        """An objection that came on paper, registered by a case handler with the day it
        was received (the date stamp counts for the term, art. 6:9 Awb)."""
        day = parse_day(received_on, "received_on", latest=self.today())
        return self._new(scope, user, claim_id, ObjectionEvent.REGISTER, decision_id, grounds, day)

    def _new(
        self,
        scope: Scope,
        user: User,
        claim_id: int,
        event: ObjectionEvent,
        decision_id: object,
        grounds: object,
        received_on: dt.date,
    ) -> Objection:
        claim = scope.get_for_update(self.session, Claim, claim_id, missing=NO_SUCH_CLAIM)
        decision = self._contested(claim, decision_id)
        assert decision.sent_on is not None  # _contested takes only sent decisions
        if received_on < decision.sent_on:
            raise invalid("received_on", _l("The objection cannot be older than the decision."))
        text = check_text(grounds, "grounds", Objection.grounds)
        organisation = claim.office_holder.organisation
        term_ends_on = awb.objection_deadline(
            decision.sent_on, calendar=atw_calendar(self.session), terms=awb_terms(organisation)
        )
        objection = Objection(
            organisation_id=claim.organisation_id,
            claim=claim,
            decision=decision,
            state=ObjectionState.NEW,
            lodged_on=received_on,
            term_ends_on=term_ends_on,
            late=received_on > term_ends_on,
            on_paper=event is ObjectionEvent.REGISTER,
            grounds=text,
            lodged_by_id=user.id,
        )
        fire(
            self.audit,
            OBJECTION,
            objection,
            event,
            user=user,
            payload={"decision_id": decision.id, "late": objection.late},
            effects=lambda: self._added(objection),
        )
        kind = (
            NotificationKind.LATE_OBJECTION_LODGED
            if objection.late
            else NotificationKind.OBJECTION_LODGED
        )
        self.notifier.notify(
            kind,
            recipients=staff_of(self.session, claim, Role.DECIDER),
            organisation_id=claim.organisation_id,
            event_key=f"objection:{objection.id}",
            claim=claim,
            on_date=received_on,
        )
        self.session.flush()
        return objection

    def _added(self, objection: Objection) -> None:
        self.session.add(objection)
        self.session.flush()

    def _contested(self, claim: Claim, decision_id: object) -> Decision:
        try:
            ident = int(str(decision_id))
        except ValueError:
            raise invalid("decision_id", _l("Choose the decision you object to.")) from None
        decision = self.session.get(Decision, ident)
        if (
            decision is None
            or decision.claim_id != claim.id
            or decision.kind not in LODGEABLE_KINDS
            or decision.sent_on is None
        ):
            raise invalid("decision_id", _l("No objection can be lodged against this decision."))
        already = self.session.scalar(
            select(Objection.id).where(
                Objection.decision_id == decision.id,
                Objection.state.in_([s.value for s in OPEN_STATES]),
            )
        )
        if already is not None:
            raise Conflict(_l("An objection against this decision is already being handled."))
        return decision

    # --- handling -----------------------------------------------------------------------
    def start_review(self, scope: Scope, user: User, claim_id: int, objection_id: int) -> Objection:
        _claim, objection = self._locked(scope, claim_id, objection_id)
        fire(self.audit, OBJECTION, objection, ObjectionEvent.START_REVIEW, user=user)
        self.session.flush()
        return objection

    def withdraw(self, scope: Scope, user: User, claim_id: int, objection_id: int) -> Objection:
        _claim, objection = self._locked(scope, claim_id, objection_id)
        fire(self.audit, OBJECTION, objection, ObjectionEvent.WITHDRAW, user=user)
        self.session.flush()
        return objection

    def decide(
        self,
        scope: Scope,
        user: User,
        claim_id: int,
        objection_id: int,
        *,
        outcome: object,
        reasons: object,
    ) -> Objection:
        """The decision on the objection, with its reasons and its letter (art. 7:12 Awb)."""
        event = OUTCOMES.get(str(outcome))
        if event is None:
            raise invalid("outcome", _l("Choose the outcome."))
        text = check_text(reasons, "reasons", Objection.reasons, required=False)
        if not text:
            # The workflow's rule says so too; here the refusal is at the field.
            raise invalid("reasons", _l("Give the reasons: they go in the letter (art. 7:12 Awb)."))
        claim, objection = self._locked(scope, claim_id, objection_id)
        fire(
            self.audit,
            OBJECTION,
            objection,
            event,
            user=user,
            context=ObjectionContext(reasons=text),
            reason=text,
            effects=lambda: self._decided(claim, objection, user, text),
        )
        if event is ObjectionEvent.UPHOLD:
            self._reopen(claim, objection, user)
        self.session.flush()
        return objection

    def _reopen(self, claim: Claim, objection: Objection, user: User) -> None:
        """Upheld against the refusal or not-considered decision the claim stands on: that
        decision is revoked and the claim is assessed again, its old proposal gone."""
        stands_on = REOPENED_BY_UPHOLDING.get(str(objection.decision.kind))
        if stands_on is None or claim.state != stands_on:
            return  # a grant, a penalty, or a decision the claim has moved on from

        def clear_proposal() -> None:
            for line in claim.lines:
                line.granted_amount = None
                line.grant_reason = None

        # The consequence of the decider's decision: the machine sees the system, the
        # audit names the decider.
        fire(
            self.audit,
            CLAIM,
            claim,
            ClaimEvent.REOPEN_AFTER_OBJECTION,
            user=user,
            actor=Actor.system(),
            payload={"objection_id": objection.id},
            effects=clear_proposal,
        )

    def _decided(self, claim: Claim, objection: Objection, user: User, reasons: str) -> None:
        today = self.today()
        objection.reasons = reasons
        decision = Decision(
            claim_id=claim.id,
            kind=DecisionKind.OBJECTION_DECISION,
            prepared_by_id=None,
            decided_by_id=user.id,
            decided_at=self.clock(),
            sent_on=today,
            reasons=reasons,
            legal_basis=LEGAL_BASIS,
        )
        self.session.add(decision)
        self.session.flush()
        objection.outcome_decision_id = decision.id
        request_decision_letter(self.session, claim, decision, clock=self.clock)
        self._tell_decision(claim, decision, today)

    def _locked(self, scope: Scope, claim_id: int, objection_id: int) -> tuple[Claim, Objection]:
        # The claim first, as lodging locks it: two acts on one claim wait for each other.
        claim = scope.get_for_update(self.session, Claim, claim_id, missing=NO_SUCH_CLAIM)
        objection = scope.get_for_update(
            self.session, Objection, objection_id, missing=NO_SUCH_OBJECTION
        )
        if objection.claim_id != claim.id:
            raise NotFound(NO_SUCH_OBJECTION)
        return claim, objection
