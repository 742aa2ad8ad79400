"""An objection through the browser: the applicant lodges one against a partial grant, the
decider decides it; each makes a mistake on purpose and keeps what they typed."""

from __future__ import annotations

from tests.browser.conftest import look, press
from tests.builders.objections import partially_granted


def with_partial_grant(world) -> None:
    world.claim = partially_granted(world)


def test_an_objection_is_lodged_refused_once_and_decided(log_in, committed_worlds):
    world = committed_worlds("Gemeente Bezwaar", extra=with_partial_grant)
    claim_path = f"/claims/{world.claim.id}"

    applicant = log_in(world.applicant.email)
    applicant.goto(claim_path)
    # After the decision the page shows it and where it stands, not a running clock.
    facts = applicant.locator(".vw-facts").first.inner_text()
    assert "Besloten op" in facts and "Bezwaar mogelijk tot en met" in facts
    # A mistake on purpose: no grounds. Refused at the field, with the summary's link.
    press(applicant, "Bezwaar maken")
    grounds = applicant.locator("#objection-grounds")
    assert grounds.get_attribute("aria-invalid") == "true"
    assert "verplicht" in applicant.locator("#objection-grounds-error").inner_text()
    summary = applicant.locator("#form-errors a[href='#objection-grounds']")
    assert summary.count() == 1
    assert look(applicant, "objection/01-applicant-grounds-missing").problems == []
    applicant.fill("#objection-grounds", "De brievenbus staat in het advies.")
    press(applicant, "Bezwaar maken")
    assert "Uw bezwaar is ontvangen." in applicant.content()
    objection = applicant.locator("#objections article").first
    assert "Ingediend" in objection.inner_text()
    assert look(applicant, "objection/02-applicant-lodged").problems == []

    decider = log_in(world.decider.email)
    decider.goto("/claims/decisions")
    assert decider.locator("a", has_text=world.claim.number).count() >= 1
    decider.goto(claim_path)
    # A mistake on purpose: an outcome without reasons. The outcome chosen stays chosen.
    decider.locator("input[name=outcome][value=rejected]").check()
    press(decider, "Beslissen op het bezwaar")
    reasons = decider.locator("textarea[name=reasons]")
    assert reasons.get_attribute("aria-invalid") == "true"
    assert decider.locator("input[name=outcome][value=rejected]").is_checked()
    assert look(decider, "objection/03-decider-reasons-missing").problems == []
    reasons.fill("De brievenbus is niet in het advies genoemd.")
    press(decider, "Beslissen op het bezwaar")
    assert "Op het bezwaar is beslist" in decider.content()
    assert "Ongegrond" in decider.locator("#objections article").first.inner_text()
    assert look(decider, "objection/04-decider-decided").problems == []
