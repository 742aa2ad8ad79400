"""A late decision: the notice of default, the penalty clock and the penalty decision."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail
from housing.claims.documents import DocumentStore
from housing.claims.models import Decision, DecisionKind, DefaultNotice, Document
from housing.claims.terms import objection_deadline
from housing.errors import Conflict, Forbidden, InvalidInput, NotFound
from housing.roles import Role
from tests.builders.api import bearer
from tests.builders.claims import World
from tests.builders.letters import pdf_text
from tests.conftest import login
from tests.factories import UserFactory


def at(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 9, tzinfo=dt.UTC)


@pytest.fixture
def world(session, tmp_path):
    world = World(session)
    world.documents = DocumentStore(tmp_path / "documents")
    return world


def late_claim(world):
    """Submitted Monday 2 March 2026, decision deadline Tuesday 28 April, now 29 April."""
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    world.fire(world.assessor, claim, "start_assessment")
    assert claim.decision_deadline == dt.date(2026, 4, 28)
    world.clock.now = at(dt.date(2026, 4, 29))
    return claim


def counts(session, claim_id):
    return (
        session.scalar(select(func.count()).select_from(DefaultNotice)),
        session.scalar(select(func.count()).where(AuditEvent.claim_id == claim_id)),
    )


def test_a_notice_before_the_deadline_has_passed_is_refused_and_writes_nothing(world, session):
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    world.clock.now = at(dt.date(2026, 4, 28))  # the last day of the term itself
    before = counts(session, claim.id)
    with pytest.raises(InvalidInput) as refused:
        world.late.record_default_notice(world.scope(world.applicant), world.applicant, claim.id)
    session.rollback()
    assert refused.value.field_errors == {"rule": ["notice_premature"]}
    assert counts(session, claim.id) == before


def test_the_penalty_runs_from_two_weeks_after_the_notice_until_the_decision(world, session):
    claim = late_claim(world)
    notice = world.late.record_default_notice(
        world.scope(world.applicant), world.applicant, claim.id
    )
    session.commit()
    assert notice.received_on == dt.date(2026, 4, 29)  # online: received the day it is sent
    # Two weeks end Wednesday 13 May 2026, a working day: in default from Thursday 14 May.
    world.clock.now = at(dt.date(2026, 5, 13))
    status = world.late.penalty_status(claim)
    assert (status.starts_on, status.days, status.amount) == (dt.date(2026, 5, 14), 0, 0)

    world.clock.now = at(dt.date(2026, 5, 20))
    assert world.late.penalty_status(claim).amount == Decimal("161.00")  # 7 days × € 23
    # While it runs, the penalty cannot be fixed.
    with pytest.raises(Conflict):
        world.late.decide_penalty(world.scope(world.decider), world.decider, claim.id)
    session.rollback()

    # Decided on 20 May: 14 up to 19 May are days in default (6 × € 23).
    world.fire(world.assessor, claim, "request_advice")
    world.fire(
        world.assessor,
        claim,
        "record_advice",
        details={
            "reference": "BZK-9",
            "advice_date": "2026-05-01",
            "advised_measures": ["cameras", "freestanding_letterbox"],
        },
    )
    granted = {line.id: line.requested_amount for line in claim.lines}
    world.fire(world.assessor, claim, "propose_decision", details={"granted": granted})
    world.fire(world.decider, claim, "grant")
    world.clock.now = at(dt.date(2026, 5, 26))
    assert world.late.penalty_status(claim).days == 6

    late = world.late.late_decision(claim, world.decider)
    assert late.may_fix and not late.may_give_notice
    decision = world.late.decide_penalty(world.scope(world.decider), world.decider, claim.id)
    session.commit()
    assert decision.kind is DecisionKind.PENALTY and decision.penalty_amount == Decimal("138.00")
    world.letters()
    letter = session.get(Document, decision.letter_document_id)
    text = pdf_text(world.documents.read(letter))
    assert "Vaststelling dwangsom" in text and "€ 138,00" in text
    assert "14 mei 2026" in text and "29 april 2026" in text
    # Objection against the penalty decision: six weeks from 26 May 2026, to 7 July 2026.
    assert "7 juli 2026" in text

    # Fixed once: a second click (or a concurrent request) is refused.
    with pytest.raises(Conflict):
        world.late.decide_penalty(world.scope(world.decider), world.decider, claim.id)
    session.rollback()
    assert world.late.late_decision(claim, world.decider).fixed_amount == Decimal("138.00")
    # The objection term of the claim still counts from the grant, not from the penalty.
    assert objection_deadline(session, claim) == dt.date(2026, 7, 1)
    events = session.scalars(
        select(AuditEvent.event).where(AuditEvent.claim_id == claim.id).order_by(AuditEvent.id)
    ).all()
    assert "default_notice" in events and events[-1] == "penalty_decision"
    assert AuditTrail(session).verify(world.org.id).intact


def test_without_a_decision_the_penalty_stops_at_42_days_and_can_then_be_fixed(world, session):
    claim = late_claim(world)
    world.late.record_default_notice(world.scope(world.applicant), world.applicant, claim.id)
    session.commit()
    world.clock.now = at(dt.date(2026, 9, 1))
    status = world.late.penalty_status(claim)
    assert status.capped and status.days == 42 and status.amount == Decimal("1442.00")
    decision = world.late.decide_penalty(world.scope(world.decider), world.decider, claim.id)
    session.commit()
    assert decision.penalty_amount == Decimal("1442.00")


def test_staff_record_a_paper_notice_with_its_day_of_receipt(world, session):
    claim = late_claim(world)
    with pytest.raises(InvalidInput) as missing:
        world.late.record_default_notice(world.scope(world.assessor), world.assessor, claim.id)
    assert "received_on" in missing.value.field_errors
    with pytest.raises(InvalidInput):
        world.late.record_default_notice(
            world.scope(world.assessor),
            world.assessor,
            claim.id,
            received_on=dt.date(2026, 4, 30),  # tomorrow
        )
    session.rollback()
    notice = world.late.record_default_notice(
        world.scope(world.assessor), world.assessor, claim.id, received_on=dt.date(2026, 4, 29)
    )
    session.commit()
    assert notice.recorded_by_id == world.assessor.id
    with pytest.raises(Conflict):
        world.late.record_default_notice(world.scope(world.applicant), world.applicant, claim.id)
    session.rollback()


def test_who_may_not_act_on_a_late_decision(world, session):
    claim = late_claim(world)
    finance = UserFactory(organisation=world.org, roles={Role.FINANCE})
    other_applicant = UserFactory(organisation=world.org, roles={Role.APPLICANT})
    for user in (finance, world.assessor):
        with pytest.raises(Forbidden):
            world.late.decide_penalty(world.scope(user), user, claim.id)
    with pytest.raises(Forbidden):
        world.late.record_default_notice(world.scope(finance), finance, claim.id)
    # Another applicant does not even see the claim.
    with pytest.raises(NotFound):
        world.late.record_default_notice(world.scope(other_applicant), other_applicant, claim.id)
    with pytest.raises(Conflict):  # no notice yet
        world.late.decide_penalty(world.scope(world.decider), world.decider, claim.id)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Decision)) == 0


def test_the_notice_and_the_penalty_through_the_claim_page(app, session, world, monkeypatch):
    world.serve_pages(monkeypatch)
    claim = late_claim(world)
    claim_path = f"/claims/{claim.id}"
    applicant, decider = app.test_client(), app.test_client()
    csrf_a = login(applicant, world.applicant.email)
    csrf_d = login(decider, world.decider.email)
    page = applicant.get(claim_path).text
    assert "Een ingebrekestelling sturen" in page
    sent = applicant.post(f"{claim_path}/default-notice", data={"csrf_token": csrf_a})
    assert sent.status_code == 303
    page = applicant.get(claim_path).text
    assert "Ingebrekestelling ontvangen op" in page and "Een ingebrekestelling sturen" not in page
    # A second notice is refused with a message, not an error page.
    again = applicant.post(f"{claim_path}/default-notice", data={"csrf_token": csrf_a})
    assert again.status_code == 409 and "al een ingebrekestelling" in again.text
    world.clock.now = at(dt.date(2026, 9, 1))
    assert "De dwangsom bij besluit vaststellen" in decider.get(claim_path).text
    fixed = decider.post(f"{claim_path}/penalty", data={"csrf_token": csrf_d})
    assert fixed.status_code == 303
    assert "1.442,00" in decider.get(claim_path).text
    # An applicant cannot fix it: the route is for deciders.
    assert applicant.post(f"{claim_path}/penalty", data={"csrf_token": csrf_a}).status_code == 403


def test_the_notice_and_the_penalty_through_the_api(client, session, world, monkeypatch):
    world.serve_pages(monkeypatch)
    claim = late_claim(world)
    headers = {user.id: bearer(session, user) for user in (world.applicant, world.decider)}
    response = client.post(
        f"/api/v1/claims/{claim.id}/default-notice", json={}, headers=headers[world.applicant.id]
    )
    assert response.status_code == 201, response.text
    assert response.json == {"received_on": "2026-04-29", "penalty_starts_on": "2026-05-14"}
    again = client.post(
        f"/api/v1/claims/{claim.id}/default-notice", json={}, headers=headers[world.applicant.id]
    )
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    early = client.post(f"/api/v1/claims/{claim.id}/penalty", headers=headers[world.decider.id])
    assert early.status_code == 409
    world.clock.now = at(dt.date(2026, 9, 1))
    fixed = client.post(f"/api/v1/claims/{claim.id}/penalty", headers=headers[world.decider.id])
    assert fixed.status_code == 201, fixed.text
    assert fixed.json["penalty_amount"] == "1442.00" and fixed.json["days"] == 42
    detail = client.get(f"/api/v1/claims/{claim.id}", headers=headers[world.applicant.id]).json
    assert detail["late_decision"]["penalty_fixed_amount"] == "1442.00"
    assert detail["late_decision"]["notice_received_on"] == "2026-04-29"
    denied = client.post(f"/api/v1/claims/{claim.id}/penalty", headers=headers[world.applicant.id])
    assert denied.status_code == 403
