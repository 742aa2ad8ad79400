"""The factories' workflow-state traits leave rows the claim service accepts as its own."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from housing.claims.models import Decision, DecisionKind, InformationRequest
from housing.organisations.models import Budget
from tests.builders.claims import World
from tests.factories import ClaimFactory
from workflows.rules import Regime

STATES = [
    "submitted",
    "in_assessment",
    "awaiting_info",
    "awaiting_advice",
    "decision_proposed",
    "granted",
    "refused",
    "withdrawn",
    "archived",
]


def test_a_plain_claim_is_an_empty_draft(session):
    claim = ClaimFactory()
    assert (claim.state, claim.lines, claim.received_on, claim.decision_deadline) == (
        "draft",
        [],
        None,
        None,
    )


@pytest.mark.parametrize("state", STATES)
def test_each_trait_lands_in_its_state_with_lines_a_receipt_and_a_deadline(session, state):
    claim = ClaimFactory(**{state: True})
    assert claim.state == state and claim.regime is Regime.B
    assert [line.catalogue_code for line in claim.lines] == ["cameras", "freestanding_letterbox"]
    assert claim.received_on == claim.application_date == dt.date(2026, 3, 2)
    # As the claim service keeps it: eight weeks end on King's Day, so Tuesday 28 April; an
    # unanswered information request holds the clock for its full 14 days (provisional).
    expected = dt.date(2026, 5, 11) if state == "awaiting_info" else dt.date(2026, 4, 28)
    assert claim.decision_deadline == expected


def test_a_granted_claim_has_what_a_grant_leaves(session):
    claim = ClaimFactory(granted=True)
    assert all(line.granted_amount == line.requested_amount for line in claim.lines)
    assert claim.assessor_id == claim.proposed_by_id != claim.decided_by_id is not None
    decision = session.scalars(select(Decision).where(Decision.claim_id == claim.id)).one()
    assert (decision.kind, decision.prepared_by_id, decision.decided_by_id) == (
        DecisionKind.GRANT,
        claim.proposed_by_id,
        claim.decided_by_id,
    )
    assert claim.advice is not None
    assert claim.advice.advised_measures == "cameras,freestanding_letterbox"
    budget = session.scalars(
        select(Budget).where(Budget.organisation_id == claim.organisation_id)
    ).one()
    assert budget.committed == Decimal("1600.00") <= budget.amount


def test_a_refusal_grants_nothing_and_a_proposal_decides_nothing(session):
    refused = ClaimFactory(refused=True)
    assert {line.granted_amount for line in refused.lines} == {Decimal("0.00")}
    kinds = session.scalars(select(Decision.kind).where(Decision.claim_id == refused.id)).all()
    assert kinds == [DecisionKind.REFUSAL]
    proposed = ClaimFactory(decision_proposed=True)
    assert proposed.decided_by_id is None and proposed.proposed_by_id is not None
    assert session.scalars(select(Decision).where(Decision.claim_id == proposed.id)).all() == []


def test_awaiting_info_has_its_open_request(session):
    claim = ClaimFactory(awaiting_info=True)
    request = session.scalars(
        select(InformationRequest).where(InformationRequest.claim_id == claim.id)
    ).one()
    assert request.answered_on is None and request.requested_by_id == claim.assessor_id


def test_lines_can_be_given(session):
    claim = ClaimFactory(granted=True, lines=[("lighting", "300.00", "0.00")])
    ((code, requested, granted),) = [
        (line.catalogue_code, line.requested_amount, line.granted_amount) for line in claim.lines
    ]
    assert (code, requested, granted) == ("lighting", Decimal("300.00"), Decimal("300.00"))


def test_the_claim_service_carries_a_factory_claim_on(session):
    world = World(session)
    proposed = ClaimFactory(home=world.home, decision_proposed=True)
    world.fire(world.decider, proposed, "grant")
    assert proposed.state == "granted"
    submitted = ClaimFactory(home=world.home, submitted=True)
    world.fire(world.assessor, submitted, "start_assessment")
    assert submitted.state == "in_assessment" and submitted.assessor_id == world.assessor.id
