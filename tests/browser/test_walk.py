"""One claim through the browser, from the applicant's wizard to finance: each person in a
browser of their own, each page checked (axe, 375 px, 200 % zoom) and photographed.

Withdrawing is walked in a test of its own, from a submitted claim the builders make.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from housing.clock import today as amsterdam_today
from housing.payments.models import ApprovalLimit
from housing.roles import Role
from tests.browser.conftest import look, press
from tests.builders.payments import SUPPLIER_IBAN
from tests.factories import ClaimFactory, UserFactory

QUOTE = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def with_finance(world) -> None:
    world.finance = UserFactory(organisation=world.org, roles={Role.FINANCE})
    world.session.add(
        ApprovalLimit(
            user_id=world.finance.id, organisation_id=world.org.id, amount=Decimal("5000.00")
        )
    )


def test_a_claim_from_the_applicants_wizard_to_finance(log_in, committed_worlds):
    world = committed_worlds("Gemeente Wandeling", extra=with_finance)
    today = amsterdam_today()

    # --- the applicant starts a claim and goes through the wizard --------------------------
    applicant = log_in(world.applicant.email)
    assert look(applicant, "walk/01-applicant-start").problems == []
    applicant.goto("/claims/mine")
    assert look(applicant, "walk/02-applicant-my-claims").problems == []
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
    # "Opslaan en verder": saved, and on to the measures step.
    press(applicant, "Opslaan en verder")
    assert applicant.url.endswith(f"{claim_path}/wizard/measures")
    assert "De uitkomsten van de woningscan zijn opgeslagen." in applicant.content()
    assert (
        applicant.locator(".vw-wizard-step--done")
        .all_inner_texts()[0]
        .startswith("Uitkomsten woningscan")
    )
    assert look(applicant, "walk/03-wizard-scan-saved").problems == []

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
    # Nothing typed is lost: the step is shown again with every field as it was.
    assert applicant.input_value("#description") == "Camera's bij voor- en achterdeur"
    assert applicant.input_value("#requested_amount") == "12,3,4"
    assert look(applicant, "walk/04-wizard-measures-refused").problems == []
    # Typed the Dutch way, with a thousands separator.
    applicant.select_option("#catalogue_code", "cameras")
    applicant.fill("#description", "Camera's bij voor- en achterdeur")
    applicant.fill("#requested_amount", "1.850,00")
    applicant.fill("#vat_amount", "321,07")
    press(applicant, "De maatregel toevoegen")
    assert applicant.locator("#requested_amount-error").count() == 0
    assert "€\xa01.850,00" in applicant.locator("#lines-caption").inner_text()
    assert look(applicant, "walk/05-wizard-measures").problems == []

    applicant.goto(f"{claim_path}/wizard/documents")
    # The quote step adds a quote unless another kind is chosen.
    assert applicant.locator("#kind").input_value() == "quote"
    applicant.set_input_files(
        "#file", files=[{"name": "offerte.pdf", "mimeType": "application/pdf", "buffer": QUOTE}]
    )
    press(applicant, "Het document toevoegen")
    assert applicant.get_by_role("link", name="offerte.pdf").is_visible()
    assert look(applicant, "walk/06-wizard-documents").problems == []

    applicant.goto(f"{claim_path}/wizard/review")
    assert look(applicant, "walk/07-wizard-review").problems == []
    press(applicant, "De aanvraag indienen")
    # The confirmation: the number, the decision deadline, the receipt to download.
    assert applicant.url.endswith(f"{claim_path}/submitted")
    assert applicant.get_by_role(
        "link", name="De ontvangstbevestiging downloaden (pdf)"
    ).is_visible()
    assert look(applicant, "walk/08-applicant-claim-submitted").problems == []
    applicant.goto(claim_path)
    assert "Ingediend" in applicant.locator(".vw-facts").first.inner_text()

    # --- the assessor takes it and asks for information -----------------------------------
    assessor = log_in(world.assessor.email)
    assessor.goto("/claims/inbox")
    assert look(assessor, "walk/09-assessor-inbox").problems == []
    assessor.goto(claim_path)
    press(assessor, "De beoordeling starten")
    assert look(assessor, "walk/10-assessor-claim-in-assessment").problems == []
    # The information request: a thread of questions and answers on the claim page. The
    # next step leads (asking for the advice); asking for information is among the others.
    assert assessor.locator(".vw-next-step").get_by_role("button").inner_text() == (
        "Het beveiligingsadvies opvragen"
    )
    assessor.locator("summary", has_text="Andere acties").click()
    assessor.fill("#question", "Stuur een foto van de achterdeur.")
    press(assessor, "Om informatie vragen")
    assert look(assessor, "walk/11-assessor-asked").problems == []

    applicant.goto(claim_path)
    assert "Stuur een foto van de achterdeur." in applicant.content()
    assert "Motivering" not in applicant.locator("form:has(#answer)").inner_text()
    # A mistake on purpose: an empty answer is refused at its field.
    press(applicant, "Antwoord versturen")
    assert "Schrijf uw antwoord op de vraag." in applicant.locator("#answer-error").inner_text()
    assert applicant.locator("#answer").get_attribute("aria-invalid") == "true"
    applicant.fill("#answer", "De foto van de achterdeur zit erbij.")
    applicant.set_input_files(
        "#files", files=[{"name": "achterdeur.pdf", "mimeType": "application/pdf", "buffer": QUOTE}]
    )
    assert look(applicant, "walk/12-applicant-answers").problems == []
    press(applicant, "Antwoord versturen")
    assert look(applicant, "walk/13-applicant-info-sent").problems == []

    # The assessor reads the answer and its file in the thread.
    assessor.goto(claim_path)
    assert "De foto van de achterdeur zit erbij." in assessor.content()
    assert assessor.get_by_role("link", name="achterdeur.pdf").first.is_visible()
    assert look(assessor, "walk/13b-assessor-reads-the-answer").problems == []

    # --- advice, proposal, decision --------------------------------------------------------
    assessor.goto(claim_path)
    press(assessor, "Het beveiligingsadvies opvragen")
    assert look(assessor, "walk/14-assessor-advice-asked").problems == []
    assessor.fill("#reference", "BZK-2026-41")
    assessor.fill("#advice_date", today.isoformat())
    press(assessor, "Het beveiligingsadvies vastleggen")
    assert look(assessor, "walk/15-assessor-advice-recorded").problems == []
    # The proposal form offers the requested amount, in the Dutch way.
    granted = assessor.locator("input[id^=granted-]")
    assert granted.input_value() == "1.850,00"
    assessor.locator("#reason-propose_decision").fill("Conform advies")
    press(assessor, "Een besluit voorstellen")
    assert look(assessor, "walk/16-assessor-proposed").problems == []

    decider = log_in(world.decider.email)
    decider.goto("/claims/decisions")
    assert look(decider, "walk/17-decider-queue").problems == []
    decider.goto(claim_path)
    decider.locator("#reason-grant").fill("Conform advies")
    assert look(decider, "walk/18-decider-claim").problems == []
    press(decider, "Volledig toekennen")
    assert "Toegekend" in decider.locator(".vw-facts").first.inner_text()
    # The process diagram, drawn from the machine, marks where the claim is and the way it
    # came; the page says both in words beside it.
    diagram = decider.get_by_role("img", name=re.compile("^Schema van het aanvraagproces"))
    assert diagram.is_visible()
    current = decider.locator(".vw-diagram__current")
    assert current.count() == 1
    assert current.get_attribute("id") == "claim-state-granted"
    assert current.get_attribute("aria-current") == "step"
    assert current.locator("text").text_content() == "Toegekend"
    marked = decider.locator(".vw-diagram__path")
    assert {marked.nth(i).get_attribute("id") for i in range(marked.count())} == {
        "claim-edge-draft-submit-submitted",
        "claim-edge-submitted-start_assessment-in_assessment",
        "claim-edge-in_assessment-request_info-awaiting_info",
        "claim-edge-awaiting_info-provide_info-in_assessment",
        "claim-edge-in_assessment-request_advice-awaiting_advice",
        "claim-edge-awaiting_advice-record_advice-in_assessment",
        "claim-edge-in_assessment-propose_decision-decision_proposed",
        "claim-edge-decision_proposed-grant-granted",
    }
    assert decider.locator("#process-statement").inner_text() == (
        "Huidige status: Toegekend. De weg tot nu toe: Concept → Ingediend → In behandeling"
        " → Wacht op informatie → In behandeling → Wacht op advies → In behandeling → Besluit"
        " voorgesteld → Toegekend."
    )
    assert look(decider, "walk/19-decider-granted").problems == []

    # --- a decided claim is found again through the search ---------------------------------
    assessor.goto("/claims/search")
    assessor.select_option("#state", "granted")
    press(assessor, "Zoeken")
    assert "state=granted" in assessor.url  # the filters are kept in the address
    found = assessor.locator("#search-caption ~ tbody a")
    assert [found.nth(i).get_attribute("href") for i in range(found.count())] == [claim_path]
    assert look(assessor, "walk/19b-assessor-search").problems == []

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
    assert look(assessor, "walk/20-assessor-invoice").problems == []
    press(assessor, "De factuur vastleggen")
    assert "De factuur is vastgelegd; financiën controleert haar." in assessor.content()
    assert look(assessor, "walk/21-assessor-claim-with-invoice").problems == []

    finance = log_in(world.finance.email)
    finance.goto("/finance/payouts")
    row = finance.locator("tr", has_text="F-2026-118")
    assert row.count() == 1
    assert "1.850,00" in row.inner_text()
    assert look(finance, "walk/22-finance-payouts").problems == []
    # Closing what is left of the grant cannot be undone: a page of its own asks first.
    finance.goto(claim_path)
    press(finance, "Restant afsluiten…")
    assert f"{claim_path}/payouts/close" in finance.url
    assert "kan niet ongedaan" in finance.locator(".utrecht-alert").inner_text()
    assert look(finance, "walk/23-finance-close-confirm").problems == []
    with finance.expect_navigation():
        finance.get_by_role("link", name="Nee, terug naar de aanvraag").click()
    assert finance.url.endswith(claim_path)


def with_submitted_claim(world) -> None:
    world.claim = ClaimFactory(home=world.home, submitted=True)


def test_the_applicant_withdraws_a_submitted_claim_after_confirming(log_in, committed_worlds):
    world = committed_worlds("Gemeente Intrekking", extra=with_submitted_claim)
    claim_path = f"/claims/{world.claim.id}"

    applicant = log_in(world.applicant.email)
    applicant.goto(claim_path)
    assert "Ingediend" in applicant.locator(".vw-facts").first.inner_text()
    assert look(applicant, "withdraw/01-applicant-claim").problems == []
    # The claim page's button does not withdraw: it leads to the confirmation page.
    press(applicant, "De aanvraag intrekken…")
    assert f"{claim_path}/events/withdraw/confirm" in applicant.url
    assert applicant.get_by_role("heading", level=1).inner_text() == "De aanvraag intrekken?"
    warning = applicant.locator(".utrecht-alert").inner_text()
    assert "Wat er gebeurt" in warning
    assert "niet verder behandeld" in warning
    assert look(applicant, "withdraw/02-applicant-confirm").problems == []

    applicant.fill("#reason-withdraw", "De dreiging is voorbij.")
    press(applicant, "De aanvraag intrekken")
    assert applicant.url.endswith(claim_path)
    assert "Ingetrokken" in applicant.locator(".vw-facts").first.inner_text()
    assert applicant.get_by_role("button", name="De aanvraag intrekken…").count() == 0
    assert look(applicant, "withdraw/03-applicant-withdrawn").problems == []
