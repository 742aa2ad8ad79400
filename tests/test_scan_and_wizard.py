"""The woningscan and the applicant's claim wizard."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text

from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail
from housing.claims.drafting import ScanInput
from housing.claims.models import PkvwStatus, WoningScan
from housing.errors import Conflict, Forbidden, InvalidInput
from housing.roles import Role
from tests.builders.claims import World
from tests.conftest import login
from tests.factories import HomeFactory, OfficeHolderFactory, UserFactory

FINDINGS = "Brievenbus in de voordeur; achterdeur zonder cilinderslot."


def scan(**changes):
    values = {
        "adviser_name": "CCV-adviseur De Vries",
        "scan_date": "2026-02-20",
        "pkvw_status": "certified",
        "findings": FINDINGS,
    }
    return ScanInput(**{**values, **changes})


@pytest.fixture
def world(session):
    return World(session)


def test_the_applicant_records_the_scan_in_the_draft_encrypted_at_rest(world, session):
    claim = world.draft()
    recorded = world.drafting.record_scan(
        world.scope(world.applicant), world.applicant, claim.id, scan()
    )
    session.commit()
    assert recorded.pkvw_status is PkvwStatus.CERTIFIED
    assert recorded.scan_date == dt.date(2026, 2, 20)
    raw = session.execute(text("SELECT findings FROM woning_scan")).scalar_one()
    assert "Brievenbus" not in raw and session.get(WoningScan, recorded.id).findings == FINDINGS
    # A correction replaces the scan; there is one per claim.
    world.drafting.record_scan(
        world.scope(world.applicant), world.applicant, claim.id, scan(pkvw_status="unknown")
    )
    session.commit()
    assert session.scalar(select(func.count()).select_from(WoningScan)) == 1
    events = session.scalars(select(AuditEvent.event).where(AuditEvent.claim_id == claim.id))
    assert list(events).count("record_scan") == 2
    assert AuditTrail(session).verify(world.org.id).intact


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"adviser_name": "  "}, "adviser_name"),
        ({"adviser_name": "x" * 201}, "adviser_name"),
        ({"scan_date": "20-02-26"}, "scan_date"),  # which century?
        ({"scan_date": "2026-03-03"}, "scan_date"),  # tomorrow
        ({"pkvw_status": "gold"}, "pkvw_status"),
        ({"findings": ""}, "findings"),
        ({"findings": "x" * 10_001}, "findings"),
    ],
)
def test_bad_scan_input_is_refused_and_writes_nothing(world, session, changes, field):
    claim = world.draft()
    with pytest.raises(InvalidInput) as refused:
        world.drafting.record_scan(
            world.scope(world.applicant), world.applicant, claim.id, scan(**changes)
        )
    session.rollback()
    assert field in refused.value.field_errors
    assert session.scalar(select(func.count()).select_from(WoningScan)) == 0


def test_after_submission_the_assessor_records_the_scan_not_the_applicant(world, session):
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    with pytest.raises(Conflict):
        world.drafting.record_scan(world.scope(world.applicant), world.applicant, claim.id, scan())
    session.rollback()
    finance = UserFactory(organisation=world.org, roles={Role.FINANCE})
    with pytest.raises(Forbidden):
        world.drafting.record_scan(world.scope(finance), finance, claim.id, scan())
    session.rollback()
    world.drafting.record_scan(world.scope(world.assessor), world.assessor, claim.id, scan())
    session.commit()
    assert claim.scan.adviser_name == "CCV-adviseur De Vries"


def test_the_scan_is_shown_to_case_handlers_not_to_finance(app, world, session):
    claim = world.draft()
    world.drafting.record_scan(world.scope(world.applicant), world.applicant, claim.id, scan())
    world.fire(world.applicant, claim, "submit")
    finance = UserFactory(organisation=world.org, roles={Role.FINANCE})
    for user, sees in ((world.assessor, True), (world.decider, True), (finance, False)):
        browser = app.test_client()
        login(browser, user.email)
        page = browser.get(f"/claims/{claim.id}").text
        assert ("achterdeur zonder cilinderslot" in page) is sees, user.roles
        # Only the assessor may correct the scan once the claim is submitted.
        assert ("De uitkomsten opslaan" in page) is (user is world.assessor)


def test_the_wizard_walks_the_steps_and_the_review_shows_what_is_missing(app, world, session):
    claim = world.draft(lines=())
    browser = app.test_client()
    login(browser, world.applicant.email)
    for number, step in enumerate(("scan", "measures", "documents", "review"), start=1):
        page = browser.get(f"/claims/{claim.id}/wizard/{step}")
        assert page.status_code == 200 and f"Stap {number} van 4" in page.text
    review = browser.get(f"/claims/{claim.id}/wizard/review").text
    assert "Ontbreekt: Er is ten minste één maatregel aangevraagd." in review
    assert "Nog niet: Er is een offerte voor de maatregelen toegevoegd." in review
    assert browser.get(f"/claims/{claim.id}/wizard/elsewhere").status_code == 404


def test_nobody_else_opens_an_applicants_wizard(app, world, session):
    claim = world.draft()
    holder = OfficeHolderFactory(organisation=world.org)
    other = UserFactory(organisation=world.org, roles={Role.APPLICANT})
    holder.user = other
    HomeFactory(office_holder=holder)
    session.commit()
    browser = app.test_client()
    csrf = login(browser, other.email)
    assert browser.get(f"/claims/{claim.id}/wizard/scan").status_code == 404
    refused = browser.post(
        f"/claims/{claim.id}/scan",
        data={"csrf_token": csrf, "adviser_name": "X", "scan_date": "2026-02-20",
              "pkvw_status": "certified", "findings": "x"},
    )  # fmt: skip
    assert refused.status_code == 404
    assessor = app.test_client()
    login(assessor, world.assessor.email)
    assert assessor.get(f"/claims/{claim.id}/wizard/scan").status_code == 403


def test_the_scan_through_the_api(client, world, session):
    from tests.builders.api import bearer

    claim = world.draft()
    headers = bearer(session, world.applicant)
    body = {"adviser_name": "CCV", "scan_date": "2026-02-20", "pkvw_status": "not_certified",
            "findings": FINDINGS}  # fmt: skip
    saved = client.put(f"/api/v1/claims/{claim.id}/scan", json=body, headers=headers)
    assert saved.status_code == 200, saved.text
    assert saved.json == {"adviser_name": "CCV", "scan_date": "2026-02-20",
                          "pkvw_status": "not_certified"}  # fmt: skip
    bad = client.put(
        f"/api/v1/claims/{claim.id}/scan", json={**body, "pkvw_status": "gold"}, headers=headers
    )
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"


def steps_of(page: str) -> dict[str, str]:
    """Each wizard step's title with its state class (done, current or todo)."""
    import re

    found = re.findall(
        r'vw-wizard-step--(\w+)">\s*(?:<span aria-current="step"><strong>|<a [^>]*>)([^<]+)<', page
    )
    return {title: state for state, title in found}


