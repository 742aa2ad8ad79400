"""The pages around the walk, each as the role that uses it: no axe violation and no
page-wide horizontal scrolling at 375 px or at 200 % zoom (tables scroll in their own box)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from housing.clock import today as amsterdam_today
from housing.clock import utcnow
from housing.db import db
from housing.notifications.models import Notification, NotificationKind
from housing.outbox.models import OutboxMessage, OutboxStatus
from housing.roles import Role
from tests.browser.conftest import DESKTOP, look
from tests.builders.claims import remove_organisation
from tests.builders.payments import Finance, record
from tests.conftest import RUN_ID, factories_on
from tests.factories import UserFactory


def unread_notice(session: Session, user, claim) -> None:
    """A notice in the app for `user`, as the outbox worker leaves it (no worker here)."""
    message = OutboxMessage(
        key=f"browser:{uuid.uuid4().hex}",
        topic="notification",
        payload={},
        organisation_id=user.organisation_id,
        status=OutboxStatus.DONE,
        attempts=1,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    session.flush()
    session.add(
        Notification(
            organisation_id=user.organisation_id,
            user_id=user.id,
            claim_id=claim.id,
            kind=NotificationKind.CLAIM_RECEIVED,
            on_date=dt.date(2026, 3, 2),
            outbox_message_id=message.id,
        )
    )


@pytest.fixture
def paid(app: Flask) -> Iterator[Finance]:
    """Committed: a granted claim with payouts, a built batch, an admin and an auditor."""
    with app.app_context():
        engine = db.engine
    setup = Session(engine, expire_on_commit=False)
    with factories_on(setup):
        fin = Finance(setup, name=f"Gemeente Smalscherm {RUN_ID}")
        fin.admin = UserFactory(organisation=fin.world.org, roles={Role.ADMIN})
        fin.auditor = UserFactory(organisation=fin.world.org, roles={Role.AUDITOR})
        # More claims than fit a phone's width in the inbox.
        for _ in range(3):
            fin.world.fire(fin.world.applicant, fin.world.draft(), "submit")
        for number in ("F-1", "F-2"):
            fin.approve(record(fin, number=number, amount="150.00"), fin.f2)
        fin.batch = fin.batches.build(fin.scope(fin.f1), fin.f1, execution_date=amsterdam_today())
        fin.to_check = record(fin, number="F-3", amount="90.00")  # one left to check
        for _ in range(2):  # unread: the "New" badge and the count in the menu
            unread_notice(setup, fin.world.assessor, fin.claim)
        setup.commit()
    try:
        yield fin
    finally:
        setup.close()
        remove_organisation(engine, fin.world.org.id)


def test_the_pages_of_each_role_pass_axe_and_fit_a_phone(log_in, paid):
    world = paid.world
    pages = {
        ("assessor", world.assessor.email): [
            "/assessor",
            "/claims/inbox",
            f"/claims/{paid.claim.id}",
            "/print-queue",
            "/notifications",
            "/profile",
            "/dashboard",
        ],
        ("decider", world.decider.email): ["/decider", "/claims/decisions", "/dashboard"],
        ("applicant", world.applicant.email): [
            "/applicant",
            "/claims/mine",
            f"/claims/{paid.claim.id}",
        ],
        ("finance", paid.f1.email): [
            "/finance",
            "/finance/payouts",
            "/finance/batches",
            f"/finance/batches/{paid.batch.id}",
            f"/finance/batches/{paid.batch.id}/confirm/cancel",
            f"/finance/payouts/{paid.to_check.id}/confirm/reject",
            "/finance/budget",
            "/finance/statements",
            "/finance/review",
            "/dashboard",
        ],
        ("admin", paid.admin.email): [
            "/admin",
            "/admin/users",
            "/admin/users/new",
            "/admin/office-holders",
            "/admin/organisations",
            f"/admin/organisations/{world.org.id}",
            f"/admin/organisations/{world.org.id}/terms",
            "/admin/holidays",
            "/admin/budgets",
            "/admin/approval-limits",
            "/admin/catalogue",
            "/admin/outbox",
            "/audit/reviews",
            "/dashboard",
            "/dashboard?year=2026&regime=A",
        ],
        # After the assessor's pages: the access log has their reads to show.
        ("auditor", paid.auditor.email): [
            "/auditor",
            "/audit/trail",
            "/audit/access",
            "/audit/reviews",
            "/audit/reviews?list=privileged",
        ],
    }
    problems = []
    for (role, email), paths in pages.items():
        page = log_in(email)
        for path in paths:
            response = page.goto(path)
            assert response is not None and response.status == 200, path
            # Screenshots by role and page kind, not by id: the next run overwrites them.
            kind = "/".join(part for part in path.split("/") if not part.isdigit())
            kind = re.sub(r"[?&=]+", "-", kind.replace("?list=", "-"))
            problems += look(page, f"{role}{kind}").problems
    assert not problems, "\n".join(problems)


def test_finance_rejects_a_payout_after_confirming_and_a_mistake_keeps_the_page(log_in, paid):
    page = log_in(paid.f1.email)
    page.goto("/finance/payouts")
    row = page.locator("tr", has_text="F-3")
    # The list's button does not reject: it leads to the confirmation page.
    with page.expect_navigation():
        row.get_by_role("button", name="Afwijzen…").click()
    assert f"/finance/payouts/{paid.to_check.id}/confirm/reject" in page.url
    assert page.get_by_role("heading", level=1).inner_text() == "De uitbetaling afwijzen?"
    assert "niet ongedaan" in page.locator(".utrecht-alert").inner_text()
    assert look(page, "finance/payout-reject-confirm").problems == []

    # No reason: the same page, the summary links to the field, the field says why.
    with page.expect_navigation():
        page.get_by_role("button", name="De uitbetaling afwijzen", exact=True).click()
    assert page.locator("#form-errors").is_visible()
    assert page.locator("#reason").get_attribute("aria-invalid") == "true"
    assert "Geef de reden" in page.locator("#reason-error").inner_text()
    assert look(page, "finance/payout-reject-refused").problems == []

    page.fill("#reason", "Factuur dubbel ingediend")
    with page.expect_navigation():
        page.get_by_role("button", name="De uitbetaling afwijzen", exact=True).click()
    assert page.url.endswith("/finance/payouts")
    assert "Uitbetaling F-3: Afgewezen." in page.content()
    assert page.locator("tr", has_text="F-3").count() == 0


def test_the_auditor_filters_the_trail_and_a_mistake_is_shown_at_its_field(log_in, paid):
    page = log_in(paid.auditor.email)
    page.goto("/audit/trail")
    page.fill("#from", "2026-05-01")
    page.fill("#to", "2026-04-01")
    with page.expect_navigation():
        page.get_by_role("button", name="Tonen").click()
    assert "from=2026-05-01" in page.url and "to=2026-04-01" in page.url
    assert page.locator("#to").get_attribute("aria-invalid") == "true"
    assert "ligt voor de eerste" in page.locator("#to-error").inner_text()
    assert look(page, "auditor/audit-trail-refused").problems == []
    # Corrected: the events of the period, each with its hash and its predecessor's.
    page.fill("#from", "2000-01-01")
    page.fill("#to", "2100-12-31")
    page.select_option("#event", "submit")
    with page.expect_navigation():
        page.get_by_role("button", name="Tonen").click()
    rows = page.locator("tbody tr")
    assert rows.count() >= 3  # the fixture's three claims and the payment builder's
    events = page.locator("tbody code.utrecht-code:not(.vw-hash)").all_inner_texts()
    assert events == ["submit"] * rows.count()
    assert rows.first.locator("code.vw-hash").count() == 2
    assert look(page, "auditor/audit-trail-filtered").problems == []


def test_the_unread_count_in_the_menu_is_read_out_as_such(log_in, paid):
    page = log_in(paid.world.assessor.email)
    page.goto("/notifications")
    # The link's name says what the number is; the "New" badges are in the table.
    assert page.get_by_role("link", name="Meldingen, 2 ongelezen").is_visible()
    assert page.locator(".utrecht-status-badge--active").all_inner_texts() == ["Nieuw", "Nieuw"]
    assert look(page, "assessor/notifications-unread").problems == []


def test_the_login_page_and_its_refusal_pass_axe_and_fit_a_phone(browser, server):
    context = browser.new_context(base_url=server, viewport=DESKTOP, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto("/login")
        assert look(page, "anonymous/login").problems == []
        page.fill("#email", "niemand@test.example")
        page.fill("#password", "fout-wachtwoord")
        with page.expect_navigation():
            page.get_by_role("button", name="Inloggen").click()
        assert page.locator("#form-errors").is_visible()
        assert look(page, "anonymous/login-refused").problems == []
    finally:
        context.close()


def test_a_wide_table_scrolls_in_its_own_region_on_a_phone(log_in, paid):
    page = log_in(paid.f1.email)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/finance/budget")
    region = page.get_by_role("region", name="Budgetten van")
    # The table is wider than the phone: its region scrolls, the page does not.
    assert region.evaluate("e => e.scrollWidth > e.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert region.get_attribute("tabindex") == "0"
    # A keyboard user scrolls it: focus the region, then the arrow keys (scrolling is smooth).
    region.focus()
    page.keyboard.press("ArrowRight")
    scrolled = page.wait_for_function(
        "() => document.querySelector('[aria-labelledby=budget-caption]').scrollLeft",
        timeout=3000,
    )
    assert scrolled.json_value() > 0
