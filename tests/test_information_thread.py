"""Information requests as a thread on the claim: the assessor asks, the applicant answers
with text and files, and the assessor and the decider read both, in order."""

from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from housing.audit.models import AuditEvent
from housing.claims.models import Claim, Document, DocumentKind, InformationRequest
from housing.roles import Role
from tests.builders.api import assert_problem, bearer
from tests.builders.claims import World
from tests.conftest import login
from tests.factories import UserFactory

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def in_assessment(world: World) -> Claim:
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    world.fire(world.assessor, claim, "start_assessment")
    return claim


def ask(browser, csrf, claim_id, question, term_days="10"):
    response = browser.post(
        f"/claims/{claim_id}/events",
        data={
            "event": "request_info",
            "question": question,
            "term_days": term_days,
            "csrf_token": csrf,
        },
    )
    assert response.status_code == 303, response.text


def answer(browser, csrf, claim_id, text, files=()):
    return browser.post(
        f"/claims/{claim_id}/information",
        data={
            "answer": text,
            "csrf_token": csrf,
            "files": [(io.BytesIO(data), name) for name, data in files],
        },
        content_type="multipart/form-data",
    )


def answer_form(page: str, claim_id: int) -> str:
    start = page.index(f'action="/claims/{claim_id}/information"')
    return page[start : page.index("</form>", start)]


def thread_and_timeline(page: str) -> tuple[str, str]:
    """The questions-and-answers section and the timeline of a claim page."""
    start = page.index('id="information-requests"')
    thread = page[start : page.index("</section>", start)]
    return thread, page[page.index(">Verloop</h2>") :]


def test_the_assessor_and_the_decider_read_the_question_the_answer_and_its_files(
    app, session, document_root
):
    world = World(session)
    claim_id = in_assessment(world).id
    applicant, assessor, decider, finance = (app.test_client() for _ in range(4))
    applicant_csrf = login(applicant, world.applicant.email)
    assessor_csrf = login(assessor, world.assessor.email)
    login(decider, world.decider.email)
    login(finance, UserFactory(organisation_id=world.org.id, roles={Role.FINANCE}).email)

    ask(assessor, assessor_csrf, claim_id, "Stuur de offerte van de camera.")
    page = applicant.get(f"/claims/{claim_id}").text
    assert "Stuur de offerte van de camera." in page
    form = answer_form(page, claim_id)
    assert 'name="once_token"' in form and 'name="files"' in form and "multiple" in form
    assert "Motivering" not in form

    response = answer(
        applicant,
        applicant_csrf,
        claim_id,
        "De offerte en een foto zijn bijgevoegd.",
        files=[("offerte-camera.pdf", PDF), ("voordeur.png", PNG)],
    )
    assert response.status_code == 303, response.text
    assert "Uw antwoord is verstuurd." in applicant.get(response.headers["Location"]).text

    request = session.scalars(select(InformationRequest)).one()
    assert request.answer == "De offerte en een foto zijn bijgevoegd."
    assert request.answered_by_id == world.applicant.id
    files = session.scalars(select(Document).order_by(Document.id)).all()
    assert [(d.filename, d.kind, d.information_request_id) for d in files] == [
        ("offerte-camera.pdf", DocumentKind.SUPPLEMENT, request.id),
        ("voordeur.png", DocumentKind.SUPPLEMENT, request.id),
    ]
    assert session.get(Claim, claim_id).state == "in_assessment"

    for reader in (assessor, decider):
        thread, timeline = thread_and_timeline(reader.get(f"/claims/{claim_id}").text)
        for part in (thread, timeline):
            assert "Stuur de offerte van de camera." in part
            assert "De offerte en een foto zijn bijgevoegd." in part
            assert "offerte-camera.pdf" in part and "voordeur.png" in part
        assert "Wacht op informatie" in timeline and "Vraag (antwoord uiterlijk" in timeline
        for document in files:
            assert reader.get(f"/claims/{claim_id}/documents/{document.id}").status_code == 200
    # The applicant reads their own thread; finance reads neither the thread nor the files.
    assert "De offerte en een foto zijn bijgevoegd." in applicant.get(f"/claims/{claim_id}").text
    finance_page = finance.get(f"/claims/{claim_id}").text
    assert "Stuur de offerte van de camera." not in finance_page
    assert "De offerte en een foto zijn bijgevoegd." not in finance_page
    assert finance.get(f"/claims/{claim_id}/documents/{files[0].id}").status_code == 403


def test_an_empty_answer_is_refused_at_the_field_and_nothing_is_written(
    app, session, document_root
):
    world = World(session)
    claim_id = in_assessment(world).id
    applicant, assessor = app.test_client(), app.test_client()
    applicant_csrf = login(applicant, world.applicant.email)
    ask(assessor, login(assessor, world.assessor.email), claim_id, "Welke deur?")
    events_before = session.scalar(select(func.count(AuditEvent.id)))

    refused = answer(applicant, applicant_csrf, claim_id, "   ", files=[("deur.pdf", PDF)])
    assert refused.status_code == 422
    form = answer_form(refused.text, claim_id)
    assert 'id="answer-error"' in form and "Schrijf uw antwoord op de vraag." in form
    # As every form: a summary linking to the field, and the field marked invalid.
    assert 'href="#answer">Uw antwoord: Schrijf uw antwoord op de vraag.' in form
    assert 'name="answer" rows="5" maxlength="10000" aria-invalid="true"' in form

    # A refused file keeps what was typed, and stores no file of the answer either.
    refused = answer(
        applicant,
        applicant_csrf,
        claim_id,
        "De achterdeur, zie foto.",
        files=[("deur.pdf", PDF), ("foto.txt", b"geen plaatje")],
    )
    assert refused.status_code == 422
    form = answer_form(refused.text, claim_id)
    assert ">De achterdeur, zie foto.</textarea>" in form
    assert 'id="files-error"' in form and "foto.txt: Alleen PDF" in form

    session.expire_all()
    request = session.scalars(select(InformationRequest)).one()
    assert (request.answered_on, request.answer) == (None, None)
    assert session.get(Claim, claim_id).state == "awaiting_info"
    assert session.scalar(select(func.count(Document.id))) == 0
    assert session.scalar(select(func.count(AuditEvent.id))) == events_before
    assert not [path for path in document_root.rglob("*") if path.is_file()]