def test_the_step_indicator_shows_done_current_and_to_do(app, world, session):
    claim = world.draft()  # two measures, no scan, no quote
    browser = app.test_client()
    login(browser, world.applicant.email)
    page = browser.get(f"/claims/{claim.id}/wizard/documents").text
    assert steps_of(page) == {
        "Uitkomsten woningscan": "todo",
        "Maatregelen en bedragen": "done",
        "Offertes en documenten": "current",
        "Controleren en indienen": "todo",
    }, page
    assert page.count('aria-current="step"') == 1
    # Each state is said in words too, not by colour alone.
    assert "(huidige stap)" in page and "(klaar)" in page and "(nog te doen)" in page
    # The quote step's upload is a quote unless the applicant chooses otherwise.
    assert '<option value="quote" selected>' in page
    review = browser.get(f"/claims/{claim.id}/wizard/review").text
    for step in ("scan", "measures", "documents"):
        assert f'href="/claims/{claim.id}/wizard/{step}">Wijzigen<' in review


def test_save_and_continue_saves_the_scan_and_goes_to_the_next_step(app, world, session):
    claim = world.draft()
    browser = app.test_client()
    csrf = login(browser, world.applicant.email)
    page = browser.get(f"/claims/{claim.id}/wizard/scan").text
    assert 'name="next" value="1"' in page and "Opslaan en verder" in page
    assert "data-unsaved-guard" in page and "js/unsaved.js" in page
    form = {
        "csrf_token": csrf,
        "wizard_step": "scan",
        "adviser_name": "CCV-adviseur",
        "scan_date": "2026-02-20",
        "pkvw_status": "certified",
        "findings": FINDINGS,
    }
    refused = browser.post(f"/claims/{claim.id}/scan", data={**form, "findings": "", "next": "1"})
    assert refused.status_code == 422 and 'value="CCV-adviseur"' in refused.text
    saved = browser.post(f"/claims/{claim.id}/scan", data={**form, "next": "1"})
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith(f"/claims/{claim.id}/wizard/measures")
    assert session.scalar(select(func.count()).select_from(WoningScan)) == 1
    page = browser.get(saved.headers["Location"]).text
    assert steps_of(page)["Uitkomsten woningscan"] == "done"


