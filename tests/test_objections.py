"""Objections as their own case, on PostgreSQL: lodged in time or late (flagged, never
refused), registered from paper, decided with a letter, withdrawn; one open objection per
decision; the payouts of what was granted go on meanwhile."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail
from housing.claims.documents import DocumentStore
from housing.claims.letters import TOPIC as LETTER_TOPIC
from housing.claims.models import Decision, DecisionKind, Document, Objection
from housing.claims.notices import TOPIC as NOTIFICATION_TOPIC
from housing.claims.objections import ObjectionService
from housing.errors import Conflict, Forbidden, InvalidInput, NotFound
from housing.outbox.models import OutboxMessage
from housing.outbox.services import Outcome
from housing.payments.models import ApprovalLimit
from housing.payments.services import PayoutInput, PayoutService
from housing.roles import Role
from housing.scoping import Scope
from tests.builders.claims import World
from tests.builders.letters import pdf_text
from tests.builders.objections import decision_of, partially_granted
from tests.builders.payments import SUPPLIER_IBAN
from tests.factories import UserFactory
from workflows.claim import ClaimState

GROUNDS = "Het slot op de achterdeur is wel nodig: zie het advies."


@pytest.fixture
def world(session, tmp_path):
    world = World(session)
    world.documents = DocumentStore(tmp_path / "documents")
    return world


@pytest.fixture
def objections(world, session):
    return ObjectionService(session, clock=world.clock, documents=world.documents)


def lodge(world, objections, session, claim, decision, user=None, grounds=GROUNDS):
    user = user or world.applicant
    objection = objections.lodge(
        Scope.for_user(user), user, claim.id, decision_id=decision.id, grounds=grounds
    )
    session.commit()
    return objection


def links(session, claim) -> list[tuple[str, str | None, str | None]]:
    return [
        (e.event, e.from_state, e.to_state)
        for e in session.scalars(
            select(AuditEvent)
            .where(AuditEvent.claim_id == claim.id, AuditEvent.event.like("objection_%"))
            .order_by(AuditEvent.sequence)
        )
    ]


def notified(session, kind: str) -> list[int]:
    return [
        m.payload["user_id"]
        for m in session.scalars(
            select(OutboxMessage).where(OutboxMessage.topic == NOTIFICATION_TOPIC)
        )
        if m.payload["kind"] == kind
    ]


def test_an_objection_in_time_is_lodged_audited_and_the_deciders_are_told(
    world, objections, session
):
    claim = partially_granted(world)
    decision = decision_of(session, claim)
    objection = lodge(world, objections, session, claim, decision)

    assert objection.state == "lodged" and objection.late is False
    assert objection.lodged_on == world.clock().date() and not objection.on_paper
    assert objection.term_ends_on == dt.date(2026, 4, 13)  # six weeks after 2 March
    assert links(session, claim) == [("objection_lodge", "new", "lodged")]
    assert set(notified(session, "objection_lodged")) == {world.decider.id, world.both.id}
    assert notified(session, "late_objection_lodged") == []
    # The claim itself goes on: still granted, nothing of it blocked.
    session.refresh(claim)
    assert claim.state == ClaimState.GRANTED
    assert AuditTrail(session).verify(world.org.id).intact


def test_a_late_objection_is_lodged_and_flagged_not_refused(world, objections, session):
    claim = world.proposed()
    for line in claim.lines:
        line.granted_amount = Decimal("0.00")
    session.commit()
    world.fire(world.decider, claim, "refuse")
    decision = decision_of(session, claim)
    world.clock.now += dt.timedelta(weeks=7)

    objection = lodge(world, objections, session, claim, decision)

    assert objection.state == "lodged" and objection.late is True
    assert objection.lodged_on > objection.term_ends_on
    assert set(notified(session, "late_objection_lodged")) == {world.decider.id, world.both.id}
    assert links(session, claim) == [("objection_lodge", "new", "lodged")]


def test_staff_register_a_paper_objection_with_its_received_date(world, objections, session):
    claim = partially_granted(world)
    decision = decision_of(session, claim)
    world.clock.now += dt.timedelta(weeks=8)
    with pytest.raises(InvalidInput) as early:
        objections.register(
            Scope.for_user(world.assessor),
            world.assessor,
            claim.id,
            decision_id=decision.id,
            grounds=GROUNDS,
            received_on="2026-03-01",
        )
    session.rollback()
    assert "received_on" in early.value.field_errors
    objection = objections.register(
        Scope.for_user(world.assessor),
        world.assessor,
        claim.id,
        decision_id=decision.id,
        grounds=GROUNDS,
        received_on="2026-03-20",
    )
    session.commit()
    assert objection.on_paper and objection.lodged_on == dt.date(2026, 3, 20)
    assert objection.late is False  # the date stamp counts, not the day it was typed in
    assert objection.lodged_by_id == world.assessor.id
    assert links(session, claim) == [("objection_register", "new", "lodged")]


def test_a_second_objection_against_the_same_decision_waits_for_the_first(
    world, objections, session
):
    claim = partially_granted(world)
    decision = decision_of(session, claim)
    first = lodge(world, objections, session, claim, decision)
    with pytest.raises(Conflict):
        lodge(world, objections, session, claim, decision)
    session.rollback()
    objections.withdraw(Scope.for_user(world.applicant), world.applicant, claim.id, first.id)
    session.commit()
    assert first.state == "withdrawn"
    second = lodge(world, objections, session, claim, decision)
    assert second.state == "lodged"
    assert links(session, claim) == [
        ("objection_lodge", "new", "lodged"),
        ("objection_withdraw", "lodged", "withdrawn"),
        ("objection_lodge", "new", "lodged"),
    ]


def test_bad_grounds_and_decisions_are_refused_at_their_field(world, objections, session):
    claim = partially_granted(world)
    decision = decision_of(session, claim)
    for grounds, decision_id, field in (
        ("   ", decision.id, "grounds"),
        ("x" * 4001, decision.id, "grounds"),
        (GROUNDS, "abc", "decision_id"),
        (GROUNDS, decision.id + 1000, "decision_id"),
    ):
        with pytest.raises(InvalidInput) as refused:
            objections.lodge(
                Scope.for_user(world.applicant),
                world.applicant,
                claim.id,
                decision_id=decision_id,
                grounds=grounds,
            )
        session.rollback()
        assert field in refused.value.field_errors
    assert session.scalars(select(Objection)).all() == []


def test_another_applicant_cannot_object_on_a_claim_not_theirs(world, objections, session):
    claim = partially_granted(world)
    decision = decision_of(session, claim)
    other = UserFactory(organisation=world.org, roles={Role.APPLICANT})
    session.commit()
    with pytest.raises(NotFound):
        lodge(world, objections, session, claim, decision, user=other)
    session.rollback()
    objection = lodge(world, objections, session, claim, decision)
    with pytest.raises(NotFound):
        objections.withdraw(Scope.for_user(other), other, claim.id, objection.id)
    session.rollback()
    # A decider is no applicant: lodging is the office holder's (or their clerk's).
    with pytest.raises(Forbidden):
        objections.withdraw(Scope.for_user(world.decider), world.decider, claim.id, objection.id)
    session.rollback()
    assert objection.state == "lodged"


def test_the_decision_on_the_objection_writes_its_letter_and_tells_the_applicant(
    world, objections, session
):
    claim = partially_granted(world, proposer=world.both)
    decision = decision_of(session, claim)
    world.clock.now += dt.timedelta(weeks=7)
    objection = lodge(world, objections, session, claim, decision)
    assert objection.late
    objections.start_review(Scope.for_user(world.assessor), world.assessor, claim.id, objection.id)
    session.commit()
    # The assessor who prepared the partial grant does not decide the objection to it.
    with pytest.raises(InvalidInput) as no_outcome:
        objections.decide(
            Scope.for_user(world.decider),
            world.decider,
            claim.id,
            objection.id,
            outcome="nonsense",
            reasons="Zo",
        )
    session.rollback()
    assert "outcome" in no_outcome.value.field_errors
    with pytest.raises(Forbidden) as four_eyes:
        objections.decide(
            Scope.for_user(world.both),
            world.both,
            claim.id,
            objection.id,
            outcome="rejected",
            reasons="Zo",
        )
    session.rollback()
    assert four_eyes.value.field_errors["rule"] == ["four_eyes"]
    with pytest.raises(InvalidInput):
        objections.decide(
            Scope.for_user(world.decider),
            world.decider,
            claim.id,
            objection.id,
            outcome="rejected",
            reasons="  ",
        )
    session.rollback()
    objections.decide(
        Scope.for_user(world.decider),
        world.decider,
        claim.id,
        objection.id,
        outcome="rejected",
        reasons="De brievenbus staat niet in het advies.",
    )
    session.commit()

    assert objection.state == "rejected" and objection.decided_by_id == world.decider.id
    outcome = session.get(Decision, objection.outcome_decision_id)
    assert outcome.kind is DecisionKind.OBJECTION_DECISION
    assert outcome.reasons == "De brievenbus staat niet in het advies."
    assert links(session, claim)[-2:] == [
        ("objection_start_review", "lodged", "in_review"),
        ("objection_reject", "in_review", "rejected"),
    ]
    assert world.applicant.id in notified(session, "decision_taken")
    letter_messages = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.topic == LETTER_TOPIC, OutboxMessage.key == f"{LETTER_TOPIC}:{outcome.id}"
        )
    ).all()
    assert len(letter_messages) == 1

    assert set(world.letters()) == {Outcome.DONE}
    session.refresh(outcome)
    letter = session.get(Document, outcome.letter_document_id)
    text = " ".join(pdf_text(world.documents.read(letter)).split())
    assert "Beslissing op uw bezwaar" in text
    assert "ongegrond" in text and "verschoonbaar" in text
    assert "beroep instellen bij de rechtbank" in text
    session.refresh(claim)
    assert claim.state == ClaimState.GRANTED


def test_the_granted_part_is_paid_while_the_objection_runs(world, objections, session):
    claim = partially_granted(world)
    objection = lodge(world, objections, session, claim, decision_of(session, claim))
    payouts = PayoutService(session, clock=world.clock)
    payout = payouts.request(
        Scope.for_user(world.assessor),
        world.assessor,
        claim.id,
        PayoutInput(
            measure_line_id=claim.lines[0].id,
            payee_name="Beveiliging BV",
            payee_iban=SUPPLIER_IBAN,
            amount="400.00",
            vat_amount="0.00",
            invoice_number="F-1",
            invoice_date="2026-03-01",
        ),
    )
    session.commit()
    finance = UserFactory(organisation=world.org, roles={Role.FINANCE})
    session.add(
        ApprovalLimit(user_id=finance.id, organisation_id=world.org.id, amount=Decimal("1000"))
    )
    session.commit()
    payouts.decide(Scope.for_user(finance), finance, payout.id, "approve")
    session.commit()
    assert payout.state == "approved"
    assert objection.state == "lodged"
