"""Claims with a decision to object to."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from housing.claims.models import Decision


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
