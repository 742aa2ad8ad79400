"""Claims with a decision to object to."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from housing.claims.models import Decision, DecisionKind, Objection
from workflows.objection import ObjectionState


def partially_granted(world, proposer=None):
    """A claim of which the first measure is granted in full and the second not at all."""
    proposer = proposer or world.assessor
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    world.fire(world.assessor, claim, "start_assessment")
    world.fire(world.assessor, claim, "request_advice")
    world.fire(
        world.assessor,
        claim,
        "record_advice",
        details={
            "reference": "BZK-2026-17",
            "advice_date": "2026-03-02",
            "advised_measures": ["cameras", "freestanding_letterbox"],
        },
    )
    first, second = claim.lines
    granted = {first.id: first.requested_amount, second.id: Decimal("0.00")}
    world.fire(proposer, claim, "propose_decision", details={"granted": granted})
    world.fire(world.decider, claim, "grant_partially")
    return claim


def decision_of(session, claim) -> Decision:
    return session.scalars(
        select(Decision).where(Decision.claim_id == claim.id).order_by(Decision.id.desc())
    ).first()


def lodged_objection(session, claim, *, term_ends_on, lodged_by, prepared_by=None):
    """A lodged objection against a sent refusal of `claim`, stored as the service stores
    one (for pages that list objections; the service's own tests lodge theirs)."""
    sent_on = term_ends_on - dt.timedelta(weeks=6)
    refusal = Decision(
        claim_id=claim.id,
        kind=DecisionKind.REFUSAL,
        prepared_by_id=prepared_by.id if prepared_by is not None else None,
        sent_on=sent_on,
        reasons="Niet geadviseerd",
        legal_basis="Regeling",
    )
    session.add(refusal)
    session.flush()
    objection = Objection(
        organisation_id=claim.organisation_id,
        claim_id=claim.id,
        decision_id=refusal.id,
        state=ObjectionState.LODGED,
        lodged_on=sent_on + dt.timedelta(days=7),
        term_ends_on=term_ends_on,
        grounds="Oneens",
        lodged_by_id=lodged_by.id,
    )
    session.add(objection)
    session.commit()
    return objection
