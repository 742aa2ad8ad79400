"""The second factor in Chromium: a newcomer sets up the app at the first login, and a
decider whose login is old confirms a decision with the code, the browser repeating the
decision's POST (a 307) with the reasons typed."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from playwright.sync_api import Browser, Page
from sqlalchemy import select
from sqlalchemy.orm import Session

from housing.claims.models import Decision
from housing.db import db
from housing.roles import Role
from tests.browser.conftest import DESKTOP, look, press
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.second_factor import code_for, unused_code

REASON = "Conform advies; de camera's dekken de achterdeur & de oprit"


def with_newcomer_and_proposal(world) -> None:
    world.newcomer = UserFactory(organisation=world.org, roles={Role.ASSESSOR}, second_factor=False)
    world.claim = world.proposed()


def age_session(app: Flask, page: Page, by: dt.timedelta) -> None:
    """Move the authentication time in the browser's session cookie back by `by`."""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    name = app.config["SESSION_COOKIE_NAME"]
    (cookie,) = [c for c in page.context.cookies() if c["name"] == name]
    data = serializer.loads(cookie["value"])
    data["authentication"]["at"] -= int(by.total_seconds())
    page.context.add_cookies([{**cookie, "value": serializer.dumps(data)}])


def test_a_newcomer_sets_up_the_app_at_the_first_login(browser: Browser, server, committed_worlds):
    world = committed_worlds("Gemeente Nieuwkomer", extra=with_newcomer_and_proposal)
    context = browser.new_context(base_url=server, viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto("/login")
        page.fill("#email", world.newcomer.email)
        page.fill("#password", PASSWORD)
        press(page, "Inloggen")
        assert page.url.endswith("/login/enrol")
        qr = page.locator("img.vw-qr")
        assert qr.get_attribute("src").startswith("data:image/svg+xml")
        assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # drawn, not blocked
        assert look(page, "factor/01-enrol").problems == []
        secret = page.locator("#factor-secret").inner_text().replace(" ", "")

        page.fill("#code", "000000")
        press(page, "Bevestigen en inloggen")
        assert page.locator("#code").get_attribute("aria-invalid") == "true"
        assert look(page, "factor/02-enrol-wrong-code").problems == []

        page.fill("#code", code_for(secret))
        press(page, "Bevestigen en inloggen")
        assert page.locator(".vw-recovery-codes li").count() == 10
        assert look(page, "factor/03-recovery-codes").problems == []
        with page.expect_navigation():
            page.get_by_role("link", name="Ik heb ze bewaard: verder").click()
        assert page.url.endswith("/assessor")
    finally:
        context.close()


def test_an_old_login_confirms_a_decision_with_the_code(app, log_in, committed_worlds):
    world = committed_worlds("Gemeente Opstap", extra=with_newcomer_and_proposal)
    decider = log_in(world.decider.email)
    claim_path = f"/claims/{world.claim.id}"
    age_session(app, decider, dt.timedelta(minutes=16))
    decider.goto(claim_path)
    decider.locator("#reason-grant").fill(REASON)
    press(decider, "Volledig toekennen")
    assert "Bevestig met uw code" in decider.content()
    assert look(decider, "factor/04-step-up").problems == []

    with app.app_context():
        engine = db.engine
    with Session(engine) as reading:
        decider.fill("#step_up_code", unused_code(reading, world.decider.email, commit=True))
    press(decider, "Bevestigen")
    assert decider.url.endswith(claim_path)
    assert "Toegekend" in decider.locator(".vw-facts").first.inner_text()
    with Session(engine) as reading:
        reasons = reading.scalars(
            select(Decision.reasons).where(Decision.claim_id == world.claim.id)
        ).all()
    assert reasons == [REASON]
