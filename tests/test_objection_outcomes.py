"""What the decision on an objection does to its claim: upheld against the refusal (or the
not-considered decision) the claim stands on, the claim is assessed and decided again,
audited in the same transaction; rejected or inadmissible, or upheld against a grant, the
claim stays as decided. The claim machine itself has no objection events any more."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail
from housing.claims.documents import DocumentStore
from housing.claims.models import Objection
from housing.claims.objections import ObjectionService
from housing.errors import InvalidInput
from housing.scoping import Scope
from tests.builders.claims import World
from tests.builders.objections import decision_of, partially_granted
from workflows.claim import ClaimEvent

GROUNDS = "De camera is wel nodig: zie het advies."


@pytest.fixture
def world(session, tmp_path):
    world = World(session)
    world.documents = DocumentStore(tmp_path / "documents")
    return world


@pytest.fixture
def objections(world, session):
    return ObjectionService(session, clock=world.clock, documents=world.documents)


def refused(world):
    claim = world.proposed()
    for line in claim.lines:
        line.granted_amount = Decimal("0.00")
    world.session.commit()
    world.fire(world.decider, claim, "refuse", reason="Niet geadviseerd")
    return claim


def objected(world, objections, session, claim) -> Objection:
    objection = objections.lodge(
        Scope.for_user(world.applicant),
        world.applicant,
        claim.id,
        decision_id=decision_of(session, claim).id,
        grounds=GROUNDS,
    )
    session.commit()
    return objection


def decide(world, objections, session, claim, objection, outcome):
    objections.decide(
        Scope.for_user(world.decider),
        world.decider,
        claim.id,
        objection.id,
        outcome=outcome,
        reasons="Na de hoorzitting zo besloten.",
    )
    session.commit()


def claim_links(session, claim) -> list[tuple[str, str | None, str | None, int | None]]:
    return [
        (e.event, e.from_state, e.to_state, e.actor_id)
        for e in session.scalars(
            select(AuditEvent).where(AuditEvent.claim_id == claim.id).order_by(AuditEvent.sequence)
        )
    ]


def test_the_claim_machine_has_no_objection_events(world, session):
    claim = refused(world)
    assert not {"lodge_objection", "reconsider", "uphold"} & {e.value for e in ClaimEvent}
    with pytest.raises(InvalidInput):
        world.fire(world.applicant, claim, "lodge_objection", reason="Oneens")
    session.refresh(claim)
    assert claim.state == "refused"


def test_an_upheld_objection_against_the_refusal_reopens_the_claim_audited(
    world, objections, session
):
    claim = refused(world)
    objection = objected(world, objections, session, claim)
    decide(world, objections, session, claim, objection, "upheld")

    session.refresh(claim)
    assert claim.state == "in_assessment"
    assert claim.proposed_by_id is None and claim.decided_by_id is None
    assert claim.assessor_id == world.assessor.id  # its own assessor takes it again
    assert all(line.granted_amount is None for line in claim.lines)
    # The objection's decision, then the claim's reopening, both by the decider.
    assert claim_links(session, claim)[-2:] == [
        ("objection_uphold", "lodged", "upheld", world.decider.id),
        ("reopen_after_objection", "refused", "in_assessment", world.decider.id),
    ]
    assert AuditTrail(session).verify(world.org.id).intact

    # Assessed, proposed and decided again: the decider can decide anew.
    for line in claim.lines:
        line.granted_amount = line.requested_amount
    session.commit()
    world.fire(
        world.assessor,
        claim,
        "propose_decision",
        details={"granted": {line.id: line.requested_amount for line in claim.lines}},
    )
    world.fire(world.decider, claim, "grant")
    assert claim.state == "granted"


@pytest.mark.parametrize("outcome", ["rejected", "inadmissible"])
def test_a_rejected_or_inadmissible_objection_leaves_the_claim_decided(
    world, objections, session, outcome
):
    claim = refused(world)
    objection = objected(world, objections, session, claim)
    decide(world, objections, session, claim, objection, outcome)

    session.refresh(claim)
    assert claim.state == "refused" and claim.decided_by_id == world.decider.id
    assert "reopen_after_objection" not in [link[0] for link in claim_links(session, claim)]


def test_an_upheld_objection_against_a_grant_leaves_the_claim_and_its_payments(
    world, objections, session
):
    claim = partially_granted(world)
    objection = objected(world, objections, session, claim)
    decide(world, objections, session, claim, objection, "upheld")

    session.refresh(claim)
    assert objection.state == "upheld"
    assert claim.state == "granted" and claim.decided_by_id == world.decider.id
    assert claim.lines[0].granted_amount == claim.lines[0].requested_amount
    assert "reopen_after_objection" not in [link[0] for link in claim_links(session, claim)]