def test_a_second_request_and_its_answer_follow_the_first(app, session, document_root):
    world = World(session)
    claim_id = in_assessment(world).id
    applicant, assessor = app.test_client(), app.test_client()
    applicant_csrf = login(applicant, world.applicant.email)
    assessor_csrf = login(assessor, world.assessor.email)
    rounds = [
        ("Eerste vraag: welke camera?", "Eerste antwoord: een dome-camera.", "eerste.pdf"),
        ("Tweede vraag: welke leverancier?", "Tweede antwoord: Beveilig BV.", "tweede.pdf"),
    ]
    for question, text, filename in rounds:
        ask(assessor, assessor_csrf, claim_id, question)
        sent = answer(applicant, applicant_csrf, claim_id, text, files=[(filename, PDF)])
        assert sent.status_code == 303, sent.text

    thread, timeline = thread_and_timeline(assessor.get(f"/claims/{claim_id}").text)
    order = [part for round_ in rounds for part in round_]
    assert [thread.index(part) for part in order] == sorted(thread.index(p) for p in order)
    assert [timeline.index(part) for part in order] == sorted(timeline.index(p) for p in order)
    assert "Vraag 1" in thread and "Vraag 2" in thread
    documents = session.scalars(select(Document).order_by(Document.id)).all()
    requests = session.scalars(select(InformationRequest).order_by(InformationRequest.id)).all()
    assert [(d.filename, d.information_request_id) for d in documents] == [
        ("eerste.pdf", requests[0].id),
        ("tweede.pdf", requests[1].id),
    ]


def test_only_the_claims_own_applicant_answers_or_reads_the_thread(app, session, document_root):
    world = World(session)
    claim_id = in_assessment(world).id
    world.fire(world.assessor, session.get(Claim, claim_id), "request_info", details={
        "question": "Stuur de offerte."
    })  # fmt: skip
    colleague = UserFactory(organisation_id=world.org.id, roles={Role.APPLICANT})
    stranger, assessor = app.test_client(), app.test_client()
    csrf = login(stranger, colleague.email)
    assert stranger.get(f"/claims/{claim_id}").status_code == 404
    refused = answer(stranger, csrf, claim_id, "Niet mijn aanvraag", files=[("x.pdf", PDF)])
    assert refused.status_code == 404
    # An assessor of the organisation reads the thread but does not answer.
    assessor_csrf = login(assessor, world.assessor.email)
    assert answer(assessor, assessor_csrf, claim_id, "Namens de aanvrager").status_code == 403
    session.expire_all()
    assert session.scalars(select(InformationRequest)).one().answered_on is None
    assert session.scalar(select(func.count(Document.id))) == 0


def test_files_of_one_answer_may_together_exceed_one_files_limit(
    app, session, document_root, monkeypatch
):
    # Each file is bounded by DOCUMENT_MAX_BYTES; the answer's body by that for every file.
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_BYTES", 4096)
    world = World(session)
    claim_id = in_assessment(world).id
    applicant, assessor = app.test_client(), app.test_client()
    applicant_csrf = login(applicant, world.applicant.email)
    assessor_csrf = login(assessor, world.assessor.email)
    ask(assessor, assessor_csrf, claim_id, "Stuur beide offertes.")
    big = PDF[:-6] + b" " * 3000 + PDF[-6:]
    sent = answer(
        applicant, applicant_csrf, claim_id, "Beide.", files=[("a.pdf", big), ("b.pdf", big)]
    )
    assert sent.status_code == 303, sent.text
    too_big = PDF[:-6] + b" " * 5000 + PDF[-6:]
    ask(assessor, assessor_csrf, claim_id, "Nog een.")
    refused = answer(applicant, applicant_csrf, claim_id, "Te groot.", files=[("c.pdf", too_big)])
    assert refused.status_code == 422
    assert re.search(r"c\.pdf: Het bestand is groter dan", refused.text)


def test_the_api_refuses_an_empty_answer(client, session):
    world = World(session)
    claim = in_assessment(world)
    world.fire(world.assessor, claim, "request_info", details={"question": "Welke deur?"})
    claim_id = claim.id
    url = f"/api/v1/claims/{claim_id}/events"
    applicant = bearer(session, world.applicant)
    for details in ({"answer": "  "}, {"answer": ""}, {}):
        body = {"event": "provide_info", "details": details}
        assert_problem(client.post(url, headers=applicant, json=body), 422)
    session.expire_all()
    assert session.get(Claim, claim_id).state == "awaiting_info"
    assert session.scalars(select(InformationRequest)).one().answered_on is None
    answered = client.post(
        url,
        headers=applicant,
        json={"event": "provide_info", "details": {"answer": "De voordeur."}},
    )
    assert answered.status_code == 200, answered.text
    session.expire_all()
    assert session.scalars(select(InformationRequest)).one().answer == "De voordeur."
