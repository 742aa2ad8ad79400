"""A late decision: the notice of default and the penalty (art. 4:17-4:18 Awb)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from housing.accounts.models import User
from housing.claims.base import NO_SUCH_CLAIM, ClaimServiceBase, record_act
from housing.claims.letters import request_decision_letter
from housing.claims.models import Claim, Decision, DecisionKind, DefaultNotice
from housing.claims.permissions import (
    gives_notice_online,
    may_decide_penalty,
    may_decide_penalty_as,
    may_record_default_notice,
)
from housing.claims.states import APPLICATION_DECISION_KINDS, EXTENDABLE_STATES
from housing.claims.terms import application_decided_on
from housing.deadlines.services import atw_calendar, awb_terms
from housing.errors import Conflict, InvalidInput
from housing.money import invalid
from housing.permissions import actor_for, require
from housing.scoping import Scope
from workflows import awb
from workflows.atw import AtwCalendar

PENALTY_LEGAL_BASIS = "Artikelen 4:17 en 4:18 Algemene wet bestuursrecht."


@dataclass(frozen=True)
class LateDecision:
    notice_received_on: dt.date | None
    penalty: awb.Penalty | None
    fixed_amount: Decimal | None
    may_give_notice: bool
    # The applicant gives notice online; a case handler records one that came on paper.
    notice_online: bool
    may_fix: bool


@dataclass(frozen=True)
class LateFacts:
    """What a late decision is judged on: the notice of default, the penalty fixed and the
    day the application was decided."""

    notice_received_on: dt.date | None
    fixed_amount: Decimal | None
    decided_on: dt.date | None

    @classmethod
    def of(cls, notice_received_on: dt.date | None, decisions: Iterable[Decision]) -> LateFacts:
        """From the claim's decisions, read already (for a page that shows them too)."""
        fixed: Decimal | None = None
        sent: list[dt.date] = []
        for decision in decisions:
            if decision.kind == DecisionKind.PENALTY:
                fixed = decision.penalty_amount
            elif decision.kind in APPLICATION_DECISION_KINDS and decision.sent_on is not None:
                sent.append(decision.sent_on)
        return cls(notice_received_on, fixed, min(sent, default=None))


class LateDecisionService(ClaimServiceBase):
    """Notices of default and penalty decisions for claims decided too late."""

    def default_notice(self, claim: Claim) -> DefaultNotice | None:
        return self.session.scalars(
            select(DefaultNotice).where(DefaultNotice.claim_id == claim.id)
        ).one_or_none()

    def late_facts(self, claim: Claim) -> LateFacts:
        """The claim's `LateFacts`, in one statement."""
        of_claim = Decision.claim_id == claim.id
        notice, fixed, decided_on = self.session.execute(
            select(
                select(DefaultNotice.received_on)
                .where(DefaultNotice.claim_id == claim.id)
                .scalar_subquery(),
                select(Decision.penalty_amount)
                .where(of_claim, Decision.kind == DecisionKind.PENALTY)
                .scalar_subquery(),
                select(func.min(Decision.sent_on))
                .where(of_claim, Decision.kind.in_(APPLICATION_DECISION_KINDS))
                .scalar_subquery(),
            )
        ).one()
        return LateFacts(notice, fixed, decided_on)

    def penalty_status(
        self,
        claim: Claim,
        facts: LateFacts | None = None,
        calendar: Callable[[], AtwCalendar] | None = None,
    ) -> awb.Penalty | None:
        """The penalty accrued so far for a late decision, if a notice of default counts.
        `facts` and `calendar` as the caller has them already; else they are read."""
        facts = facts if facts is not None else self.late_facts(claim)
        if facts.notice_received_on is None or claim.decision_deadline is None:
            return None
        return awb.penalty(
            deadline=claim.decision_deadline,
            notice_received_on=facts.notice_received_on,
            as_of=self.today(),
            calendar=calendar() if calendar is not None else atw_calendar(self.session),
            decided_on=facts.decided_on,
            terms=awb_terms(claim.office_holder.organisation),
        )

    def late_decision(
        self,
        claim: Claim,
        user: User,
        facts: LateFacts | None = None,
        calendar: Callable[[], AtwCalendar] | None = None,
    ) -> LateDecision:
        """Where the claim stands on a late decision, and what this user may do about it.
        `facts` and `calendar` as the caller has them already; else they are read."""
        facts = facts if facts is not None else self.late_facts(claim)
        status = self.penalty_status(claim, facts, calendar)
        actor = actor_for(self.session, user)
        open_and_late = (
            claim.state in {s.value for s in EXTENDABLE_STATES}
            and claim.decision_deadline is not None
            and self.today() > claim.decision_deadline
        )
        return LateDecision(
            notice_received_on=facts.notice_received_on,
            penalty=status,
            fixed_amount=facts.fixed_amount,
            may_give_notice=facts.notice_received_on is None
            and open_and_late
            and may_record_default_notice(actor, claim) is None,
            notice_online=gives_notice_online(actor, claim),
            may_fix=status is not None
            and facts.fixed_amount is None
            and may_decide_penalty(actor, claim) is None
            and (status.capped or facts.decided_on is not None),
        )

    def record_default_notice(
        self, scope: Scope, user: User, claim_id: int, *, received_on: dt.date | None = None
    ) -> DefaultNotice:
        """The applicant gives notice of default online (received today), or staff record
        one that came on paper with the day it was received."""
        claim = scope.get_for_update(self.session, Claim, claim_id, missing=NO_SUCH_CLAIM)
        today = self.today()
        actor = actor_for(self.session, user)
        require(may_record_default_notice(actor, claim))
        if gives_notice_online(actor, claim):
            received_on = today  # online, it arrives the day it is sent
        else:  # a case handler records one that came on paper
            if received_on is None:
                raise invalid("received_on", _l("Give the day the notice was received."))
            if received_on > today:
                raise invalid("received_on", _l("The day of receipt cannot be in the future."))
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
        record_act(
            self.audit,
            claim,
            "default_notice",
            actor_id=user.id,
            payload={"received_on": received_on, "penalty_starts_on": starts_on},
        )
        return notice

    def decide_penalty(self, scope: Scope, user: User, claim_id: int) -> Decision:
        """Fix the penalty due for a late decision by a decision of its own (art. 4:18 Awb).

        Possible once the penalty has stopped running: the application was decided, or the
        maximum number of days has passed. The amount is the clock's, never typed in.
        """
        actor = actor_for(self.session, user)
        require(may_decide_penalty_as(actor))
        claim = scope.get_for_update(self.session, Claim, claim_id, missing=NO_SUCH_CLAIM)
        require(may_decide_penalty(actor, claim))
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
        decided_on = application_decided_on(self.session, claim)
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
        request_decision_letter(self.session, claim, decision, clock=self.clock, penalty=status)
        self._tell_decision(claim, decision, decision.sent_on)
        record_act(
            self.audit,
            claim,
            "penalty_decision",
            actor_id=user.id,
            payload={"days": days, "amount": status.amount, "decision_id": decision.id},
        )
        self.session.flush()
        return decision