def test_starting_a_claim_for_a_home_with_a_draft_continues_that_draft(app, world, session):
    from housing.claims.models import Claim

    claim = world.draft()
    browser = app.test_client()
    csrf = login(browser, world.applicant.email)
    again = browser.post("/claims/new", data={"csrf_token": csrf, "home_id": world.home.id})
    assert again.status_code == 303
    assert again.headers["Location"].endswith(f"/claims/{claim.id}/wizard/scan")
    assert session.scalar(select(func.count()).select_from(Claim)) == 1
    page = browser.get(again.headers["Location"]).text
    assert f"U hebt voor deze woning al een conceptaanvraag ({claim.number})" in page


def test_the_applicant_deletes_a_draft_after_a_confirmation_page(app, world, session):
    from housing.claims.models import Claim
    from workflows.claim import ClaimState

    claim = world.draft()
    browser = app.test_client()
    csrf = login(browser, world.applicant.email)
    assert f"/claims/{claim.id}/discard" in browser.get("/claims/mine").text
    assert f"/claims/{claim.id}/discard" in browser.get(f"/claims/{claim.id}/wizard/review").text
    # The confirmation page: a plain form, no JavaScript; nothing happens on opening it.
    asked = browser.get(f"/claims/{claim.id}/discard")
    assert asked.status_code == 200 and "Ja, het concept verwijderen" in asked.text
    assert 'method="post"' in asked.text and "once_token" in asked.text
    session.expire_all()
    assert session.get(Claim, claim.id).state is ClaimState.DRAFT
    # Someone else's draft is not found.
    other = UserFactory(organisation=world.org, roles={Role.APPLICANT})
    session.commit()
    stranger = app.test_client()
    stranger_csrf = login(stranger, other.email)
    assert stranger.get(f"/claims/{claim.id}/discard").status_code == 404
    assert (
        stranger.post(f"/claims/{claim.id}/discard", data={"csrf_token": stranger_csrf}).status_code
        == 404
    )
    deleted = browser.post(f"/claims/{claim.id}/discard", data={"csrf_token": csrf})
    assert deleted.status_code == 303 and deleted.headers["Location"].endswith("/claims/mine")
    assert f"De conceptaanvraag {claim.number} is verwijderd." in browser.get("/claims/mine").text
    # Withdrawn, not removed: the number and the audit chain stay whole.
    session.expire_all()
    assert session.get(Claim, claim.id).state is ClaimState.WITHDRAWN
    events = list(session.scalars(select(AuditEvent.event).where(AuditEvent.claim_id == claim.id)))
    assert events[0] == "create" and "withdraw" in events
    assert AuditTrail(session).verify(world.org.id).intact
    # A new claim for the home can be started now.
    started = browser.post("/claims/new", data={"csrf_token": csrf, "home_id": world.home.id})
    assert not started.headers["Location"].endswith(f"/claims/{claim.id}/wizard/scan")
    assert browser.get(f"/claims/{claim.id}/discard").status_code == 302


