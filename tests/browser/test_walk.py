"""One claim through the browser, from the applicant's wizard to finance: each person in a
browser of their own, each page checked (axe, 375 px, 200 % zoom) and photographed.

Withdrawing is not walked here: the app has no confirmation step for it yet.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from playwright.sync_api import Page

from housing.payments.models import ApprovalLimit
from housing.roles import Role
from tests.browser.conftest import look
from tests.builders.payments import SUPPLIER_IBAN
from tests.factories import UserFactory

QUOTE = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def with_finance(world) -> None:
    world.finance = UserFactory(organisation=world.org, roles={Role.FINANCE})
    world.session.add(
        ApprovalLimit(
            user_id=world.finance.id, organisation_id=world.org.id, amount=Decimal("5000.00")
        )
    )


def press(page: Page, name: str) -> None:
    """Press the button (or follow the link) called `name` and wait for the next page."""
    with page.expect_navigation():
        page.get_by_role("button", name=name, exact=True).click()


def test_a_claim_from_the_applicants_wizard_to_finance(log_in, committed_worlds):
    world = committed_worlds("Gemeente Wandeling", extra=with_finance)
    seen = []  # problems of every page looked at, asserted after each look
    today = dt.date.today()

    # --- the applicant starts a claim and goes through the wizard --------------------------
    applicant = log_in(world.applicant.email)
    applicant.goto("/claims/mine")
    seen += look(applicant, "walk/01-applicant-my-claims").problems
    assert seen == []
    press(
        applicant,
        f"Een aanvraag beginnen voor {world.home.street} {world.home.house_number}, "
        f"{world.home.city}",
    )
    started = re.search(r"(/claims/\d+)/wizard/scan$", applicant.url)
    assert started, applicant.url
    claim_path = started.group(1)
    assert "Stap 1 van 4" in applicant.content()
    applicant.fill("#adviser_name", "CCV-adviseur De Vries")
    applicant.fill("#scan_date", (today - dt.timedelta(days=10)).isoformat())
    applicant.select_option("#pkvw_status", "certified")
    applicant.fill("#findings", "Brievenbus in de voordeur; achterdeur zonder cilinderslot.")
    press(applicant, "De uitkomsten opslaan")
    assert "De uitkomsten van de woningscan zijn opgeslagen." in applicant.content()
    seen += look(applicant, "walk/02-wizard-scan").problems
    assert seen == []

    applicant.goto(f"{claim_path}/wizard/measures")
    # A mistake on purpose: the message is shown at the amount field, tied to it.
    applicant.select_option("#catalogue_code", "cameras")
    applicant.fill("#description", "Camera's bij voor- en achterdeur")
    applicant.fill("#requested_amount", "12,3,4")
    applicant.fill("#vat_amount", "0")
    press(applicant, "De maatregel toevoegen")
    amount = applicant.locator("#requested_amount")
    assert amount.get_attribute("aria-invalid") == "true"
    error = applicant.locator("#requested_amount-error")
    assert "bedrag" in error.inner_text()
    assert amount.get_attribute("aria-describedby") == "requested_amount-error"
    seen += look(applicant, "walk/03-wizard-measures-refused").problems
    assert seen == []
    # Typed the Dutch way, with a thousands separator.
    applicant.select_option("#catalogue_code", "cameras")
    applicant.fill("#description", "Camera's bij voor- en achterdeur")
    applicant.fill("#requested_amount", "1.850,00")
    applicant.fill("#vat_amount", "321,07")
    press(applicant, "De maatregel toevoegen")
    assert applicant.locator("#requested_amount-error").count() == 0
    assert "€\xa01.850,00" in applicant.locator("#lines-caption").inner_text()
    seen += look(applicant, "walk/04-wizard-measures").problems
    assert seen == []

    applicant.goto(f"{claim_path}/wizard/documents")
    applicant.select_option("#kind", "quote")
    applicant.set_input_files(
        "#file", files=[{"name": "offerte.pdf", "mimeType": "application/pdf", "buffer": QUOTE}]
    )
    press(applicant, "Het document toevoegen")
    assert applicant.get_by_role("link", name="offerte.pdf").is_visible()
    seen += look(applicant, "walk/05-wizard-documents").problems
    assert seen == []

    applicant.goto(f"{claim_path}/wizard/review")
    seen += look(applicant, "walk/06-wizard-review").problems
    assert seen == []
    press(applicant, "De aanvraag indienen")
    assert applicant.url.endswith(claim_path)
    assert "Ingediend" in applicant.locator(".vw-facts").first.inner_text()

    # --- the assessor takes it and asks for information -----------------------------------
    assessor = log_in(world.assessor.email)
    assessor.goto("/claims/inbox")
    seen += look(assessor, "walk/07-assessor-inbox").problems
    assert seen == []
    assessor.goto(claim_path)
    press(assessor, "De beoordeling starten")
    # The information request. (When the claim page gets a thread of questions and
    # answers, this is the step to extend: the question and the answer are shown there.)
    assessor.fill("#question", "Stuur een foto van de achterdeur.")
    press(assessor, "Om informatie vragen")
    seen += look(assessor, "walk/08-assessor-asked").problems
    assert seen == []

    applicant.goto(claim_path)
    assert "Stuur een foto van de achterdeur." in applicant.content()
    applicant.fill("#answer", "De foto staat bij de documenten.")
    seen += look(applicant, "walk/09-applicant-answers").problems
    assert seen == []
    press(applicant, "De informatie versturen")
    assert "Gedaan: De informatie versturen." in applicant.content()

    # --- advice, proposal, decision --------------------------------------------------------
    assessor.goto(claim_path)
    press(assessor, "Het beveiligingsadvies opvragen")
    assessor.fill("#reference", "BZK-2026-41")
    assessor.fill("#advice_date", today.isoformat())
    press(assessor, "Het beveiligingsadvies vastleggen")
    seen += look(assessor, "walk/10-assessor-advice-recorded").problems
    assert seen == []
    # The proposal form offers the requested amount, in the Dutch way.
    granted = assessor.locator("input[id^=granted-]")
    assert granted.input_value() == "1.850,00"
    assessor.locator("#reason-propose_decision").fill("Conform advies")
    press(assessor, "Een besluit voorstellen")

    decider = log_in(world.decider.email)
    decider.goto("/claims/decisions")
    seen += look(decider, "walk/11-decider-queue").problems
    assert seen == []
    decider.goto(claim_path)
    decider.locator("#reason-grant").fill("Conform advies")
    seen += look(decider, "walk/12-decider-claim").problems
    assert seen == []
    press(decider, "Volledig toekennen")
    assert "Toegekend" in decider.locator(".vw-facts").first.inner_text()

    # --- the supplier's invoice, and finance sees it to check -----------------------------
    assessor.goto(claim_path)
    with assessor.expect_navigation():
        assessor.get_by_role("link", name="Een leveranciersfactuur vastleggen").click()
    assessor.fill("#payee_name", "Slot & Grendel B.V.")
    assessor.fill("#payee_iban", SUPPLIER_IBAN)
    assessor.fill("#amount", "1.850,00")
    assessor.fill("#vat_amount", "321,07")
    assessor.fill("#invoice_number", "F-2026-118")
    assessor.fill("#invoice_date", today.isoformat())
    seen += look(assessor, "walk/13-assessor-invoice").problems
    assert seen == []
    press(assessor, "De factuur vastleggen")
    assert "De factuur is vastgelegd; financiën controleert haar." in assessor.content()

    finance = log_in(world.finance.email)
    finance.goto("/finance/payouts")
    row = finance.locator("tr", has_text="F-2026-118")
    assert row.count() == 1
    assert "1.850,00" in row.inner_text()
    seen += look(finance, "walk/14-finance-payouts").problems
    assert seen == []
