"""The claim's terms as the law counts them: the decision deadline, the objection term,
the open information request and the day the application was decided."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from housing.claims.models import Claim, Decision, DecisionKind, InformationRequest
from housing.claims.states import APPLICATION_DECISION_KINDS, OBJECTABLE_KINDS
from housing.db import DbSession
from housing.deadlines.services import atw_calendar, awb_terms
from workflows import awb
from workflows.atw import AtwCalendar


def decision_deadline(
    session: DbSession,
    claim: Claim,
    *,
    calendar: AtwCalendar | None = None,
    terms: awb.AwbTerms | None = None,
) -> awb.DecisionDeadline:
    """The decision deadline with every information request taken into account; the Atw
    calendar and the organisation's terms are read unless given (as a cache holds them)."""
    assert claim.received_on is not None
    requests = session.scalars(
        select(InformationRequest).where(InformationRequest.claim_id == claim.id)
    )
    extensions = session.scalars(
        select(Decision)
        .where(Decision.claim_id == claim.id, Decision.kind == DecisionKind.EXTENSION_NOTICE)
        .order_by(Decision.id)
    )
    return awb.decision_deadline(
        claim.received_on,
        calendar=calendar if calendar is not None else atw_calendar(session),
        terms=terms if terms is not None else awb_terms(claim.office_holder.organisation),
        information_requests=[
            awb.InformationRequest(r.requested_on, r.answered_on, r.term_days) for r in requests
        ],
        extensions=[_extension_notice(e) for e in extensions],
    )


def _extension_notice(decision: Decision) -> awb.ExtensionNotice:
    # ClaimWorkflow.extend records an extension notice as sent, with its new deadline.
    assert decision.sent_on is not None and decision.new_deadline is not None
    return awb.ExtensionNotice(decision.sent_on, decision.new_deadline)


def objection_deadline(session: DbSession, claim: Claim) -> dt.date | None:
    """The last day to object to the claim's latest decision, if one was sent."""
    sent_on = session.scalar(
        select(Decision.sent_on)
        .where(Decision.claim_id == claim.id, Decision.kind.in_(OBJECTABLE_KINDS))
        .order_by(Decision.id.desc())
        .limit(1)
    )
    if sent_on is None:
        return None
    return awb.objection_deadline(
        sent_on,
        calendar=atw_calendar(session),
        terms=awb_terms(claim.office_holder.organisation),
    )


def open_information_request(session: DbSession, claim: Claim) -> InformationRequest | None:
    """The latest information request the applicant has not answered yet."""
    return session.scalars(
        select(InformationRequest)
        .where(InformationRequest.claim_id == claim.id, InformationRequest.answered_on.is_(None))
        .order_by(InformationRequest.requested_on.desc())
        .limit(1)
    ).one_or_none()


def application_decided_on(session: DbSession, claim: Claim) -> dt.date | None:
    """The day the decision on the application itself was sent, if it was."""
    return session.scalar(
        select(func.min(Decision.sent_on)).where(
            Decision.claim_id == claim.id, Decision.kind.in_(APPLICATION_DECISION_KINDS)
        )
    )
