"""Decision letters: a PDF in Dutch with the right dates, stored with the claim."""

from __future__ import annotations

import datetime as dt
import io

from pypdf import PdfReader
from sqlalchemy import select

from housing.claims.documents import DocumentStore
from housing.claims.letters import long_date, money
from housing.claims.models import Decision, Document
from tests.test_claim_service import World


def pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_long_dates_and_money_read_as_in_a_dutch_letter():
    assert long_date(dt.date(2026, 5, 5)) == "5 mei 2026"
    from decimal import Decimal

    assert money(Decimal("1450.5")) == "€ 1.450,50"


def test_a_partial_grant_letter_has_the_decision_the_amounts_and_the_objection_date(
    session, tmp_path
):
    world = World(session)
    world.documents = DocumentStore(tmp_path / "documents")
    # Decided on Friday 3 April 2026: six weeks end Friday 15 May 2026, a day equated with
    # a holiday (after Ascension), so the objection term runs to Monday 18 May.
    world.clock.now = dt.datetime(2026, 4, 3, 9, tzinfo=dt.UTC)
    claim = world.proposed()
    camera, letterbox = claim.lines
    claim_id = claim.id
    world.fire(world.decider, claim, "send_back")
    world.fire(
        world.assessor,
        claim,
        "propose_decision",
        details={
            "granted": {camera.id: "1200.00", letterbox.id: "250.00"},
            "line_reasons": {letterbox.id: "Eenvoudiger model"},
        },
    )
    world.fire(world.decider, claim, "grant_partially", reason="De brievenbus kan eenvoudiger.")
    world.letters()
    decision = session.scalars(select(Decision).where(Decision.claim_id == claim_id)).one()
    letter = session.get(Document, decision.letter_document_id)
    assert (letter.kind, letter.content_type, letter.confidentiality) == (
        "decision_letter",
        "application/pdf",
        "confidential",
    )
    text = pdf_text(world.documents.read(letter))
    assert "gedeeltelijk toe" in text
    assert "3 april 2026" in text  # the date it was sent
    assert "18 mei 2026" in text  # the last day to object, Atw-stretched
    assert "college van burgemeester en wethouders" in text
    assert "De brievenbus kan eenvoudiger." in text and "Eenvoudiger model" in text
    assert "€ 1.450,00" in text  # granted total
    assert claim.number in text


def test_an_extension_notice_moves_the_deadline_and_gets_a_letter(session, tmp_path):
    import pytest

    from housing.errors import Conflict, Forbidden, InvalidInput

    world = World(session)
    world.documents = DocumentStore(tmp_path / "documents")
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    assert claim.decision_deadline == dt.date(2026, 4, 28)
    scope = world.scope(world.assessor)
    with pytest.raises(InvalidInput):
        world.workflow.notify_extension(
            scope, world.assessor, claim.id, new_deadline=dt.date(2026, 6, 1), reason=" "
        )
    with pytest.raises(Forbidden):
        world.workflow.notify_extension(
            world.scope(world.applicant),
            world.applicant,
            claim.id,
            new_deadline=dt.date(2026, 6, 1),
            reason="x",
        )
    decision = world.workflow.notify_extension(
        scope,
        world.assessor,
        claim.id,
        new_deadline=dt.date(2026, 6, 1),
        reason="Advies BZK volgt later.",
    )
    session.commit()
    assert claim.decision_deadline == dt.date(2026, 6, 1)  # the body's own date: not stretched
    world.letters()
    text = pdf_text(world.documents.read(session.get(Document, decision.letter_document_id)))
    assert "1 juni 2026" in text and "4:14" in text and "Advies BZK volgt later." in text
    # Too late: the deadline has passed.
    world.clock.now = dt.datetime(2026, 6, 2, 9, tzinfo=dt.UTC)
    with pytest.raises(InvalidInput) as late:
        world.workflow.notify_extension(
            scope, world.assessor, claim.id, new_deadline=dt.date(2026, 7, 1), reason="Nog later"
        )
    assert "new_deadline" in late.value.field_errors
    session.rollback()
    world.fire(world.applicant, claim, "withdraw")
    with pytest.raises(Conflict):
        world.workflow.notify_extension(
            scope, world.assessor, claim.id, new_deadline=dt.date(2026, 9, 1), reason="x"
        )
