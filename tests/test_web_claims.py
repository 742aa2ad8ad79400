"""The claim pages: inbox by deadline, filters, a claim with its timeline, least privilege."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select, update

from housing.audit.models import AccessLog
from housing.claims.documents import DocumentStore
from housing.claims.models import Claim, Document, MeasureLine
from housing.roles import Role
from tests.builders.api import bearer
from tests.builders.claims import World
from tests.conftest import login
from tests.factories import UserFactory


def submitted(world, n):
    claims = []
    for _ in range(n):
        claim = world.draft()
        world.fire(world.applicant, claim, "submit")
        claims.append(claim)
    return claims


def test_the_inbox_lists_open_claims_nearest_deadline_first(client, session):
    world = World(session)
    first, second = submitted(world, 2)
    session.execute(
        update(Claim).where(Claim.id == first.id).values(decision_deadline=dt.date(2026, 6, 1))
    )
    session.execute(
        update(Claim).where(Claim.id == second.id).values(decision_deadline=dt.date(2026, 3, 1))
    )
    session.commit()
    login(client, world.assessor.email)
    page = client.get("/claims/inbox").text
    assert page.index(second.number) < page.index(first.number)
    assert "dagen te laat" in page  # 1 March 2026 lies in the past: overdue
    assert client.get("/claims/inbox?state=granted").status_code == 400
    assert client.get("/claims/inbox?regime=C").status_code == 400
    assert second.number in client.get("/claims/inbox?state=submitted&regime=B").text


def test_the_inbox_query_count_does_not_grow(client, session, count_queries):
    world = World(session)
    login(client, world.assessor.email)

    def queries() -> int:
        # Each request starts from an empty session, as in production: no row already loaded.
        session.remove()
        with count_queries() as seen:
            assert client.get("/claims/inbox").status_code == 200
        return len(seen)

    submitted(world, 2)
    few = queries()
    submitted(world, 8)
    assert queries() == few


def test_a_claim_page_shows_the_timeline_and_logs_the_read(client, session):
    world = World(session)
    (claim,) = submitted(world, 1)
    login(client, world.assessor.email)
    page = client.get(f"/claims/{claim.id}")
    assert page.status_code == 200
    assert claim.number in page.text and "Ingediend" in page.text
    logged = session.scalars(select(AccessLog).where(AccessLog.claim_id == claim.id)).all()
    assert [(row.user_id, row.action) for row in logged] == [(world.assessor.id, "view_claim")]


def test_claims_are_private(client, session):
    world = World(session)
    (claim,) = submitted(world, 1)
    claim_id = claim.id
    stranger = World(session, name="Gemeente Anders")
    login(client, stranger.assessor.email)
    assert client.get(f"/claims/{claim_id}").status_code == 404
    assert claim.number not in client.get("/claims/inbox").text


def test_an_applicant_sees_only_their_own_claims(app, session):
    world = World(session)
    (claim,) = submitted(world, 1)
    colleague = UserFactory(organisation_id=world.org.id, roles={Role.APPLICANT})
    owner_client, colleague_client = app.test_client(), app.test_client()
    login(owner_client, world.applicant.email)
    login(colleague_client, colleague.email)
    assert claim.number in owner_client.get("/claims/mine").text
    assert owner_client.get(f"/claims/{claim.id}").status_code == 200
    assert claim.number not in colleague_client.get("/claims/mine").text
    assert colleague_client.get(f"/claims/{claim.id}").status_code == 404


def test_administrators_and_auditors_do_not_read_claims(app, session):
    world = World(session)
    (claim,) = submitted(world, 1)
    for role in (Role.ADMIN, Role.AUDITOR):
        user = UserFactory(organisation_id=world.org.id, roles={role})
        browser = app.test_client()
        login(browser, user.email)
        assert browser.get(f"/claims/{claim.id}").status_code == 403
        assert browser.get("/claims/inbox").status_code == 403


def test_a_claim_from_draft_to_grant_through_the_ui(app, session):
    world = World(session)
    home_id = world.home.id
    browsers = {name: app.test_client() for name in ("applicant", "assessor", "decider")}
    tokens = {
        "applicant": login(browsers["applicant"], world.applicant.email),
        "assessor": login(browsers["assessor"], world.assessor.email),
        "decider": login(browsers["decider"], world.decider.email),
    }

    def post(who, path, **data):
        response = browsers[who].post(path, data={**data, "csrf_token": tokens[who]})
        assert response.status_code in (302, 303), response.text
        return response

    # The wizard: home (chosen on "my claims") → scan → measures → documents → review.
    created = post("applicant", "/claims/new", home_id=home_id)
    wizard = created.headers["Location"]
    assert wizard.endswith("/wizard/scan")
    claim_id = int(wizard.split("/")[2])
    claim_path = f"/claims/{claim_id}"
    # The owner of a draft is sent to the wizard from the claim page.
    assert browsers["applicant"].get(claim_path).headers["Location"].endswith("/wizard/scan")
    assert "Stap 1 van 4" in browsers["applicant"].get(wizard).text
    saved = post(
        "applicant",
        f"{claim_path}/scan",
        wizard_step="scan",
        adviser_name="CCV-adviseur De Vries",
        scan_date="2026-02-20",
        pkvw_status="certified",
        findings="Brievenbus in de voordeur; achterdeur zonder cilinderslot.",
    )
    assert saved.headers["Location"].endswith("/wizard/scan")
    # A mistake: the measures step again (422), the message at its field, the typing kept.
    bad = browsers["applicant"].post(
        f"{claim_path}/lines",
        data={
            "csrf_token": tokens["applicant"],
            "wizard_step": "measures",
            "catalogue_code": "cameras",
            "description": "Camera bij de achterdeur",
            "requested_amount": "veel",
            "vat_amount": "0",
        },
    )
    assert bad.status_code == 422
    assert 'id="requested_amount-error">Vul een bedrag in euro in' in bad.text
    assert 'value="Camera bij de achterdeur"' in bad.text and 'value="veel"' in bad.text
    post(
        "applicant",
        f"{claim_path}/lines",
        wizard_step="measures",
        catalogue_code="cameras",
        description="Camera's",
        requested_amount="1200,00",
        vat_amount="208,26",
    )
    review = browsers["applicant"].get(f"{claim_path}/wizard/review").text
    assert "Camera&#39;s" in review and "De aanvraag indienen" in review
    assert "CCV-adviseur De Vries" in review and "1.200,00" in review
    # No quote yet: the applicant chooses to submit anyway (see test_scan_and_wizard).
    post(
        "applicant",
        f"{claim_path}/events",
        event="submit",
        wizard_step="review",
        confirm_incomplete="1",
    )
    # Submitted: the wizard hands over to the claim page.
    assert browsers["applicant"].get(f"{claim_path}/wizard/review").status_code == 302

    page = browsers["assessor"].get(claim_path).text
    assert "De beoordeling starten" in page and "De aanvraag indienen" not in page
    post("assessor", f"{claim_path}/events", event="start_assessment")
    post("assessor", f"{claim_path}/events", event="request_advice")
    post(
        "assessor",
        f"{claim_path}/events",
        event="record_advice",
        reference="BZK-3",
        advice_date="2026-03-02",
        advised_measures="cameras",
    )
    line_id = session.scalars(select(MeasureLine.id).where(MeasureLine.claim_id == claim_id)).one()
    post(
        "assessor",
        f"{claim_path}/events",
        event="propose_decision",
        **{f"granted-{line_id}": "1200.00"},
        reason="Conform advies",
    )

    # The assessor cannot decide: the page offers it no decision, and a forged post is refused.
    assert "Volledig toekennen" not in browsers["assessor"].get(claim_path).text
    refused = browsers["assessor"].post(
        f"{claim_path}/events", data={"event": "grant", "csrf_token": tokens["assessor"]}
    )
    assert refused.status_code == 403  # a rule of who may decide, not a mistake of input
    assert "alert" in refused.text
    assert session.scalar(select(Claim.state).where(Claim.id == claim_id)) != "granted"
    post("decider", f"{claim_path}/events", event="grant", reason="Conform advies")
    state, decided_by = session.execute(
        select(Claim.state, Claim.decided_by_id).where(Claim.id == claim_id)
    ).one()
    assert (state, decided_by) == ("granted", world.decider.id)
    assert "Toegekend" in browsers["applicant"].get(claim_path).text


def test_an_unknown_event_in_the_form_is_a_bad_request(client, session):
    world = World(session)
    (claim,) = submitted(world, 1)
    csrf = login(client, world.assessor.email)
    response = client.post(
        f"/claims/{claim.id}/events", data={"event": "explode", "csrf_token": csrf}
    )
    assert response.status_code == 400


def test_the_decision_letter_is_downloaded_by_those_allowed_and_logged(app, session, document_root):
    world = World(session)
    world.documents = DocumentStore.from_config(app.config)
    claim = world.proposed()
    world.fire(world.decider, claim, "grant")
    world.letters()
    claim_id = claim.id
    letter = session.scalars(select(Document).where(Document.claim_id == claim_id)).one()
    path = f"/claims/{claim_id}/documents/{letter.id}"
    applicant, finance, colleague = app.test_client(), app.test_client(), app.test_client()
    login(applicant, world.applicant.email)
    with applicant.get(path) as response:
        assert response.status_code == 200
        assert response.data.startswith(b"%PDF")
        assert "attachment" in response.headers["Content-Disposition"]
    login(finance, UserFactory(organisation_id=world.org.id, roles={Role.FINANCE}).email)
    with finance.get(path) as response:
        assert response.status_code == 200
    login(colleague, UserFactory(organisation_id=world.org.id, roles={Role.APPLICANT}).email)
    assert colleague.get(path).status_code == 404  # not their claim
    assert applicant.get(f"/claims/{claim_id}/documents/999999").status_code == 404
    downloads = session.scalars(
        select(AccessLog).where(AccessLog.document_id == letter.id, AccessLog.action == "download")
    ).all()
    assert len(downloads) == 2


def test_the_security_advice_is_not_for_finance_nor_the_applicant(session):
    from housing.claims.documents import may_download
    from housing.claims.models import Confidentiality, DocumentKind

    advice = Document(
        kind=DocumentKind.SECURITY_ADVICE, confidentiality=Confidentiality.SECRET, uploaded_by_id=9
    )
    assert may_download(advice, user_id=1, roles={"assessor"}, own=False)
    assert not may_download(advice, user_id=1, roles={"finance"}, own=False)
    assert not may_download(advice, user_id=2, roles={"applicant"}, own=True)
    own_quote = Document(
        kind=DocumentKind.QUOTE, confidentiality=Confidentiality.INTERNAL, uploaded_by_id=2
    )
    assert may_download(own_quote, user_id=2, roles={"applicant"}, own=True)


def test_uploads_are_checked_and_kept_apart_by_confidentiality(app, session, document_root):
    import io

    world = World(session)
    (claim,) = submitted(world, 1)
    claim_id = claim.id
    applicant, assessor = app.test_client(), app.test_client()
    applicant_csrf = login(applicant, world.applicant.email)
    assessor_csrf = login(assessor, world.assessor.email)
    pdf = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

    def send(browser, csrf, kind, data, name="bestand.pdf"):
        response = browser.post(
            f"/claims/{claim_id}/documents",
            data={"kind": kind, "csrf_token": csrf, "file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )
        if response.status_code != 303:
            # Refused: the claim page again, with the message.
            assert response.status_code in (403, 422)
            return response.text
        return browser.get(response.headers["Location"]).text

    assert "Het document is toegevoegd." in send(
        applicant, applicant_csrf, "quote", pdf, "offerte.pdf"
    )
    refused = send(applicant, applicant_csrf, "quote", b"MZ\x90\x00evil", "x.pdf")
    assert 'id="file-error">Alleen PDF-, JPEG- of PNG-bestanden' in refused
    assert 'href="#file"' in refused and 'name="file"' in refused
    # The form is open again with the kind still chosen.
    assert '<option value="quote" selected>' in refused
    assert "U kunt dit soort document niet toevoegen." in send(
        applicant, applicant_csrf, "security_advice", pdf
    )
    send(assessor, assessor_csrf, "security_advice", pdf, "advies.pdf")

    rows = session.execute(
        select(Document.filename, Document.id, Document.confidentiality).where(
            Document.claim_id == claim_id
        )
    ).all()
    documents = {name: (ident, level) for name, ident, level in rows}
    assert set(documents) == {"offerte.pdf", "advies.pdf"}
    # Kept, encrypted, in the folder the app's settings name.
    stored = [path for path in document_root.rglob("*") if path.is_file()]
    assert len(stored) == 2 and pdf not in {path.read_bytes() for path in stored}
    advice_id, level = documents["advies.pdf"]
    assert level == "secret"
    assert applicant.get(f"/claims/{claim_id}/documents/{advice_id}").status_code == 403
    with applicant.get(f"/claims/{claim_id}/documents/{documents['offerte.pdf'][0]}") as own:
        assert own.status_code == 200 and own.data == pdf
    with assessor.get(f"/claims/{claim_id}/documents/{advice_id}") as advice:
        assert advice.status_code == 200


def test_an_assessor_extends_the_term_from_the_claim_page(app, client, session, document_root):
    world = World(session)
    world.clock.now = dt.datetime.now(dt.UTC)  # the page's clock is the real one
    (claim,) = submitted(world, 1)
    claim_id = claim.id
    csrf = login(client, world.assessor.email)
    assert "De beslistermijn verdagen" in client.get(f"/claims/{claim_id}").text
    bad = client.post(
        f"/claims/{claim_id}/extension",
        data={"new_deadline": "morgen", "reason": "Advies volgt nog", "csrf_token": csrf},
    )
    # Shown again, the message at the field and what was typed kept.
    assert bad.status_code == 422
    assert 'id="new_deadline-error">Vul een datum in als jjjj-mm-dd.' in bad.text
    assert 'href="#new_deadline"' in bad.text
    assert "Advies volgt nog</textarea>" in bad.text
    far = (claim.decision_deadline + dt.timedelta(weeks=4)).isoformat()
    done = client.post(
        f"/claims/{claim_id}/extension",
        data={"new_deadline": far, "reason": "Advies volgt", "csrf_token": csrf},
    )
    assert "De verdaging is verzonden." in client.get(done.headers["Location"]).text
    assert (
        session.scalars(select(Claim.decision_deadline).where(Claim.id == claim_id))
        .one()
        .isoformat()
        == far
    )


def test_the_applicant_is_told_what_is_expected_now(app, session):
    world = World(session)
    claim = world.draft()
    claim_id = claim.id
    browser = app.test_client()
    login(browser, world.applicant.email)
    assert (
        "dien daarna de aanvraag in"
        in browser.get(f"/claims/{claim_id}", follow_redirects=True).text
    )
    world.fire(world.applicant, claim, "submit")
    world.fire(world.assessor, claim, "start_assessment")
    world.fire(world.assessor, claim, "request_info", details={"question": "Stuur de offerte."})
    page = browser.get(f"/claims/{claim_id}").text
    assert "Stuur uiterlijk" in page and "Stuur de offerte." in page
    assessor = app.test_client()
    login(assessor, world.assessor.email)
    assert "Wat wij nu van u verwachten" not in assessor.get(f"/claims/{claim_id}").text


def test_the_decider_queue_lists_proposals_and_names_who_may_not_decide(
    app, client, session, count_queries
):
    world = World(session)
    proposed = world.proposed()
    by_both = world.draft()
    world.fire(world.applicant, by_both, "submit")
    world.fire(world.both, by_both, "start_assessment")
    world.fire(world.both, by_both, "request_advice")
    world.fire(
        world.both,
        by_both,
        "record_advice",
        details={"reference": "R", "advice_date": "2026-03-02", "advised_measures": ["cameras"]},
    )
    world.fire(
        world.both,
        by_both,
        "propose_decision",
        details={"granted": {line.id: "0.00" for line in by_both.lines}},
    )
    (still_open,) = submitted(world, 1)
    login(client, world.both.email)
    page = client.get("/claims/decisions").text
    assert proposed.number in page and by_both.number in page
    assert still_open.number not in page  # not proposed yet: the assessors' inbox
    assert "U hebt dit voorgesteld: een andere beslisser beslist." in page
    assert "€\xa01.600,00" in page  # the assessor proposed the full amounts of `proposed`

    def queries() -> int:
        # Each request starts from an empty session, as in production: no row already loaded.
        session.remove()
        with count_queries() as seen:
            assert client.get("/claims/decisions").status_code == 200
        return len(seen)

    few = queries()
    world.proposed()
    world.proposed()
    assert queries() == few

    assessor = app.test_client()
    login(assessor, world.assessor.email)
    assert assessor.get("/claims/decisions").status_code == 403


def test_the_claim_page_offers_the_events_the_api_allows_and_no_more(app, session):
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    # Assessed and proposed by a user who may also decide: never their own proposal.
    world.fire(world.both, claim, "start_assessment")
    world.fire(world.both, claim, "request_advice")
    advice = {
        "reference": "BZK-1",
        "advice_date": "2026-03-02",
        "advised_measures": ["cameras", "freestanding_letterbox"],
    }
    world.fire(world.both, claim, "record_advice", details=advice)
    granted = {line.id: line.requested_amount for line in claim.lines}
    world.fire(world.both, claim, "propose_decision", details={"granted": granted})

    def offered(user):
        client = app.test_client()
        login(client, user.email)
        page = client.get(f"/claims/{claim.id}").text
        return sorted(set(re.findall(r'id="action-([a-z_]+)"', page)) - {"extend"})

    def allowed(user):
        answer = app.test_client().get(f"/api/v1/claims/{claim.id}", headers=bearer(session, user))
        return answer.get_json()["allowed_events"]

    decisions = ["declare_not_considered", "grant", "grant_partially", "refuse", "send_back"]
    assert offered(world.decider) == allowed(world.decider) == decisions
    # Four eyes: who proposed it does not decide it, but may send it back.
    assert offered(world.both) == allowed(world.both) == ["send_back"]
    assert offered(world.applicant) == allowed(world.applicant) == []
