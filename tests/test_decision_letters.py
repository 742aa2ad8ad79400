"""Decision letters after the commit: the decision asks, a worker lays the PDF out once."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from housing.claims.documents import DocumentStore
from housing.claims.letters import TOPIC, deliver_decision_letter, letter_being_prepared
from housing.claims.models import Decision, Document, DocumentKind
from housing.outbox.handlers import default_handlers
from housing.outbox.models import OutboxMessage, OutboxStatus
from housing.outbox.services import Outcome
from tests.builders.api import bearer
from tests.builders.claims import World
from tests.builders.letters import pdf_text
from tests.conftest import login


@pytest.fixture
def world(session, tmp_path):
    world = World(session)
    world.documents = DocumentStore(tmp_path / "documents")
    return world


def letters(session) -> int:
    return session.scalar(
        select(func.count())
        .select_from(Document)
        .where(Document.kind == DocumentKind.DECISION_LETTER)
    )


def letter_messages(session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == TOPIC)))


def test_a_grant_commits_without_laying_out_its_letter(world, session, monkeypatch):
    claim = world.proposed()

    def no_pdf_in_the_decision(*args, **kwargs):
        raise AssertionError("the letter is laid out in the decision's transaction")

    monkeypatch.setattr("housing.claims.letters.render_decision_letter", no_pdf_in_the_decision)
    world.fire(world.decider, claim, "grant")
    monkeypatch.undo()

    decision = session.scalars(select(Decision).where(Decision.claim_id == claim.id)).one()
    assert decision.letter_document_id is None and letters(session) == 0
    assert letter_being_prepared(session, claim.id)
    (message,) = letter_messages(session)
    assert message.status is OutboxStatus.PENDING
    assert message.payload == {"decision_id": decision.id}
    assert message.organisation_id == world.org.id


def test_the_handler_lays_out_exactly_one_letter_however_often_it_runs(world, session):
    claim = world.proposed()
    world.fire(world.decider, claim, "grant")
    decision = session.scalars(select(Decision).where(Decision.claim_id == claim.id)).one()

    assert world.letters() == [Outcome.DONE]
    session.refresh(decision)
    first = decision.letter_document_id
    assert first is not None and letters(session) == 1
    assert not letter_being_prepared(session, claim.id)

    # The handler again on the same message (a retry after a lost "done"): still one.
    (message,) = letter_messages(session)
    deliver_decision_letter(session, message, documents=world.documents)
    session.commit()
    # And the message delivered once more after it was put back to pending.
    message.status = OutboxStatus.PENDING
    message.done_at = None
    session.commit()
    assert world.letters() == [Outcome.DONE]
    session.refresh(decision)
    assert decision.letter_document_id == first and letters(session) == 1


def test_a_letter_for_a_decision_that_is_gone_is_nothing_to_do(world, session):
    deliver_decision_letter(
        session, SimpleNamespace(payload={"decision_id": 0}), documents=world.documents
    )
    assert letters(session) == 0


def test_the_worker_knows_the_letter_topic():
    assert default_handlers()[TOPIC] is deliver_decision_letter


def test_the_claim_page_and_the_api_say_the_letter_is_being_prepared(
    app, client, session, world, monkeypatch
):
    world.serve_pages(monkeypatch)
    claim = world.proposed()
    world.fire(world.decider, claim, "grant")
    page, headers = app.test_client(), bearer(session, world.applicant)
    login(page, world.applicant.email)
    detail = client.get(f"/api/v1/claims/{claim.id}", headers=headers).json
    assert detail["letter_being_prepared"] is True
    assert 'id="letter-being-prepared"' in page.get(f"/claims/{claim.id}").text

    world.letters()
    detail = client.get(f"/api/v1/claims/{claim.id}", headers=headers).json
    assert detail["letter_being_prepared"] is False
    shown = page.get(f"/claims/{claim.id}").text
    assert 'id="letter-being-prepared"' not in shown and "besluit-" in shown


def test_the_penalty_letter_states_the_penalty_fixed_by_the_decision(world, session):
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    world.fire(world.assessor, claim, "start_assessment")
    world.clock.now = dt.datetime(2026, 4, 29, 9, tzinfo=dt.UTC)  # a day after the deadline
    world.late.record_default_notice(world.scope(world.applicant), world.applicant, claim.id)
    session.commit()
    message_count = len(letter_messages(session))
    world.clock.advance(120)
    decision = world.late.decide_penalty(world.scope(world.decider), world.decider, claim.id)
    session.commit()
    (message,) = letter_messages(session)[message_count:]
    penalty = message.payload["penalty"]
    assert penalty["amount"] == str(decision.penalty_amount)
    # The worker runs later than the decision: the letter keeps the decision's amount.
    world.clock.advance(30)
    world.letters()
    session.refresh(decision)
    text = pdf_text(world.documents.read(session.get(Document, decision.letter_document_id)))
    assert "€ 1.442,00" in text and "42" in text
