"""Handling a claim: assigning its assessor, and internal notes the applicant never reads."""

from __future__ import annotations

import json
import re

from markupsafe import escape  # as the pages escape: a name such as "Arie 's Gravensande"
from sqlalchemy import func, select

from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail
from housing.claims.handling import CaseHandlingService
from housing.claims.models import Claim, ClaimNote, Document
from housing.outbox.models import OutboxMessage
from housing.roles import Role
from tests.builders.api import bearer
from tests.builders.claims import World
from tests.builders.letters import pdf_text
from tests.conftest import csrf_from, login
from tests.factories import UserFactory

NOTE = "Let op: leverancier belde over de achterdeur, offerte volgt."
ONCE = re.compile(r'name="once_token" value="([^"]+)"')


def submitted(world: World) -> Claim:
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    return claim


def events(session, claim: Claim, event: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.claim_id == claim.id, AuditEvent.event == event)
            .order_by(AuditEvent.sequence)
        )
    )


def post_form(client, path: str, page_path: str, **data):
    """Post a form of the claim page with its CSRF and one-time tokens."""
    page = client.get(page_path).text
    found = ONCE.search(page)
    assert found, "no one-time token on the page"
    return client.post(
        path, data={**data, "csrf_token": csrf_from(page), "once_token": found.group(1)}
    )


def test_a_case_handler_assigns_and_unassigns_the_assessor_audited(client, session):
    world = World(session)
    claim = submitted(world)
    login(client, world.decider.email)
    page = f"/claims/{claim.id}"
    assert "Niet toegewezen" in client.get(page).text

    response = post_form(client, f"{page}/assessor", page, assessor_id=world.assessor2.id)

    assert response.status_code == 303
    session.expire_all()
    assert session.get(Claim, claim.id).assessor_id == world.assessor2.id
    (assigned,) = events(session, claim, "assessor_assigned")
    assert assigned.actor_id == world.decider.id
    assert assigned.from_state == assigned.to_state == "submitted"
    shown = client.get(page).text
    assert f'id="assessor-name">{escape(world.assessor2.full_name)}<' in shown
    assert "Beoordelaar toegewezen" in shown
    # The search's assessor filter reads the assignment.
    search = client.get("/claims/search", query_string={"assessor": world.assessor2.id}).text
    assert claim.number in search

    response = post_form(client, f"{page}/assessor", page, assessor_id="none")

    assert response.status_code == 303
    session.expire_all()
    assert session.get(Claim, claim.id).assessor_id is None
    assert len(events(session, claim, "assessor_unassigned")) == 1
    assert AuditTrail(session).verify(world.org.id).intact


def test_only_an_assessor_of_the_organisation_can_be_assigned(client, session):
    world = World(session)
    claim = submitted(world)
    stranger = World(session, name="Gemeente Anders")
    login(client, world.assessor.email)
    page = f"/claims/{claim.id}"
    for chosen in (world.decider.id, stranger.assessor.id, world.applicant.id, "abc"):
        response = post_form(client, f"{page}/assessor", page, assessor_id=chosen)
        # The claim page again, the message at the select and in the summary.
        assert response.status_code == 422
        assert 'id="assessor_id-error">Kies een beoordelaar van uw organisatie.' in response.text
        assert 'href="#assessor_id"' in response.text
        assert 'name="assessor_id" aria-invalid="true"' in response.text
    session.expire_all()
    assert session.get(Claim, claim.id).assessor_id is None
    assert events(session, claim, "assessor_assigned") == []


def test_applicants_and_finance_neither_assign_nor_write_notes(app, session):
    world = World(session)
    claim = submitted(world)
    finance = UserFactory(organisation_id=world.org.id, roles={Role.FINANCE})
    for user in (world.applicant, finance):
        browser = app.test_client()
        csrf = login(browser, user.email)
        page = browser.get(f"/claims/{claim.id}").text
        assert 'id="handling"' not in page and "Interne notities" not in page
        for path, data in (
            ("assessor", {"assessor_id": world.assessor.id}),
            ("notes", {"text": NOTE}),
        ):
            response = browser.post(f"/claims/{claim.id}/{path}", data={**data, "csrf_token": csrf})
            assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(ClaimNote)) == 0