def test_submitting_with_the_checklist_incomplete_says_what_is_missing(app, world, session):
    from housing.claims.models import Claim
    from workflows.claim import ClaimState

    claim = world.draft()  # measures, but no quote and no scan
    browser = app.test_client()
    csrf = login(browser, world.applicant.email)
    review = browser.get(f"/claims/{claim.id}/wizard/review").text
    assert 'name="confirm_incomplete"' in review and "Nog niet aanwezig:" in review
    form = {"csrf_token": csrf, "event": "submit", "wizard_step": "review"}
    refused = browser.post(f"/claims/{claim.id}/events", data=form)
    assert refused.status_code == 422
    assert "Nog niet alles is er: Er is een offerte voor de maatregelen toegevoegd." in refused.text
    assert 'id="confirm_incomplete-error"' in refused.text
    assert 'aria-describedby="confirm_incomplete-error"' in refused.text
    session.expire_all()
    assert session.get(Claim, claim.id).state is ClaimState.DRAFT
    # The applicant chooses: submit anyway.
    sent = browser.post(f"/claims/{claim.id}/events", data={**form, "confirm_incomplete": "1"})
    assert sent.status_code == 303
    session.expire_all()
    assert session.get(Claim, claim.id).state is ClaimState.SUBMITTED


def test_after_submitting_a_confirmation_page_with_the_deadline_and_a_receipt(app, world, session):
    from flask_babel import format_date

    from housing.claims.models import Claim
    from tests.builders.letters import pdf_text

    claim = world.draft()
    browser = app.test_client()
    csrf = login(browser, world.applicant.email)
    # Before submitting there is nothing to confirm: back to the review, no receipt.
    assert browser.get(f"/claims/{claim.id}/submitted").headers["Location"].endswith("/review")
    assert browser.get(f"/claims/{claim.id}/receipt.pdf").status_code == 404
    form = {"csrf_token": csrf, "event": "submit", "wizard_step": "review"}
    sent = browser.post(f"/claims/{claim.id}/events", data={**form, "confirm_incomplete": "1"})
    assert sent.headers["Location"].endswith(f"/claims/{claim.id}/submitted")
    session.expire_all()
    submitted = session.get(Claim, claim.id)
    assert submitted.decision_deadline is not None
    with app.test_request_context():
        deadline = format_date(submitted.decision_deadline, "long")
    page = browser.get(sent.headers["Location"]).text
    assert f"Aanvraag {claim.number} ingediend" in page
    assert f"<dt>Besluit uiterlijk op</dt><dd>{deadline}</dd>" in page
    assert f'href="/claims/{claim.id}/receipt.pdf"' in page
    pdf = browser.get(f"/claims/{claim.id}/receipt.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert f"ontvangstbevestiging-{claim.number}.pdf" in pdf.headers["Content-Disposition"]
    text = pdf_text(pdf.data)
    assert "Ontvangstbevestiging" in text and claim.number in text and deadline in text
    # Seeing the claim's details there is logged as seeing its page.
    from housing.audit.models import AccessLog

    views = session.scalar(
        select(func.count()).select_from(AccessLog).where(AccessLog.claim_id == claim.id)
    )
    assert views == 2  # the confirmation page and the receipt
    # The receipt is the applicant's: another applicant of the organisation gets nothing.
    other = UserFactory(organisation=world.org, roles={Role.APPLICANT})
    session.commit()
    stranger = app.test_client()
    login(stranger, other.email)
    assert stranger.get(f"/claims/{claim.id}/receipt.pdf").status_code == 404
    assert stranger.get(f"/claims/{claim.id}/submitted").status_code == 404