def test_a_note_is_read_by_the_case_handlers_only(app, session):
    world = World(session)
    claim = submitted(world)
    assessor = app.test_client()
    login(assessor, world.assessor.email)
    page = f"/claims/{claim.id}"
    outbox_before = session.scalar(select(func.count()).select_from(OutboxMessage))

    response = post_form(assessor, f"{page}/notes", page, text=NOTE)

    assert response.status_code == 303
    (note,) = session.scalars(select(ClaimNote).where(ClaimNote.claim_id == claim.id))
    assert note.author_id == world.assessor.id and note.text == NOTE
    # Audited without its words: the audit reason shows in timelines.
    (added,) = events(session, claim, "internal_note_added")
    assert added.actor_id == world.assessor.id and added.reason is None
    # No e-mail or notice is queued for a note.
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == outbox_before
    decider = app.test_client()
    login(decider, world.decider.email)
    assert NOTE in decider.get(page).text

    applicant = app.test_client()
    login(applicant, world.applicant.email)
    shown = applicant.get(page)
    assert shown.status_code == 200
    assert NOTE not in shown.text
    assert "Interne notitie" not in shown.text and "Interne notities" not in shown.text
    api = applicant.get(f"/api/v1/claims/{claim.id}", headers=bearer(session, world.applicant))
    assert api.status_code == 200
    body = json.dumps(api.get_json())
    assert NOTE not in body and "internal_note_added" not in body
    assert "submit" in body  # the rest of the history is still there

    finance = UserFactory(organisation_id=world.org.id, roles={Role.FINANCE})
    finance_api = applicant.get(f"/api/v1/claims/{claim.id}", headers=bearer(session, finance))
    assert finance_api.status_code == 200 and NOTE not in json.dumps(finance_api.get_json())
    staff_api = applicant.get(f"/api/v1/claims/{claim.id}", headers=bearer(session, world.decider))
    assert "internal_note_added" in json.dumps(staff_api.get_json())


def test_a_note_is_bounded_required_and_sent_once(client, session):
    world = World(session)
    claim = submitted(world)
    login(client, world.assessor.email)
    page = f"/claims/{claim.id}"
    for text, message in (("   ", "Dit veld is verplicht."), ("x" * 10_001, "10000 tekens")):
        response = post_form(client, f"{page}/notes", page, text=text)
        # The claim page again with the message at the field and what was typed kept.
        assert response.status_code == 422
        shown = response.text
        assert 'id="note-text-error"' in shown and message in shown
        assert 'href="#note-text"' in shown
        assert f'aria-describedby="note-text-error">{text}</textarea>' in shown
    assert session.scalar(select(func.count()).select_from(ClaimNote)) == 0

    form = client.get(page).text
    data = {"text": NOTE, "csrf_token": csrf_from(form), "once_token": ONCE.search(form).group(1)}
    first = client.post(f"{page}/notes", data=data)
    again = client.post(f"{page}/notes", data=data)

    assert first.status_code == again.status_code == 303
    assert session.scalar(select(func.count()).select_from(ClaimNote)) == 1


def test_no_note_on_ones_own_claim(client, session):
    world = World(session)
    claim = submitted(world)
    # The office holder becomes an assessor too: still nobody handles their own claim.
    world.applicant.roles = {Role.APPLICANT, Role.ASSESSOR}
    session.commit()
    login(client, world.applicant.email)
    page = f"/claims/{claim.id}"
    assert 'id="handling"' not in client.get(page).text
    csrf = csrf_from(client.get(page).text)
    response = client.post(f"{page}/notes", data={"text": NOTE, "csrf_token": csrf})
    assert response.status_code == 403
    assert "U kunt niet optreden in uw eigen aanvraag." in response.text
    assert session.scalar(select(func.count()).select_from(ClaimNote)) == 0


def test_notes_stay_out_of_the_decision_letter(session, document_root):
    world = World(session)
    claim = world.proposed()
    CaseHandlingService(session, clock=world.clock).add_note(
        world.scope(world.decider), world.decider, claim.id, NOTE
    )
    session.commit()
    world.fire(world.decider, claim, "grant")
    world.letters()
    session.expire_all()
    letters = session.scalars(
        select(Document).where(Document.claim_id == claim.id, Document.kind == "decision_letter")
    ).all()
    assert len(letters) == 1
    text = pdf_text(world.documents.read(letters[0]))
    assert claim.number in text
    assert "achterdeur" not in text and "leverancier belde" not in text
